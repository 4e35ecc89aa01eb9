"""Care-program daily logs: the payload schema of each log type, the points a log moves its
day's adherence by, and the writes (create, verify, reject).

Payload schema per `log_type` (`validation.clean_payload`; unknown keys refused; numbers
bounded)::

    NUTRITION   description (text) and/or calories; protein_g, meal_type optional
    WORKOUT     duration_minutes, or sets and reps; activity optional
    MEDICATION  name, taken (true/false); dose optional
    SYMPTOM     symptom, severity (0-10); notes optional
    VITALS      metric_type (a vitals type of metrics.registry), value within its bounds

Points (signed whole numbers, with the reason returned as `adherence_impact`):
- WORKOUT: +5 when the duration meets the program's `activity.exercise_minutes.min` (30 without
  one), or sets/reps on a program with a strength target; +2 otherwise;
- NUTRITION: -5 for a meal that alone passes the program's daily calorie maximum, else +2;
- MEDICATION: +5 taken, -5 missed; SYMPTOM: 0; VITALS: +1;
- a log that repeats a reading or meal already stored (same value within
  `DUPLICATE_WINDOW` of its time) is linked to it and scores 0: that data already counts.

Status: VERIFIED for data from a device (`device_id`) or from a care-team clinician, PENDING for
self-report until a family manager or a care-team clinician verifies or rejects it. The points
of every log count from the moment it is written; rejecting a log takes them back.
Each change to the day's sum is one `F()` update on `ProgramLogDay` in the writer's transaction:
concurrent logs add up, none is lost."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from accounts import access
from goals.care_programs.models import CareProgram, ProgramLog, ProgramLogDay
from goals.care_programs.validation import (
    clean_log_timestamp,
    clean_payload,
    clean_reject_note,
    clean_review_note,
)
from healthtrack.core import days as calendar
from metrics.models import Device, HealthMetric
from nutrition.models import NutritionLog

DUPLICATE_WINDOW = timedelta(minutes=5)
DEFAULT_WORKOUT_MINUTES = 30


def _duplicate(program: CareProgram, log_type: str, payload: dict, when: datetime):
    """(metric, meal) already stored that this log repeats, else (None, None)."""
    near = {"gte": when - DUPLICATE_WINDOW, "lte": when + DUPLICATE_WINDOW}
    if log_type == "NUTRITION" and "calories" in payload:
        meal = (
            NutritionLog.objects.for_user(program.user_id)
            .filter(calories=payload["calories"], logged_at__range=(near["gte"], near["lte"]))
            .order_by("pk")
            .first()
        )
        return None, meal
    metric_type, value = None, None
    if log_type == "VITALS":
        metric_type, value = payload["metric_type"], payload["value"]
    elif log_type == "WORKOUT" and "duration_minutes" in payload:
        metric_type, value = "exercise", payload["duration_minutes"]
    if metric_type is None:
        return None, None
    metric = (
        HealthMetric.objects.for_user(program.user_id)
        .filter(
            metric_type=metric_type,
            value=value,
            recorded_at__range=(near["gte"], near["lte"]),
        )
        .order_by("pk")
        .first()
    )
    return metric, None


def score_log(program: CareProgram, log_type: str, payload: dict) -> tuple[int, str]:
    """(signed points, reason) for a log that is not a duplicate."""
    config = program.config or {}
    if log_type == "WORKOUT":
        if "duration_minutes" in payload:
            target = (
                config.get("activity", {}).get("exercise_minutes", {}).get("min")
                or DEFAULT_WORKOUT_MINUTES
            )
            if payload["duration_minutes"] >= target:
                return 5, "workout target met"
            return 2, f"workout logged, under the {target:g}-minute target"
        if "strength" in config:
            return 5, "strength session logged"
        return 2, "workout logged"
    if log_type == "NUTRITION":
        most = config.get("nutrition", {}).get("calories", {}).get("max")
        if most is not None and payload.get("calories", 0) > most:
            return -5, "meal alone is over the daily calorie maximum"
        return 2, "meal logged"
    if log_type == "MEDICATION":
        return (5, "medication taken") if payload["taken"] else (-5, "medication missed")
    if log_type == "VITALS":
        return 1, "vitals recorded"
    return 0, "symptom recorded"


def _add_points(program_id: int, day: date, points: int) -> None:
    """The day's log points moved by `points` in one `F()` update (the row made first if it is
    missing; a concurrent maker is ignored, not an error)."""
    if points == 0:
        return
    ProgramLogDay.objects.bulk_create(
        [ProgramLogDay(program_id=program_id, day=day, points=0)], ignore_conflicts=True
    )
    ProgramLogDay.objects.filter(program_id=program_id, day=day).update(points=F("points") + points)


# --- access ------------------------------------------------------------------------------------


def can_log(viewer, owner_id) -> bool:
    """The person, their family managers, and their care-team clinicians may log."""
    return access.can_write_care_plan(viewer, owner_id)


def can_review(viewer, owner_id) -> bool:
    """A family manager or a care-team clinician verifies or rejects (never the person)."""
    return access.family_role(viewer, owner_id) == "manager" or access.in_care_team(
        viewer, owner_id
    )


def readable_logs(viewer):
    return access.readable(ProgramLog.objects.all(), viewer, owner_field="program__user")


def review_queue(viewer):
    """Pending logs `viewer` may verify: of members they manage, or care-team patients (the
    people whose care plans they may change, themself excluded). One query."""
    logs = access.care_plan_writable(ProgramLog.objects.pending(), viewer, "program__user")
    return (
        logs.exclude(program__user_id=viewer.pk)
        .select_related("program", "program__user")
        .order_by("logged_at", "id")
    )


# --- writes ------------------------------------------------------------------------------------


@transaction.atomic
def program_log_create(
    *,
    program: CareProgram,
    author,
    log_type: str,
    payload: Any,
    timestamp: datetime,
    device_id: int | None = None,
) -> ProgramLog:
    """A log for `program` (the caller checked `can_log`), its points added to the day."""
    cleaned = clean_payload(log_type, payload)
    clean_log_timestamp(timestamp)
    day = calendar.day_of(timestamp, program.user_id)  # the owner's local day
    if not program.start_date <= day <= program.end_date:
        raise ValidationError(
            {
                "timestamp": [
                    f"Must be within the program ({program.start_date}–{program.end_date})."
                ]
            }
        )
    if device_id is not None:
        if not Device.objects.filter(pk=device_id, user_id=program.user_id).exists():
            raise ValidationError({"device_id": ["No such device of this person."]})
        source = ProgramLog.Source.DEVICE
    elif author.pk != program.user_id and access.in_care_team(author, program.user_id):
        source = ProgramLog.Source.CLINICIAN
    else:
        source = ProgramLog.Source.SELF_REPORT
    metric, meal = _duplicate(program, log_type, cleaned, timestamp)
    if metric is not None:
        points, reason = 0, f"already counted as reading #{metric.pk}"
    elif meal is not None:
        points, reason = 0, f"already counted as meal #{meal.pk}"
    else:
        points, reason = score_log(program, log_type, cleaned)
    verified = source != ProgramLog.Source.SELF_REPORT
    log = ProgramLog.objects.create(
        program=program,
        log_type=log_type,
        payload_json=json.dumps(cleaned, sort_keys=True),
        logged_at=timestamp,
        day=day,
        source=source,
        status=ProgramLog.Status.VERIFIED if verified else ProgramLog.Status.PENDING,
        points=points,
        reason=reason,
        linked_metric=metric,
        linked_meal=meal,
        created_by=author,
    )
    _add_points(program.pk, day, points)
    return log


def _review(log: ProgramLog, reviewer, status: str, note: str) -> ProgramLog:
    log = ProgramLog.objects.select_for_update().get(pk=log.pk)
    if log.status != ProgramLog.Status.PENDING:
        raise ValidationError({"status": [f"This log is already {log.status.lower()}."]})
    clean_review_note(note)
    log.status = status
    log.reviewed_by = reviewer
    log.reviewed_at = timezone.now()
    log.review_note = (note or "").strip()
    log.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
    return log


@transaction.atomic
def program_log_verify(*, log: ProgramLog, reviewer, note: str = "") -> ProgramLog:
    return _review(log, reviewer, ProgramLog.Status.VERIFIED, note)


@transaction.atomic
def program_log_reject(*, log: ProgramLog, reviewer, note: str = "") -> ProgramLog:
    """Rejected: its points leave the day's sum."""
    clean_reject_note(note)
    log = _review(log, reviewer, ProgramLog.Status.REJECTED, note)
    _add_points(log.program_id, log.day, -log.points)
    return log


# --- reads -------------------------------------------------------------------------------------


def day_points(program_id: int, first: date, last: date) -> dict[date, int]:
    rows = ProgramLogDay.objects.filter(program_id=program_id, day__gte=first, day__lte=last)
    return {row.day: row.points for row in rows if row.points}


def with_log_points(days: list[dict], program_id: int) -> list[dict]:
    """Adherence days (`adherence_between` rows) with the day's log points added to the score
    (kept within 0-100) and shown in the breakdown as `logs`."""
    if not days:
        return days
    points = day_points(program_id, days[0]["date"], days[-1]["date"])
    for row in days:
        extra = points.get(row["date"])
        if not extra:
            continue
        row["score"] = max(0, min(100, (row["score"] or 0) + extra))
        row["breakdown"] = {**(row["breakdown"] or {}), "logs": {"points": extra}}
    return days


def today_scores_with_points(scores: dict[int, int], programs_, day: date) -> dict[int, int]:
    """Program id -> the day's score with its log points added (one query)."""
    rows = ProgramLogDay.objects.filter(program__in=programs_, day=day).exclude(points=0)
    out = dict(scores)
    for program_id, points in rows.values_list("program_id", "points"):
        out[program_id] = max(0, min(100, out.get(program_id, 0) + points))
    return out


def points_total(program_id: int, day: date) -> int:
    """The day's log points from the logs themselves (a check of `ProgramLogDay`)."""
    total = (
        ProgramLog.objects.filter(program_id=program_id, day=day)
        .exclude(status=ProgramLog.Status.REJECTED)
        .aggregate(total=Sum("points"))["total"]
    )
    return total or 0


def history_item(log: dict) -> dict:
    return {
        "kind": "log",
        "id": log["id"],
        "at": log["logged_at"],
        "log_type": log["log_type"],
        "status": log["status"],
        "adherence_impact": {"points": log["points"], "reason": log["reason"]},
        "linked_metric": log["linked_metric_id"],
        "linked_meal": log["linked_meal_id"],
    }


def history_logs(program: CareProgram, before_q, limit: int) -> list[tuple]:
    """(time, "log", id, item) for `program_history`, newest first, up to `limit + 1`."""
    rows = (
        ProgramLog.objects.filter(program=program)
        .filter(before_q)
        .order_by("-logged_at", "-id")
        .values(
            "id",
            "logged_at",
            "log_type",
            "status",
            "points",
            "reason",
            "linked_metric_id",
            "linked_meal_id",
        )[: limit + 1]
    )
    return [(r["logged_at"], "log", r["id"], history_item(r)) for r in rows]


STATUS_BADGES = {"PENDING": "badge-neutral", "VERIFIED": "badge-ok", "REJECTED": "badge-alert"}
CARD_LOGS = 5


def recent_logs(program: CareProgram, count: int = CARD_LOGS) -> list[tuple[str, str, str, str]]:
    """The program card's lines: (when, what, status label, badge class), newest first."""
    rows = ProgramLog.objects.filter(program=program).order_by("-logged_at", "-id")[:count]
    return [
        (
            f"{log.logged_at:%-d %b %H:%M}",
            f"{log.get_log_type_display()}: {log.reason} ({log.points:+d})",
            log.get_status_display(),
            STATUS_BADGES[log.status],
        )
        for log in rows
    ]
