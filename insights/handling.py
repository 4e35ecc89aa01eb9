"""Alerts that get handled: acknowledge, snooze (until a time), resolve or escalate, each with
a note, each written as an `AlertAction` row (who, when, what, note) in the same transaction.

Who may handle an alert is decided by `accounts.access`: superusers, and the admin clinicians
caring for the patient. Escalation names another clinician of the patient's care team.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts import access
from accounts.models import CareTeam, User
from insights.models import AlertAction, HealthInsight
from insights.validation import NOTE_MAX_LENGTH as NOTE_MAX_LENGTH  # the page's form reads it
from insights.validation import (
    clean_alert_action,
    clean_alert_note,
    clean_snooze_until,
)

Action = AlertAction.Action
Status = HealthInsight.AlertStatus


def escalation_candidates(patient_id: int, actor) -> QuerySet[User]:
    """The other active clinicians in an active care team with the patient."""
    ids = CareTeam.objects.active().filter(patient_id=patient_id).values("clinician_id")
    return (
        User.objects.active()
        .filter(pk__in=ids, role=User.Role.CLINICIAN)
        .exclude(pk=getattr(actor, "pk", None))
        .order_by("last_name", "username")
    )


def is_overdue(alert: HealthInsight, now: datetime | None = None) -> bool:
    """Still waiting for someone past ALERT_ACK_OVERDUE_HOURS after it was raised."""
    now = now or timezone.now()
    waiting = alert.alert_status == Status.OPEN or (
        alert.alert_status == Status.SNOOZED
        and alert.snoozed_until is not None
        and alert.snoozed_until <= now
    )
    return waiting and alert.created_at <= now - timedelta(hours=settings.ALERT_ACK_OVERDUE_HOURS)


@transaction.atomic
def alert_handle(
    *,
    alert: HealthInsight,
    actor: User,
    action: str,
    note: str = "",
    snooze_until: datetime | None = None,
    escalate_to: User | None = None,
    now: datetime | None = None,
) -> AlertAction:
    """Record `actor`'s decision on `alert` and move the alert to its new status.

    Raises PermissionDenied when `actor` may not see the patient, ValidationError (by field)
    for a bad action, note, snooze time or escalation target, or an alert already resolved."""
    now = now or timezone.now()
    if not access.admin_can_read(actor, alert.user_id):
        raise PermissionDenied("This patient is not in your care.")
    alert = HealthInsight.objects.select_for_update().get(pk=alert.pk)
    if alert.kind != HealthInsight.Kind.ALERT:
        raise ValidationError({"action": ["Only alerts are handled."]})
    clean_alert_action(action)
    if alert.alert_status == Status.RESOLVED:
        raise ValidationError({"action": ["This alert is already resolved."]})
    note = clean_alert_note(action, note)

    fields = ["alert_status"]
    record = AlertAction(
        alert=alert, actor=actor, actor_label=actor.get_username(), action=action, note=note, at=now
    )
    if action == Action.SNOOZE:
        clean_snooze_until(snooze_until, now=now)
        alert.alert_status = Status.SNOOZED
        alert.snoozed_until = record.snoozed_until = snooze_until
        fields.append("snoozed_until")
    elif action == Action.ESCALATE:
        allowed = escalation_candidates(alert.user_id, actor)
        if escalate_to is None or not allowed.filter(pk=escalate_to.pk).exists():
            raise ValidationError(
                {"escalate_to": ["Choose another clinician of this patient's care team."]}
            )
        # Handed on: open again (a snooze ends) and waiting for the clinician named.
        alert.alert_status = Status.OPEN
        alert.assigned_to = record.escalated_to = escalate_to
        alert.snoozed_until = None
        fields += ["assigned_to", "snoozed_until"]
    else:
        done = action == Action.ACKNOWLEDGE
        alert.alert_status = Status.ACKNOWLEDGED if done else Status.RESOLVED
        alert.snoozed_until = None
        fields.append("snoozed_until")
        if alert.reviewed_at is None:
            alert.reviewed_at, alert.reviewed_by = now, actor
            fields += ["reviewed_at", "reviewed_by"]
    alert.save(update_fields=fields)
    record.save()
    return record
