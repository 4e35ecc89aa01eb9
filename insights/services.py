"""Writes on insights: keyword-only, typed, atomic."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime

from auditlog.context import disable_auditlog
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts import access
from insights.alerts import Alert
from insights.models import HealthInsight
from insights.rules import Recommendation

User = get_user_model()
Kind = HealthInsight.Kind


def _jsonable(value):
    """`value` as it reads back from a JSONField (tuples become lists)."""
    return json.loads(json.dumps(value))


def _content(
    *, insight_type, severity, rank, score, title, message, actions, related_metric, data
) -> tuple:
    return (
        insight_type,
        severity,
        rank,
        None if score is None else round(score, 3),
        title,
        message,
        _jsonable(list(actions)),
        related_metric,
        _jsonable(data),
    )


def _row_content(row: HealthInsight) -> tuple:
    return _content(
        insight_type=row.insight_type,
        severity=row.severity,
        rank=row.rank,
        score=row.score,
        title=row.title,
        message=row.message,
        actions=row.actions,
        related_metric=row.related_metric,
        data=row.data,
    )


def _recommendation_content(rec: Recommendation, rank: int) -> tuple:
    return _content(
        insight_type=rec.type,
        severity=rec.severity,
        rank=rank,
        score=rec.score,
        title=rec.title,
        message=rec.reasoning,
        actions=rec.actions,
        related_metric=rec.related_metric,
        data=rec.data,
    )


@transaction.atomic
def insights_replace_generated(
    *, user_id: int, recommendations: Sequence[Recommendation], generated_at: datetime
) -> list[HealthInsight]:
    """Make `recommendations` (best first; ranks 1..n by position) the user's current
    generated set, in one transaction.

    - Same content as the current set: nothing is written (the rows, their ids and their read
      and acknowledged flags stay), so running twice with the same input is a no-op.
    - Otherwise the current unacknowledged rows are deleted, the acknowledged ones are kept as
      history (`superseded_at = generated_at`), and the new set is created with one new
      `generation` id and `created_at = generated_at`. A recommendation whose type and message
      are unchanged keeps its `is_read` flag.

    Generated rows are derived data (recomputable from the audited measurements), so their
    churn is not written to the audit log; people's actions on them (`insight_mark`) are.
    Returns the current set, rank 1 first.
    """
    # Serialise concurrent recomputations for the same user (a row lock on PostgreSQL; SQLite
    # transactions are already exclusive here).
    list(User.objects.select_for_update().filter(pk=user_id).values_list("pk", flat=True))
    current = list(
        HealthInsight.objects.for_user(user_id).recommendations().current().order_by("rank", "id")
    )
    wanted = [_recommendation_content(rec, rank) for rank, rec in enumerate(recommendations, 1)]
    if [_row_content(row) for row in current] == wanted:
        return current

    read_before = {
        (row.insight_type, row.message)
        for row in current
        if row.is_read and row.acknowledged_at is None
    }
    with disable_auditlog():
        HealthInsight.objects.filter(
            pk__in=[row.pk for row in current if row.acknowledged_at is not None]
        ).update(superseded_at=generated_at)
        HealthInsight.objects.filter(
            pk__in=[row.pk for row in current if row.acknowledged_at is None]
        ).delete()
        generation = uuid.uuid4()
        rows = [
            HealthInsight(
                user_id=user_id,
                kind=Kind.RECOMMENDATION,
                insight_type=rec.type,
                severity=rec.severity,
                rank=rank,
                score=round(rec.score, 3),
                title=rec.title,
                message=rec.reasoning,
                actions=_jsonable(list(rec.actions)),
                related_metric=rec.related_metric,
                data=_jsonable(rec.data),
                is_read=(rec.type, rec.reasoning) in read_before,
                generation=generation,
                created_at=generated_at,
            )
            for rank, rec in enumerate(recommendations, 1)
        ]
        HealthInsight.objects.bulk_create(rows)
    return rows


@transaction.atomic
def alert_record(*, user_id: int, alert: Alert) -> tuple[HealthInsight, bool]:
    """Store `alert` for the user unless the same alert (type + dedupe key: the same reading
    or 7-day window) is already stored. Returns (the row, whether it was created)."""
    return HealthInsight.objects.get_or_create(
        user_id=user_id,
        kind=Kind.ALERT,
        insight_type=alert.type,
        dedupe_key=alert.dedupe_key,
        defaults={
            "severity": alert.severity,
            "title": alert.title,
            "message": alert.message,
            "related_metric": alert.related_metric,
            "data": _jsonable(
                {
                    **alert.data,
                    "recorded_at": alert.recorded_at.isoformat() if alert.recorded_at else None,
                }
            ),
        },
    )


@transaction.atomic
def insight_mark(
    *, insight: HealthInsight, read: bool | None = None, acknowledged: bool | None = None
) -> HealthInsight:
    """Set the read and acknowledged flags (None leaves one as it is). Acknowledging also marks
    read unless `read` says otherwise; the first acknowledgement's time is kept."""
    if acknowledged is True and read is None:
        read = True
    fields: list[str] = []
    if read is not None and insight.is_read != read:
        insight.is_read = read
        fields.append("is_read")
    if acknowledged is True and insight.acknowledged_at is None:
        insight.acknowledged_at = timezone.now()
        fields.append("acknowledged_at")
    elif acknowledged is False and insight.acknowledged_at is not None:
        insight.acknowledged_at = None
        fields.append("acknowledged_at")
    if fields:
        insight.save(update_fields=fields)
    return insight


@transaction.atomic
def alerts_mark_reviewed(*, alerts: QuerySet[HealthInsight], reviewer) -> int:
    """Record `reviewer` and now on every unreviewed alert of `alerts`; returns how many."""
    now = timezone.now()
    count = 0
    rows = HealthInsight.objects.filter(
        pk__in=alerts.values("pk"), kind=Kind.ALERT, reviewed_at__isnull=True
    ).select_for_update()
    for alert in rows:
        alert.reviewed_by = reviewer
        alert.reviewed_at = now
        alert.save(update_fields=["reviewed_by", "reviewed_at"])
        count += 1
    return count


@transaction.atomic
def clinician_note_create(
    *,
    author,
    patient,
    title: str,
    message: str,
    severity: str = HealthInsight.Severity.LOW,
    related_metric: str = "",
) -> HealthInsight:
    """A clinician's note for a patient in their care (as `accounts.access` decides)."""
    if getattr(author, "role", None) != User.Role.CLINICIAN:
        raise PermissionDenied("Only clinicians may create insights.")
    if author.pk == patient.pk:
        raise ValidationError({"user_id": ["Choose a patient in your care, not yourself."]})
    if not access.can_read(author, patient.pk):
        raise PermissionDenied("This patient is not in your care.")
    note = HealthInsight(
        user=patient,
        kind=Kind.CLINICIAN_NOTE,
        insight_type=Kind.CLINICIAN_NOTE.value,
        severity=severity,
        title=title,
        message=message,
        related_metric=related_metric,
        author=author,
    )
    note.full_clean(exclude=["user", "author", "reviewed_by"])
    note.save()
    return note
