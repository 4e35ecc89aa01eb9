"""Builds the per-user snapshot the recommendation rules read (`insights.snapshot`), and says
who is due a nightly recomputation. Period figures come from the daily rollups and the daily
nutrition totals (never a scan of raw measurements)."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections, router
from django.db.models import F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncDate

from goals.models import HealthGoal
from healthtrack.core import days as calendar
from insights.rules import thresholds
from insights.snapshot import (
    RESTING_HEART_RATE,
    SLEEP,
    STEPS,
    WEIGHT,
    Snapshot,
)
from metrics.models import DailyRollup
from nutrition.models import NutritionLog, daily_totals_of
from nutrition.targets import daily_targets, overrides_of

#: The metric types the recommendation rules read (nothing else is loaded).
SNAPSHOT_METRIC_TYPES = (STEPS, SLEEP, RESTING_HEART_RATE, WEIGHT)
#: Nutrition totals the snapshot keeps per day.
NUTRITION_FIELDS = ("calories", "protein_g", "carbs_g", "fat_g", "fiber_g", "sugar_g", "water_ml")
#: The activity-change rule compares the last 7 days with the 28 before them.
ACTIVITY_WINDOW_DAYS = 35


def reach_days(days: int) -> int:
    """How many days before `today` any rule looks at, for a main window of `days`."""
    return max(days, ACTIVITY_WINDOW_DAYS, int(thresholds()["rhr_trend_window_days"]))


def build_snapshot(*, user, days: int = 30, today: date | None = None) -> Snapshot:
    """`user`'s snapshot for the rules, from the daily rollups (one query for every type) and
    the daily nutrition totals (one query), plus their profile and targets.

    `daily` covers the `reach_days(days)` days before `today` (at least 35, as the activity
    rule needs) and `today` itself, which no rule counts (it is in progress) but which tells
    `stable_until` that data is arriving. The weight for the targets is the latest one in that
    span, else the newest daily weight rollup (one indexed row)."""
    return build_snapshots(users=[user], days=days, today=today)[user.pk]


def build_snapshots(*, users, days: int = 30, today: date | None = None) -> dict[int, Snapshot]:
    """`build_snapshot` for many users in a fixed number of queries (the nightly batch): the
    rollups, the nutrition totals, and the older weights of those without one in the span.
    Load the users with `select_related("nutrition_targets")` to spare a query each for their
    own targets.

    Each person's days are their own local days (`healthtrack.core.days`): their `today` (unless
    one is given for all), their window, and their nutrition totals cut at their midnight
    (one nutrition query per distinct zone among `users`)."""
    users = list(users)
    ids = [user.pk for user in users]
    zones = {user.pk: calendar.zone_of(user) for user in users}
    todays = {pk: today or calendar.today(zone) for pk, zone in zones.items()}
    reach = reach_days(days)
    if not users:
        return {}
    first, last = min(todays.values()) - timedelta(days=reach), max(todays.values())

    daily: dict[int, dict[str, dict[date, float]]] = {pk: {} for pk in ids}
    for user_id, code, day, value in _rollup_rows(ids, first, last):
        if todays[user_id] - timedelta(days=reach) <= day <= todays[user_id]:
            daily[user_id].setdefault(code, {})[day] = value

    nutrition: dict[int, dict[date, dict[str, float]]] = {pk: {} for pk in ids}
    by_zone: dict = {}
    for pk, zone in zones.items():
        by_zone.setdefault(zone, []).append(pk)
    for zone, zone_ids in by_zone.items():
        for user_id, day, row in _nutrition_rows(zone_ids, zone, first, last):
            if not todays[user_id] - timedelta(days=reach) <= day <= todays[user_id]:
                continue
            nutrition[user_id][day] = {
                name: float(row[name]) for name in NUTRITION_FIELDS if row[name] is not None
            }

    weights: dict[int, float | None] = {}
    for pk in ids:
        recent = daily[pk].get(WEIGHT)
        weights[pk] = recent[max(recent)] if recent else None
    missing = [pk for pk in ids if weights[pk] is None]
    if missing:
        older = DailyRollup.objects.filter(
            user_id=OuterRef("pk"), metric_type=WEIGHT, day__lte=last
        ).order_by("-day")
        weights.update(
            get_user_model()
            .objects.filter(pk__in=missing)
            .annotate(weight=Subquery(older.values("value")[:1]))
            .values_list("pk", "weight")
        )

    goals = weight_goals(ids)
    # One person (a recommendations miss): their own targets by one plain statement, unless
    # loaded with the user (`select_related("nutrition_targets")`, as the batch loads them).
    overrides = {users[0].pk: overrides_of(users[0])} if len(users) == 1 else {}
    snapshots = {}
    for user in users:
        today = todays[user.pk]
        targets = daily_targets(
            user=user, weight_kg=weights[user.pk], on=today, overrides=overrides.get(user.pk)
        )
        snapshots[user.pk] = Snapshot(
            user_id=user.pk,
            today=today,
            days=days,
            age=user.age_on(today),
            sex=user.sex or "unspecified",
            height_cm=user.height_cm,
            daily=daily[user.pk],
            nutrition_daily=nutrition[user.pk],
            targets={
                name: targets[name]
                for name in ("calories", "protein_g", "water_ml")
                if targets.get(name) is not None
            },
            weight_goal=goals.get(user.pk),
        )
    return snapshots


# The daily rollups the rules read, in plain SQL on PostgreSQL: building this QuerySet and its
# ~150 result rows cost more CPU than the rest of the query (a recommendations miss, issue 15).
_ROLLUPS_SQL = """
SELECT user_id, metric_type, day, value FROM metrics_dailyrollup
WHERE user_id = ANY(%s) AND metric_type = ANY(%s) AND day >= %s AND day <= %s
"""


def _rollup_rows(ids: list[int], first: date, last: date):
    """(user, type, day, value) of `ids`' daily rollups of SNAPSHOT_METRIC_TYPES from
    `first` to `last` (in no order)."""
    using = router.db_for_read(DailyRollup)
    if connections[using].vendor == "postgresql":
        with connections[using].cursor() as cursor:
            cursor.execute(_ROLLUPS_SQL, [ids, list(SNAPSHOT_METRIC_TYPES), first, last])
            return cursor.fetchall()
    return (
        DailyRollup.objects.filter(
            user_id__in=ids,
            metric_type__in=SNAPSHOT_METRIC_TYPES,
            day__gte=first,
            day__lte=last,
        )
        .order_by()
        .values_list("user_id", "metric_type", "day", "value")
    )


GOAL_FIELDS = ("target_value", "direction", "start_date", "target_date")

# One person's weight goal (`weight_goals`): the statement of `for_user().active()
# .measuring([WEIGHT]).by_priority().values(*GOAL_FIELDS).first()` written out (PostgreSQL),
# whose building cost more CPU than the rest of a recommendations miss's snapshot reads (issue
# 15). The order is `HealthGoalQuerySet.by_priority`'s; tests/insights hold the two equal.
_WEIGHT_GOAL_SQL = """
SELECT target_value, direction, start_date, target_date FROM goals_healthgoal
WHERE user_id = %s AND status = %s AND metric_type = %s
ORDER BY CASE WHEN priority = %s THEN 0 WHEN priority = %s THEN 1 ELSE 2 END,
         target_date ASC NULLS LAST, id ASC
LIMIT 1
"""


def _weight_goal_params(user_id: int) -> list:
    return [
        user_id,
        HealthGoal.Status.ACTIVE.value,
        WEIGHT,
        HealthGoal.Priority.HIGH.value,
        HealthGoal.Priority.MEDIUM.value,
    ]


def _nutrition_rows(user_ids: list[int], zone, first: date, last: date):
    """(user, local day, {field: total}) of `user_ids`' diaries (all in `zone`) on the local
    days `first`..`last`. One person: `nutrition.models.daily_totals_of` (the same statement
    written out: a recommendations miss); several: the QuerySet, grouped by user and day."""
    if len(user_ids) == 1:
        for day, row in daily_totals_of(user_ids[0], first, last, zone).items():
            yield user_ids[0], day, row
        return
    logs = NutritionLog.objects.filter(user_id__in=user_ids)
    logs.zone = zone
    totals = (
        logs.on_days(first, last)
        .order_by()
        .annotate(day=TruncDate("logged_at", tzinfo=zone))
        .values("user_id", "day")
        .annotate(**{name: Sum(name) for name in NUTRITION_FIELDS})
    )
    for row in totals:
        yield row["user_id"], row["day"], row


def weight_goals(user_ids: list[int]) -> dict[int, dict]:
    """Each user's active weight goal (`{"target_value" (kg), "direction", "start_date",
    "target_date"}`; with several, the highest priority, then the nearest target date, then the
    oldest), in one query: the goals app's own `active()` and `by_priority()`, first row per
    user."""
    if len(user_ids) == 1:
        using = router.db_for_read(HealthGoal)
        if connections[using].vendor == "postgresql":
            with connections[using].cursor() as cursor:
                cursor.execute(_WEIGHT_GOAL_SQL, _weight_goal_params(user_ids[0]))
                row = cursor.fetchone()
            return {user_ids[0]: dict(zip(GOAL_FIELDS, row, strict=True))} if row else {}
        goal = (
            HealthGoal.objects.for_user(user_ids[0])
            .active()
            .measuring([WEIGHT])
            .by_priority()
            .values(*GOAL_FIELDS)
            .first()
        )
        return {user_ids[0]: dict(goal)} if goal is not None else {}
    found: dict[int, dict] = {}
    rows = (
        HealthGoal.objects.filter(user_id__in=user_ids)
        .active()
        .measuring([WEIGHT])
        .by_priority()
        .values("user_id", *GOAL_FIELDS)
    )
    for row in rows:
        found.setdefault(row["user_id"], {name: row[name] for name in GOAL_FIELDS})
    return found


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


def users_due_for_recommendations(*, today: date | None = None) -> QuerySet:
    """Ids of active users whose stored recommendations may be out of date on `today`: never
    computed, an input changed since the last computation, or a window slid over their data
    (`valid_until` reached). Everyone else is skipped without being loaded."""
    today = today or calendar.today()
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
