"""Care programs: a plan with daily targets per dimension, and one adherence score per day.

Configuration (JSON, validated by `validation.clean_program_config`; every part optional, at
least one target)::

    {
      "nutrition": {"calories": {"min": 1600, "max": 2000}, "protein_g": {"min": 90}},
      "activity": {"steps": {"min": 8000}, "exercise_minutes": {"min": 30}},
      "strength": {"sessions_per_week": 3},
      "sleep": {"minutes": {"min": 420, "max": 540}}
    }

Scoring one day (`score_day`), each target 0-100:
- a range target: 100 inside [min, max]; under `min`: value / min x 100; over `max`:
  100 - (value - max) / max x 100 (not below 0);
- strength: sessions (`exercise` measurements with `metadata.activity == "strength"`) in the
  7 days ending that day (from the program's start) over the weekly target pro-rated to those
  days, capped at 100.
A target without data that day is left out (`"score": null` in the breakdown); the day's score
is the rounded mean of the targets with data. Strength counts only on a day that has some other
data or a session. A day with no data at all has no score (no row), never 0.

Adherence rows are derived: `program_adherence_recompute` locks the program row, reads the
committed data and upserts the days' rows (deleting rows of days that lost their data). Two
writers logging for the same person at once each trigger a recompute after their commit; the
recomputes serialise on the program lock and the later one reads both writes, so no update is
lost, and running one twice changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from goals.care_programs import program_logs
from goals.care_programs.models import CareProgram, ProgramAdherence
from goals.care_programs.validation import (  # the config's catalogue, read by the scoring
    TARGET_KEYS,
    TARGETS,
    clean_program_config,
    clean_program_dates,
    clean_program_status,
    clean_program_title,
)
from healthtrack.core import days as calendar
from metrics.models import HealthMetric
from metrics.nights import nights
from metrics.series import daily_series
from nutrition.models import NutritionLog

MAX_ACTIVE_PROGRAMS = 10
STRENGTH_ACTIVITY = "strength"


#: Metric types whose changes move adherence (the signal receivers filter on these).
METRIC_CODES = frozenset({t.code for t in TARGETS if t.source == "metric"} | {"exercise"})


# --- scoring -----------------------------------------------------------------------------------


def range_score(value: float, *, lo: float | None, hi: float | None) -> float:
    if lo and value < lo:
        return 100.0 * value / lo
    if hi is not None and value > hi:
        return max(0.0, 100.0 * (1 - (value - hi) / hi))
    return 100.0


def score_day(
    config: dict,
    *,
    values: dict[str, float],
    strength_sessions: int = 0,
    strength_today: bool = False,
    days_in_week: int = 7,
) -> tuple[int, dict] | None:
    """(score, breakdown) for a day's figures (`values`: target key -> value, days with data
    only), or None when the day has no data for any target."""
    breakdown: dict[str, dict] = {}
    scores: list[float] = []
    for dimension, body in config.items():
        if dimension == "strength":
            continue
        for key, bounds in body.items():
            value = values.get(key)
            entry: dict[str, Any] = {**bounds, "value": value, "score": None}
            if value is not None:
                entry["score"] = round(
                    range_score(value, lo=bounds.get("min"), hi=bounds.get("max")), 1
                )
                scores.append(entry["score"])
            breakdown[key] = entry
    if "strength" in config:
        per_week = config["strength"]["sessions_per_week"]
        expected = per_week * days_in_week / 7
        entry = {"sessions_per_week": per_week, "value": strength_sessions, "score": None}
        if scores or strength_today:
            entry["score"] = round(min(100.0, 100.0 * strength_sessions / expected), 1)
            scores.append(entry["score"])
        breakdown["strength_sessions"] = entry
    if not scores:
        return None
    return round(sum(scores) / len(scores)), breakdown


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _strength_q() -> Q:
    return Q(metric_type="exercise", metadata__activity=STRENGTH_ACTIVITY)


def compute_adherence(program: CareProgram, first: date, last: date) -> dict[date, tuple | None]:
    """Day -> (score, breakdown) or None, for first..last (the owner's local days), from
    rollups and nutrition totals."""
    config = program.config
    tz = calendar.zone_of(program.user_id)
    values: dict[date, dict[str, float]] = {day: {} for day in _days(first, last)}
    wanted = [
        TARGET_KEYS[(dimension, key)]
        for dimension, body in config.items()
        if dimension != "strength"
        for key in body
    ]
    for target in wanted:
        if target.code == "sleep":
            # A day's sleep is the night that ended that morning ("last night"), as on the
            # dashboard's sleep card: not the sleep that started that day.
            series = nights(user_id=program.user_id, first=first, last=last, tz=tz)
        elif target.source == "metric":
            series = daily_series(
                user_id=program.user_id, metric_type=target.code, start=first, end=last
            )
        else:
            continue
        for day, value in series.items():
            values[day][target.key] = float(value)
    if any(t.source == "nutrition" for t in wanted):
        totals = NutritionLog.objects.for_user(program.user_id).on_days(first, last).daily_totals()
        for row in totals:
            for target in wanted:
                if target.source == "nutrition" and row[target.code] is not None:
                    values[row["day"]][target.key] = float(row[target.code])
    sessions: dict[date, int] = {}
    if "strength" in config:
        since = max(program.start_date, first - timedelta(days=6))
        rows = (
            HealthMetric.objects.for_user(program.user_id)
            .filter(_strength_q())
            .filter(
                recorded_at__gte=_day_start(since, tz),
                recorded_at__lt=_day_start(last + timedelta(1), tz),
            )
            .annotate(day=TruncDate("recorded_at", tzinfo=tz))
            .values("day")
            .annotate(n=Count("id"))
        )
        sessions = {row["day"]: row["n"] for row in rows}
    result: dict[date, tuple | None] = {}
    for day in values:
        week_start = max(program.start_date, day - timedelta(days=6))
        in_week = sum(n for d, n in sessions.items() if week_start <= d <= day)
        result[day] = score_day(
            config,
            values=values[day],
            strength_sessions=in_week,
            strength_today=sessions.get(day, 0) > 0,
            days_in_week=(day - week_start).days + 1,
        )
    return result


def _day_start(day: date, tz=UTC) -> datetime:
    return calendar.day_start(day, tz)


# --- writes ------------------------------------------------------------------------------------


@transaction.atomic
def program_adherence_recompute(*, program_id: int, days: Iterable[date] | None = None) -> int:
    """Recompute and store the program's adherence for `days` (None: every program day up to
    today). Returns how many days have a score. Idempotent; serialised per program."""
    program = CareProgram.objects.select_for_update().filter(pk=program_id).first()
    if program is None:
        return 0
    last_day = min(program.end_date, calendar.today(program.user_id))
    wanted = sorted(
        {d for d in days if program.start_date <= d <= last_day}
        if days is not None
        else set(_days(program.start_date, last_day))
    )
    if not wanted:
        return 0
    computed = compute_adherence(program, wanted[0], wanted[-1])
    now = timezone.now()
    rows = [
        ProgramAdherence(
            program=program, day=day, score=result[0], breakdown=result[1], computed_at=now
        )
        for day in wanted
        if (result := computed.get(day)) is not None
    ]
    ProgramAdherence.objects.filter(program=program, day__in=wanted).exclude(
        day__in=[r.day for r in rows]
    ).delete()
    if rows:
        ProgramAdherence.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["program", "day"],
            update_fields=["score", "breakdown", "computed_at"],
        )
    return len(rows)


@transaction.atomic
def program_create(
    *,
    user,
    created_by,
    title: str,
    config: dict,
    start_date: date | None = None,
    end_date: date | None = None,
    phase: str = "",
) -> CareProgram:
    """A program for `user` (the caller checked `accounts.access.can_write_care_plan`); its
    adherence is computed at once for the days already past."""
    start_date, end_date = clean_program_dates(start_date, end_date, user)
    clean_program_title(title)
    if CareProgram.objects.for_user(user).active().count() >= MAX_ACTIVE_PROGRAMS:
        raise ValidationError({"detail": [f"At most {MAX_ACTIVE_PROGRAMS} active programs."]})
    program = CareProgram.objects.create(
        user=user,
        created_by=created_by,
        title=title.strip(),
        config=clean_program_config(config),
        start_date=start_date,
        end_date=end_date,
        phase=phase,
    )
    program_adherence_recompute(program_id=program.pk)
    return program


@transaction.atomic
def program_update(*, program: CareProgram, **changes: Any) -> CareProgram:
    """Change title, phase, status, dates or config; scores are recomputed when dates or
    config change (days now outside the program lose their row)."""
    allowed = {"title", "phase", "status", "start_date", "end_date", "config"}
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"Unknown fields: {sorted(unknown)}")
    program = CareProgram.objects.select_for_update().get(pk=program.pk)
    if "config" in changes:
        changes["config"] = clean_program_config(changes["config"])
    if "status" in changes:
        clean_program_status(changes["status"])
    if "start_date" in changes or "end_date" in changes:
        start, end = clean_program_dates(
            changes.get("start_date", program.start_date), changes.get("end_date", program.end_date)
        )
        changes["start_date"], changes["end_date"] = start, end
    if "title" in changes:
        clean_program_title(changes["title"])
    changed = [name for name, value in changes.items() if getattr(program, name) != value]
    for name in changed:
        setattr(program, name, changes[name])
    if changed:
        program.save(update_fields=[*changed, "updated_at"])
    if {"config", "start_date", "end_date"} & set(changed):
        ProgramAdherence.objects.filter(program=program).filter(
            Q(day__lt=program.start_date) | Q(day__gt=program.end_date)
        ).delete()
        program_adherence_recompute(program_id=program.pk)
    return program


@transaction.atomic
def program_delete(*, program: CareProgram) -> None:
    program.delete()


@transaction.atomic
def programs_complete_ended(*, today: date | None = None) -> list[int]:
    """Mark `completed` every active program whose end date has passed (the last day's
    scores are final: it is recomputed once more first). Returns the ids completed; running
    it again completes nothing more. Each change is audited (django-auditlog, no actor)."""
    # A program ends at its owner's local midnight: candidates by the latest date anywhere
    # (UTC+14), then each one against its owner's today.
    latest = today or calendar.today() + timedelta(days=1)
    candidates = list(
        CareProgram.objects.active()
        .filter(end_date__lt=latest)
        .select_for_update(skip_locked=True)
        .order_by("pk")
    )
    zones = dict(
        get_user_model()
        .objects.filter(pk__in={p.user_id for p in candidates})
        .values_list("pk", "time_zone")
    )
    ended = [
        p
        for p in candidates
        if p.end_date < (today or calendar.today(calendar.zone_named(zones.get(p.user_id))))
    ]
    for program in ended:
        program_adherence_recompute(program_id=program.pk, days=[program.end_date])
        program.status = CareProgram.Status.COMPLETED
        program.save(update_fields=["status", "updated_at"])
    return [program.pk for program in ended]


# --- reads -------------------------------------------------------------------------------------


def adherence_between(program: CareProgram, first: date, last: date) -> list[dict]:
    """Every day first..last within the program: score and breakdown, or null without data."""
    first, last = max(first, program.start_date), min(last, program.end_date)
    if first > last:
        return []
    rows = {
        r.day: r
        for r in ProgramAdherence.objects.filter(program=program, day__gte=first, day__lte=last)
    }
    today = calendar.today(program.user_id)
    days = [
        {
            "date": day,
            "score": rows[day].score if day in rows else None,
            "breakdown": rows[day].breakdown if day in rows else None,
            # Today's score is "so far": shown as partial, never as a finished day's.
            "in_progress": day == today,
        }
        for day in _days(first, last)
    ]
    return program_logs.with_log_points(days, program.pk)


def _encode_cursor(when: datetime, kind: str, pk: int) -> str:
    raw = json.dumps([when.isoformat(), kind, pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, kind, pk = json.loads(raw)
        when = datetime.fromisoformat(when)
        if (
            kind not in ("log", "measurement", "nutrition")
            or not isinstance(pk, int)
            or when.tzinfo is None
        ):
            raise ValueError
        return when, kind, pk
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise ValidationError({"cursor": ["Invalid cursor."]}) from None


def _before(time_field: str, kind: str, cursor: tuple[datetime, str, int] | None) -> Q:
    """Rows after the cursor in the order (time desc, kind desc, id desc)."""
    if cursor is None:
        return Q()
    when, ckind, pk = cursor
    if kind < ckind:
        return Q(**{f"{time_field}__lte": when})
    if kind > ckind:
        return Q(**{f"{time_field}__lt": when})
    return Q(**{f"{time_field}__lt": when}) | Q(**{time_field: when, "pk__lt": pk})


def program_history(program: CareProgram, *, cursor: str | None = None, limit: int = 50) -> dict:
    """The logs that counted toward the program (its measurements and diary entries in its
    dates), newest first: `{data, pagination: {next_cursor, has_more}}`."""
    after = _decode_cursor(cursor) if cursor else None
    tz = calendar.zone_of(program.user_id)
    start = _day_start(program.start_date, tz)
    end = _day_start(program.end_date + timedelta(1), tz)
    config = program.config
    codes = {
        TARGET_KEYS[(d, k)].code for d, body in config.items() if d != "strength" for k in body
    }
    metric_codes = codes & METRIC_CODES
    items: list[tuple[datetime, str, int, dict]] = []
    if metric_codes or "strength" in config:
        q = Q(metric_type__in=sorted(metric_codes))
        if "strength" in config:
            q |= _strength_q()
        metrics = (
            HealthMetric.objects.for_user(program.user_id)
            .filter(q, recorded_at__gte=start, recorded_at__lt=end)
            .filter(_before("recorded_at", "measurement", after))
            .order_by("-recorded_at", "-id")
            .values("id", "metric_type", "value", "unit", "recorded_at", "metadata")[: limit + 1]
        )
        for m in metrics:
            items.append(
                (
                    m["recorded_at"],
                    "measurement",
                    m["id"],
                    {
                        "kind": "measurement",
                        "id": m["id"],
                        "at": m["recorded_at"],
                        "metric_type": m["metric_type"],
                        "value": m["value"],
                        "unit": m["unit"],
                        "strength": (m["metadata"] or {}).get("activity") == STRENGTH_ACTIVITY,
                    },
                )
            )
    if "nutrition" in config:
        logs = (
            NutritionLog.objects.for_user(program.user_id)
            .filter(logged_at__gte=start, logged_at__lt=end)
            .filter(_before("logged_at", "nutrition", after))
            .order_by("-logged_at", "-id")
            .values("id", "meal_type", "calories", "protein_g", "logged_at")[: limit + 1]
        )
        for log in logs:
            items.append(
                (
                    log["logged_at"],
                    "nutrition",
                    log["id"],
                    {
                        "kind": "nutrition",
                        "id": log["id"],
                        "at": log["logged_at"],
                        "meal_type": log["meal_type"],
                        "calories": log["calories"],
                        "protein_g": log["protein_g"],
                    },
                )
            )
    items += program_logs.history_logs(program, _before("logged_at", "log", after), limit)
    items.sort(key=lambda item: (item[0], item[1], item[2]), reverse=True)
    page, has_more = items[:limit], len(items) > limit
    next_cursor = _encode_cursor(*page[-1][:3]) if has_more else None
    return {
        "data": [item[3] for item in page],
        "pagination": {"next_cursor": next_cursor, "has_more": has_more},
    }
