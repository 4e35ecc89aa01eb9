"""Reads for the insights app: the per-user snapshot, the readings an alert looks at, and who
is due a nightly recomputation. Period figures come from the rollups (never a scan of raw
measurements); only the alert check reads raw rows, and only the span a write touched."""

from __future__ import annotations

import importlib.util
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from insights import alerts
from insights.rules import thresholds
from insights.snapshot import (
    BP_DIASTOLIC,
    BP_SYSTOLIC,
    RESTING_HEART_RATE,
    SLEEP,
    STEPS,
    WEIGHT,
    Snapshot,
)
from metrics.models import DailyRollup, HealthMetric
from nutrition.models import NutritionLog
from nutrition.targets import daily_targets

#: The metric types the recommendation rules read (nothing else is loaded).
SNAPSHOT_METRIC_TYPES = (STEPS, SLEEP, RESTING_HEART_RATE, WEIGHT)
#: Nutrition totals the snapshot keeps per day.
NUTRITION_FIELDS = ("calories", "protein_g", "carbs_g", "fat_g", "fiber_g", "sugar_g", "water_ml")
#: The activity-change rule compares the last 7 days with the 28 before them.
ACTIVITY_WINDOW_DAYS = 35
ALERT_AVERAGE_DAYS = 7


def utc_today() -> date:
    return timezone.now().astimezone(UTC).date()


def reach_days(days: int) -> int:
    """How many days before `today` any rule looks at, for a main window of `days`."""
    return max(days, ACTIVITY_WINDOW_DAYS, int(thresholds()["rhr_trend_window_days"]))


def active_weight_goal(user_id: int) -> dict | None:
    """The user's active weight goal from the goals app (None until that app provides
    `goals.selectors.active_weight_goal`)."""
    if importlib.util.find_spec("goals.selectors") is None:
        return None
    from goals.selectors import active_weight_goal as goal_of

    return goal_of(user_id)


def build_snapshot(*, user, days: int = 30, today: date | None = None) -> Snapshot:
    """`user`'s snapshot for the rules, from the daily rollups (one query for every type) and
    the daily nutrition totals (one query), plus their profile and targets.

    `daily` covers the `reach_days(days)` days before `today` (at least 35, as the activity
    rule needs) and `today` itself, which no rule counts (it is in progress) but which tells
    `stable_until` that data is arriving. The weight for the targets is the latest one in that
    span, else the newest daily weight rollup (one indexed row)."""
    today = today or utc_today()
    first = today - timedelta(days=reach_days(days))

    daily: dict[str, dict[date, float]] = {}
    rows = (
        DailyRollup.objects.filter(
            user_id=user.pk,
            metric_type__in=SNAPSHOT_METRIC_TYPES,
            day__gte=first,
            day__lte=today,
        )
        .order_by()
        .values_list("metric_type", "day", "value")
    )
    for code, day, value in rows:
        daily.setdefault(code, {})[day] = value

    nutrition_daily: dict[date, dict[str, float]] = {}
    for row in NutritionLog.objects.for_user(user).on_days(first, today).daily_totals():
        nutrition_daily[row["day"]] = {
            name: float(row[name]) for name in NUTRITION_FIELDS if row.get(name) is not None
        }

    weights = {day: value for day, value in daily.get(WEIGHT, {}).items() if day <= today}
    if weights:
        weight = weights[max(weights)]
    else:
        weight = (
            DailyRollup.objects.filter(user_id=user.pk, metric_type=WEIGHT, day__lte=today)
            .order_by("-day")
            .values_list("value", flat=True)
            .first()
        )
    targets = daily_targets(user=user, weight_kg=weight, on=today)
    return Snapshot(
        user_id=user.pk,
        today=today,
        days=days,
        age=user.age_on(today),
        sex=user.sex or "unspecified",
        height_cm=user.height_cm,
        daily=daily,
        nutrition_daily=nutrition_daily,
        targets={
            name: targets[name]
            for name in ("calories", "protein_g", "water_ml")
            if targets.get(name) is not None
        },
        weight_goal=active_weight_goal(user.pk),
    )


def stable_until(snapshot: Snapshot) -> date | None:
    """The first day on which the same stored data could give a different result, or None if
    it never can (until new data arrives).

    Every rule reads windows ending yesterday, at most `reach_days` long. While any data day is
    within that reach (today's data included: it is counted from tomorrow), tomorrow's windows
    differ from today's; once all data is older than the reach, every window is empty for good.
    """
    first = snapshot.today - timedelta(days=reach_days(snapshot.days))
    days = {day for values in snapshot.daily.values() for day in values}
    days.update(snapshot.nutrition_daily)
    if any(day >= first for day in days):
        return snapshot.today + timedelta(days=1)
    return None


def alert_readings(*, user_id: int, start: datetime, end: datetime) -> list[alerts.Reading]:
    """Readings of the alert types recorded in [start, end] (both inclusive), oldest first.
    Every alert type is read (not only the written one) so that a systolic and a diastolic
    written separately still pair up on their shared instant."""
    rows = (
        HealthMetric.objects.for_user(user_id)
        .of_type(*sorted(alerts.ALERT_METRIC_TYPES))
        .between(start, end + timedelta(microseconds=1))
        .order_by("recorded_at", "id")
        .values_list("metric_type", "recorded_at", "value")
    )
    return [alerts.Reading(code, at, float(value)) for code, at, value in rows]


def blood_pressure_averages(*, user_id: int, last_day: date) -> dict[str, alerts.WindowAverage]:
    """Systolic and diastolic averages over the 7 days ending on `last_day`, from the daily
    rollups (each day's average weighted by its number of readings)."""
    rows = DailyRollup.objects.filter(
        user_id=user_id,
        metric_type__in=(BP_SYSTOLIC, BP_DIASTOLIC),
        day__gte=last_day - timedelta(days=ALERT_AVERAGE_DAYS - 1),
        day__lte=last_day,
    ).values_list("metric_type", "value", "count")
    sums: dict[str, list[float]] = {}
    for code, value, count in rows:
        total = sums.setdefault(code, [0.0, 0])
        total[0] += value * count
        total[1] += count
    return {
        code: alerts.WindowAverage(code, total / count, count, last_day)
        for code, (total, count) in sums.items()
        if count
    }


def users_due_for_recommendations(*, today: date | None = None) -> QuerySet:
    """Ids of active users whose stored recommendations may be out of date on `today`: never
    computed, an input changed since the last computation, or a window slid over their data
    (`valid_until` reached). Everyone else is skipped without being loaded."""
    today = today or utc_today()
    state = "recommendation_state"
    return (
        get_user_model()
        .objects.filter(is_active=True, deleted_at__isnull=True)
        .filter(
            Q(**{f"{state}__isnull": True})
            | Q(**{f"{state}__computed_at__isnull": True})
            | Q(**{f"{state}__data_changed_at__gt": F(f"{state}__computed_at")})
            | Q(**{f"{state}__valid_until__lte": today})
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def default_days() -> int:
    return int(getattr(settings, "RECOMMENDATIONS_DEFAULT_DAYS", 30))
