"""Goals listen to the lower apps' data signals and enqueue a progress recompute.

The metrics signals are sent inside the writing transaction, `nutrition_committed` after a
diary write committed, in a transaction of its own (by the write's after-commit send, or by the
worker's task when that did not happen: `nutrition.signals`): the task goes through the outbox
(`healthtrack.core.outbox.enqueue_on_commit`), whose row is written in that transaction and
published once it commits (or by the relay, after a broker outage or a crash right after the
commit).
Only people with an active goal on one of the changed measures get a task; while a task for
the same person and measures is pending, later writes join it. An error here fails the write
(nothing half-written); the daily `goals.recompute_all_goal_progress` refreshes windows anyway.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.conf import settings
from django.dispatch import receiver

from goals.measures import NUTRIENT_CODES
from goals.models import HealthGoal
from healthtrack.core.outbox import coalescing, enqueue_on_commit
from healthtrack.core.prepared import prepared_cursor
from metrics.signals import measurements_changed, rollups_recut
from nutrition.signals import nutrition_committed

RECOMPUTE_TASK = "goals.recompute_goal_progress"


def _digest(values: Iterable[str]) -> str:
    # The key must name everything the task's kwargs say (a joining write adds nothing).
    return hashlib.sha256(",".join(values).encode()).hexdigest()[:24]


# `HealthGoal.objects.for_user(user_id).active().measuring(types).exists()` in plain SQL: run
# on every measurement write under the person's lock, where building the ORM query cost more
# than the query (~0.5 ms of the ~5 ms the lock is held per POST).
_HAS_ACTIVE_GOAL_SQL = """
SELECT 1 FROM goals_healthgoal WHERE user_id = %s AND status = %s AND metric_type IN ({types})
LIMIT 1
"""


#: A measurement write's question, answered in the change feed's statement
#: (`healthtrack.changes.services.record_upserts`' `ask`, left in `measurements_changed`'s
#: `facts`): the metric types the person has an active goal on. `on_measurements_changed`
#: then runs no statement of its own.
ACTIVE_GOAL_TYPES = "goals.active_metric_types"
ACTIVE_GOAL_TYPES_SQL = (
    "SELECT ARRAY(SELECT DISTINCT metric_type FROM goals_healthgoal"
    " WHERE user_id = %s AND status = %s)"
)


def active_goal_types_question(user_id: int) -> tuple[str, list]:
    return ACTIVE_GOAL_TYPES_SQL, [user_id, HealthGoal.Status.ACTIVE.value]


def _has_active_goal(user_id: int, types: list[str]) -> bool:
    if not types:
        return False
    sql = _HAS_ACTIVE_GOAL_SQL.format(types=", ".join(["%s"] * len(types)))
    with prepared_cursor() as cursor:
        cursor.execute(sql, [user_id, HealthGoal.Status.ACTIVE.value, *types])
        return cursor.fetchone() is not None


def coalesce_seconds() -> float:
    """GOAL_PROGRESS_COALESCE_SECONDS: one progress run per person and measures per window."""
    return float(getattr(settings, "GOAL_PROGRESS_COALESCE_SECONDS", 5))


_coalesced = coalescing(coalesce_seconds)


def enqueue_recompute(
    user_id: int, metric_types: Iterable[str], *, active_types: Iterable[str] | None = None
) -> None:
    """`active_types`: the types of the person's active goals when already known (read in
    the change feed's statement); else one statement asks."""
    types = sorted(set(metric_types))
    if active_types is not None:
        if not set(types) & set(active_types):
            return
    elif not _has_active_goal(user_id, types):
        return
    # A burst of writes (a device's readings, a day logged at once) makes one run per
    # window: the first write's send schedules it at the window's end, the others' are
    # covered by it (`outbox.coalescing`).
    enqueue_on_commit(
        RECOMPUTE_TASK,
        {"user_id": user_id, "metric_types": types},
        dedupe_key=f"goal-progress:{user_id}:{_digest(types)}",
        fast_path=_coalesced,
    )


@receiver(measurements_changed, dispatch_uid="goals.on_measurements_changed")
def on_measurements_changed(sender, *, user_id: int, metric_types, facts=None, **kwargs) -> None:
    enqueue_recompute(user_id, metric_types, active_types=(facts or {}).get(ACTIVE_GOAL_TYPES))


@receiver(rollups_recut, dispatch_uid="goals.on_rollups_recut")
def on_rollups_recut(sender, *, user_id: int, **kwargs) -> None:
    # The person's days moved (a new time zone): every active goal is refreshed.
    enqueue_on_commit(
        RECOMPUTE_TASK,
        {"user_id": user_id, "metric_types": None},
        dedupe_key=f"goal-progress:{user_id}:all",
    )


@receiver(nutrition_committed, dispatch_uid="goals.on_nutrition_changed")
def on_nutrition_changed(sender, *, user_id: int, facts=None, **kwargs) -> None:
    # The signal names days, not nutrients: every nutrient goal of the person is refreshed.
    # `facts`: the active goals' types, read in the write's change-feed statement when the
    # write's own send sends this (nutrition.services); else one statement asks.
    enqueue_recompute(user_id, NUTRIENT_CODES, active_types=(facts or {}).get(ACTIVE_GOAL_TYPES))
