"""Goals listen to the lower apps' data signals and recompute the progress they change.

The metrics signals are sent inside the writing transaction, `nutrition_committed` after a
diary write committed, in a transaction of its own (by the write's after-commit send, or by the
worker's task when that did not happen: `nutrition.signals`). Only people with an active goal
on one of the changed measures get a recompute: an outbox row
(`healthtrack.core.outbox.enqueue_on_commit`) written in that transaction, whose fast path
recomputes the progress right after the commit, in the request (`_recompute_after_commit`),
and deletes the row; a crash before that, or a failure of it, leaves the row to the relay,
which publishes `goals.recompute_goal_progress` for the worker. An error here fails the
write (nothing half-written); the hourly `goals.recompute_all_goal_progress` refreshes
windows as each person's day begins.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import tzinfo

from django.db import connection
from django.dispatch import receiver

from goals import services
from goals.measures import NUTRIENT_CODES
from goals.models import HealthGoal
from healthtrack.core.models import OutboxTask
from healthtrack.core.outbox import COVERED, enqueue_on_commit
from healthtrack.core.prepared import prepared_cursor
from metrics.signals import measurements_changed, rollups_recut
from nutrition.signals import nutrition_committed

RECOMPUTE_TASK = "goals.recompute_goal_progress"


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


def _recompute_after_commit(row: OutboxTask, *, tz: tzinfo | None = None) -> str:
    """The progress row's fast path (`healthtrack.core.outbox`, sent `alone`): the write's
    after-commit send recomputes the progress itself, in its transaction, instead of a
    message to the worker, and deletes the row (COVERED) in the same commit: a crash before
    it leaves the row pending for the relay, which hands it to the worker's task; so does an
    error here (the send's transaction rolls back, the row is pending again). Exact: the
    write committed before this runs, and the goal rows are locked before the data is read,
    so of two writes' sends the later one reads both. `tz`: the write's zone (saves a
    query). Eager mode: in a transaction of its own."""
    kwargs = {"user_id": row.kwargs["user_id"], "metric_types": row.kwargs["metric_types"]}
    if connection.in_atomic_block:
        services.goal_progress_refresh(**kwargs, tz=tz)
    else:
        services.goal_progress_recompute(**kwargs, tz=tz)
    return COVERED


def enqueue_recompute(
    user_id: int,
    metric_types: Iterable[str],
    *,
    active_types: Iterable[str] | None = None,
    tz: tzinfo | None = None,
) -> None:
    """`active_types`: the types of the person's active goals when already known (read in
    the change feed's statement); else one statement asks. `tz`: the person's zone, if the
    write read it."""
    types = sorted(set(metric_types))
    if active_types is not None:
        if not set(types) & set(active_types):
            return
    elif not _has_active_goal(user_id, types):
        return
    # One row per write, no dedupe key: a write that joined a pending row would wait for
    # the send that holds it, while holding the person's change-feed row that send's
    # recompute appends to (its goals' events).
    enqueue_on_commit(
        RECOMPUTE_TASK,
        {"user_id": user_id, "metric_types": types},
        fast_path=functools.partial(_recompute_after_commit, tz=tz),
        alone=True,
    )


@receiver(measurements_changed, dispatch_uid="goals.on_measurements_changed")
def on_measurements_changed(sender, *, user_id: int, metric_types, facts=None, **kwargs) -> None:
    enqueue_recompute(
        user_id,
        metric_types,
        active_types=(facts or {}).get(ACTIVE_GOAL_TYPES),
        tz=kwargs.get("tz"),
    )


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
    enqueue_recompute(
        user_id,
        NUTRIENT_CODES,
        active_types=(facts or {}).get(ACTIVE_GOAL_TYPES),
        tz=kwargs.get("tz"),
    )
