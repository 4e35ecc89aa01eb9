"""Goals listen to the lower apps' data signals and enqueue a progress recompute.

Both signals are sent after the data's transaction committed; the task is still enqueued
through `transaction.on_commit` so a receiver called inside a transaction (a test, a future
caller) never lets a worker read uncommitted data. Only people with an active goal on one of
the changed measures get a task.

A failure here (database, broker) is logged, never raised: the data is already committed and
its writer must not fail because of goals; the daily `goals.recompute_all_goal_progress`
catches up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import DatabaseError, transaction
from django.dispatch import receiver

from goals.measures import NUTRIENT_CODES
from goals.models import HealthGoal
from goals.tasks import recompute_goal_progress
from metrics.signals import measurements_changed, rollups_recut
from nutrition.signals import nutrition_changed

logger = logging.getLogger(__name__)


def enqueue_recompute(user_id: int, metric_types: Iterable[str]) -> None:
    types = sorted(set(metric_types))
    try:
        if not HealthGoal.objects.for_user(user_id).active().measuring(types).exists():
            return
    except DatabaseError as exc:
        logger.error("goals: could not check goals to recompute: %s", type(exc).__name__)
        return
    transaction.on_commit(lambda: recompute_goal_progress.delay(user_id, types), robust=True)


@receiver(measurements_changed, dispatch_uid="goals.on_measurements_changed")
def on_measurements_changed(sender, *, user_id: int, metric_types, **kwargs) -> None:
    enqueue_recompute(user_id, metric_types)


@receiver(rollups_recut, dispatch_uid="goals.on_rollups_recut")
def on_rollups_recut(sender, *, user_id: int, **kwargs) -> None:
    # The person's days moved (a new time zone): every active goal is refreshed.
    transaction.on_commit(lambda: recompute_goal_progress.delay(user_id, None), robust=True)


@receiver(nutrition_changed, dispatch_uid="goals.on_nutrition_changed")
def on_nutrition_changed(sender, *, user_id: int, **kwargs) -> None:
    # The signal names days, not nutrients: every nutrient goal of the person is refreshed.
    enqueue_recompute(user_id, NUTRIENT_CODES)
