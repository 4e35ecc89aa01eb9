"""Every write on goals: keyword-only, typed, atomic.

Creates and updates are cleaned by `goals.validation` and get their progress computed in the
same transaction; `goal_progress_recompute` refreshes the progress of a person's active goals
from their data (called by the Celery task the metrics and nutrition signals enqueue). Each
write that changes something sends `goals.signals.goals_changed` inside its transaction and
invalidates the dashboard cache on commit.

Concurrency: every write locks the goal rows it touches (`select_for_update`, in id order) and
recomputes progress from the committed data after taking the lock, then saves only the fields
it changed (`update_fields`). Two recomputes, or a recompute and an edit, therefore serialise
on the row, and the later one reads the other's data and target: no lost update.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, tzinfo
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from goals import dashboard_goals
from goals.models import HealthGoal
from goals.progress import average, evaluate
from goals.readings import Readings
from goals.signals import goals_changed
from goals.validation import clean_goal
from healthtrack.core import days as calendar

logger = logging.getLogger(__name__)

#: Active goals one person may have at a time (keeps the dashboard and recomputes bounded).
MAX_ACTIVE_GOALS = 50


def _announce(*, user_id: int, goal_ids: Iterable[int], progress_only: bool = False) -> None:
    ids = frozenset(goal_ids)

    # In the writing transaction: receivers record their follow-up work in it.
    extra = {"progress_only": True} if progress_only else {}
    goals_changed.send(sender=HealthGoal, user_id=user_id, goal_ids=ids, **extra)
    transaction.on_commit(lambda: dashboard_goals.invalidate_dashboard_cache(user_id), robust=True)


def _refresh_progress(
    goal: HealthGoal, *, readings: Readings, today: date, now: datetime
) -> list[str]:
    """Recompute an active goal's progress in place; returns the fields that changed."""
    if goal.status != HealthGoal.Status.ACTIVE:
        return []
    measure = goal.measure
    latest, window_values = readings.current(measure, period_days=goal.period_days, today=today)
    changed: list[str] = []
    if goal.baseline_value is None:
        # A goal set before any data starts from its first reading.
        first = latest if measure.is_latest else average(window_values)
        if first is not None:
            goal.baseline_value = round(first, 2)
            changed.append("baseline_value")
    result = evaluate(
        direction=goal.direction,
        target=goal.target_value,
        baseline=goal.baseline_value,
        latest=measure.is_latest,
        current=latest,
        window_values=window_values,
        period_days=goal.period_days,
        start_date=goal.start_date,
        target_date=goal.target_date,
        today=today,
    )
    for field in ("current_value", "progress_percent", "on_track"):
        value = getattr(result, field)
        if getattr(goal, field) != value:
            setattr(goal, field, value)
            changed.append(field)
    if result.complete:
        goal.status = HealthGoal.Status.COMPLETED
        goal.completed_at = now
        changed += ["status", "completed_at"]
    if changed or goal.progress_updated_at is None:
        goal.progress_updated_at = now
        changed.append("progress_updated_at")
    return changed


@transaction.atomic
def goal_create(
    *,
    user,
    goal_type: str,
    target_value: float,
    title: str = "",
    description: str = "",
    metric_type: str | None = None,
    unit: str | None = None,
    direction: str | None = None,
    period_days: int | None = None,
    baseline_value: float | None = None,
    start_date: date | None = None,
    target_date: date | None = None,
    priority: str | None = None,
    status: str | None = None,
    today: date | None = None,
) -> HealthGoal:
    """A new goal, with its progress computed from the data already there.

    Omitted (None) fields take their defaults: the goal type's metric and direction (weight:
    down when the target is below the latest weight, else up), 7-day period, today as start,
    the baseline read from the data as of the start date, medium priority, a generated title.
    `target_value` and `baseline_value` are in `unit` (default: the metric's canonical unit)."""
    today = today or calendar.today(user)
    readings = Readings(user.pk)
    data: dict[str, Any] = {
        "goal_type": goal_type,
        "title": title,
        "description": description,
        "metric_type": metric_type,
        "target_value": target_value,
        "unit": unit,
        "direction": direction,
        "period_days": period_days,
        "baseline_value": baseline_value,
        "start_date": start_date,
        "target_date": target_date,
        "priority": priority,
        "status": status,
    }
    cleaned = clean_goal(data, existing=None, today=today, baseline_of=readings.baseline)
    cleaned.pop("reopen")
    if HealthGoal.objects.for_user(user).active().count() >= MAX_ACTIVE_GOALS:
        raise ValidationError(
            {"non_field_errors": [f"At most {MAX_ACTIVE_GOALS} active goals at a time."]}
        )
    goal = HealthGoal(user=user, **cleaned)
    _refresh_progress(goal, readings=readings, today=today, now=timezone.now())
    goal.save()
    _announce(user_id=user.pk, goal_ids=[goal.pk])
    return goal


@transaction.atomic
def goal_update(*, goal: HealthGoal, today: date | None = None, **changes: Any) -> HealthGoal:
    """Change the given fields (public names; the rest keep their values; None: the default).

    A change to what a completed goal measures (metric, target, direction, period, baseline,
    dates), or `status="active"`, makes it active again; progress is then recomputed.
    `status` may be set to `active` or `abandoned`, never to `completed` (that is computed)."""
    goal = HealthGoal.objects.select_for_update().get(pk=goal.pk)
    today = today or calendar.today(goal.user_id)
    readings = Readings(goal.user_id)
    cleaned = clean_goal(changes, existing=goal, today=today, baseline_of=readings.baseline)
    reopen = cleaned.pop("reopen")
    was_active = goal.status == HealthGoal.Status.ACTIVE
    changed = [name for name, value in cleaned.items() if getattr(goal, name) != value]
    for name in changed:
        setattr(goal, name, cleaned[name])
    if reopen:
        goal.completed_at = None
        changed.append("completed_at")
    if (
        not was_active
        and goal.status == HealthGoal.Status.ACTIVE
        and HealthGoal.objects.for_user(goal.user_id).active().count() >= MAX_ACTIVE_GOALS
    ):
        raise ValidationError({"status": [f"At most {MAX_ACTIVE_GOALS} active goals at a time."]})
    if changed:
        changed += _refresh_progress(goal, readings=readings, today=today, now=timezone.now())
        goal.save(update_fields=[*dict.fromkeys(changed), "updated_at"])
        _announce(user_id=goal.user_id, goal_ids=[goal.pk])
    return goal


def goal_abandon(*, goal: HealthGoal) -> HealthGoal:
    """Give a goal up: it keeps its last progress and is no longer recomputed."""
    return goal_update(goal=goal, status=HealthGoal.Status.ABANDONED)


@transaction.atomic
def goal_delete(*, goal: HealthGoal) -> None:
    user_id, goal_id = goal.user_id, goal.pk
    HealthGoal.objects.filter(pk=goal_id).delete()
    _announce(user_id=user_id, goal_ids=[goal_id])


@transaction.atomic
def goal_progress_recompute(
    *,
    user_id: int,
    metric_types: Iterable[str] | None = None,
    today: date | None = None,
    tz: tzinfo | None = None,
) -> list[int]:
    """Refresh the progress of `user_id`'s active goals measuring one of `metric_types`
    (None: all of them) from the rollups and nutrition totals. Idempotent: a second run
    with unchanged data writes nothing. Returns the ids of the goals that changed. `tz`:
    the person's zone when the caller has it (saves a query)."""
    return goal_progress_refresh(user_id=user_id, metric_types=metric_types, today=today, tz=tz)


def goal_progress_refresh(
    *,
    user_id: int,
    metric_types: Iterable[str] | None = None,
    today: date | None = None,
    tz: tzinfo | None = None,
) -> list[int]:
    """`goal_progress_recompute` in the caller's transaction (which must be one: the goal
    rows stay locked until it ends), for a caller that has one already and needs no
    savepoint of its own (the write's after-commit send, `goals.receivers`)."""
    today = today or calendar.today(tz or user_id)
    goals = list(
        HealthGoal.objects.select_for_update()
        .for_user(user_id)
        .active()
        .measuring(None if metric_types is None else set(metric_types))
        .order_by("pk")
    )
    readings = Readings(user_id, tz=tz)
    now = timezone.now()
    changed_ids = []
    statuses_changed = False
    for goal in goals:
        fields = _refresh_progress(goal, readings=readings, today=today, now=now)
        # The timestamp alone is not a change worth a write.
        if set(fields) - {"progress_updated_at"}:
            goal.save(update_fields=fields)
            changed_ids.append(goal.pk)
            statuses_changed = statuses_changed or "status" in fields
    if changed_ids:
        # Progress alone (no goal completed): what a goal asks for is unchanged.
        _announce(user_id=user_id, goal_ids=changed_ids, progress_only=not statuses_changed)
    return changed_ids


def goal_progress_recompute_all(
    *, today: date | None = None, new_day_only: bool = False, now: datetime | None = None
) -> int:
    """Refresh every active goal (windows slide and "on track" moves with the date even when
    no data arrives). One transaction per person. Returns how many goals changed.

    Celery beat runs it hourly with `new_day_only`: only the people whose local day began in
    the last hour (their local time is 00:xx) are refreshed, so each person once a day, just
    after their own midnight."""
    now = now or timezone.now()
    rows = (
        HealthGoal.objects.active()
        .order_by("user_id")
        .values_list("user_id", "user__time_zone")
        .distinct()
    )
    changed = 0
    for uid, name in rows:
        # Each person's today is their own, from the zone read above (no query per person).
        zone = calendar.zone_named(name)
        if new_day_only and now.astimezone(zone).hour != 0:
            continue
        changed += len(
            goal_progress_recompute(user_id=uid, today=today or calendar.today(zone, now=now))
        )
    return changed
