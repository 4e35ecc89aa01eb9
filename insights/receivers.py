"""What the insights app does when a user's data changes (connected in `InsightsConfig.ready`).

For every write to an input of the recommendations (measurements of the types the snapshot
reads, nutrition diary, nutrition targets, goals, the profile's birth date, sex and height),
inside the writing transaction (the metrics and goals signals and `post_save` are sent in it;
for a diary write, in the follow-up's own transaction once the write committed:
`nutrition.signals.nutrition_committed`):
1. alerts: for measurements of an alert type, an outbox row for `insights.check_alerts`,
   whose fast path runs the alert rules right after commit, synchronously, so a crisis reading
   is visible to the patient's clinicians as soon as the write returns (the row is then
   deleted), falling back to the task, and to the relay when the broker is down;
2. an outbox row for `insights.compute_recommendations`, one pending row per user
   (`dedupe_key`), so writes made while it is pending join it. Its fast path, after commit,
   schedules the run debounced through Redis: the first write claims a lock for
   RECOMMENDATIONS_DEBOUNCE_SECONDS and enqueues the task with that countdown (its row is
   marked sent); later writes in the window find the lock and add nothing (the run sees them
   all; their rows are deleted). When Redis or the broker is down the row stays pending (the
   debounce lives in the database then) and the outbox relay publishes it once the broker is
   back;
3. after commit: `RecommendationState.data_changed_at` is set (the nightly run recomputes
   only changed users; in the one after-commit transaction that also sends the write's
   outbox rows, `outbox.in_after_commit_transaction`) and the user's cached recommendations
   are dropped (both guarded: a failure is logged, never with health values, and never fails
   the committed write).

A write that touches only the owner's today (or later) is not an input yet: every rule reads
windows that end yesterday (`insights.snapshot`); the one exception, the weight of today
(`Snapshot.readings_to_date`), is a measurement type that always counts as a change here. Such a
write (a diary entry of today; steps, sleep or resting heart rate of today) leaves the cached
answers, the stored set and its marker alone and queues nothing: it only makes sure the stored
set is recomputed from tomorrow (`valid_until`), when today becomes part of the windows. The
cached answers expire at the owner's next midnight anyway (`insights.api.views`). A change of
goal progress alone (current value, percent, on track: `goals_changed` with `progress_only`)
is not an input either: the snapshot reads the active weight goal's target, direction and dates.

The rows of steps 1 and 2 commit or roll back with the write, whatever the cache's state: a
process that dies right after the commit, or a Redis outage, delays the work but never drops
it. An error writing them fails the write (nothing half-written).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_save
from django.utils import timezone

from healthtrack.core import days as calendar
from healthtrack.core import outbox
from healthtrack.core.models import OutboxTask
from healthtrack.core.outbox import enqueue_on_commit
from insights import cache as rec_cache
from insights import services
from insights.alerts import ALERT_METRIC_TYPES
from insights.snapshot import WEIGHT
from insights.snapshot_builder import SNAPSHOT_METRIC_TYPES

logger = logging.getLogger(__name__)

RECOMPUTE_TASK = "insights.compute_recommendations"
ALERTS_TASK = "insights.check_alerts"
#: The measurement types a recommendation can depend on (the snapshot reads no other).
RECOMMENDATION_METRIC_TYPES = frozenset(SNAPSHOT_METRIC_TYPES)


def _guarded(what: str, user_id: int, fn: Callable[[], object]) -> bool:
    try:
        fn()
    except Exception as error:  # a side effect must never fail the write that caused it
        logger.error("insights: %s for user %s failed: %s", what, user_id, type(error).__name__)
        return False
    return True


def data_changed(user_id: int) -> None:
    """Steps 2 and 3 above for one user: the outbox row now (in the writing transaction, or
    in autocommit), the marker and the cache after commit."""

    def mark_changed() -> None:
        # A hint (the nightly run's and the read's staleness check): the durable outbox row
        # carries the recompute itself, so it goes in the after-commit transaction that sends
        # the write's outbox rows, whose commit does not wait for the disk. A failure rolls
        # back only the hints; the rows are still sent.
        try:
            services.recommendation_state_mark_changed(user_id=user_id)
        except Exception as error:
            logger.error(
                "insights: marking data changed for user %s failed: %s",
                user_id,
                type(error).__name__,
            )
            raise

    outbox.in_after_commit_transaction(mark_changed)
    transaction.on_commit(
        lambda: _guarded("cache invalidation", user_id, lambda: rec_cache.invalidate(user_id))
    )
    enqueue_on_commit(
        RECOMPUTE_TASK,
        {"user_id": user_id},
        dedupe_key=f"recommendations:{user_id}",
        fast_path=schedule_debounced,
    )


def today_changed(user_id: int, zone, *, committed: bool = False) -> None:
    """A write that touched only `user_id`'s today or later (see the module's docstring): the
    stored set is due again tomorrow, after commit, in the after-commit transaction (a hint,
    as `data_changed`'s marker; nothing else is invalidated or queued). `committed`: called
    after the write committed, in a transaction that is itself after it (the diary's
    `nutrition_committed`): the hint is written in that one, not in another after it (its
    failure then fails that transaction, which is retried: the follow-up is safe twice)."""
    tomorrow = calendar.today(zone) + timedelta(days=1)

    def due_tomorrow() -> None:
        try:
            services.recommendation_state_due_by(user_id=user_id, day=tomorrow)
        except Exception as error:
            logger.error(
                "insights: marking tomorrow's refresh for user %s failed: %s",
                user_id,
                type(error).__name__,
            )
            raise

    if committed and transaction.get_connection().in_atomic_block:
        due_tomorrow()
        return
    outbox.in_after_commit_transaction(due_tomorrow)


def _from_today(days, zone) -> bool:
    """Whether every one of `days` (local dates in `zone`, the owner's) is today or later."""
    days = list(days)
    return bool(days) and min(days) >= calendar.today(zone)


def schedule_debounced(row: OutboxTask) -> bool | str:
    """The outbox row's fast path: schedule `compute_recommendations` through the Redis
    debounce lock. True when this write scheduled the run; COVERED when an earlier write of
    the window did (that run reads this one too; the row is dropped); False leaves the row to
    the relay (Redis or the broker is down: the pending row is the debounce until the relay
    publishes it)."""
    from insights.tasks import compute_recommendations

    user_id = row.kwargs["user_id"]
    if outbox.breaker_is_open():
        return False
    if timezone.now() - row.created_at >= timedelta(seconds=rec_cache.debounce_seconds()):
        # Pending for a whole window already (an outage left it; later writes joined it):
        # the debounce is spent, run it now (and leave the lock to the next write's window).
        compute_recommendations.apply_async(args=[user_id])
        return True
    claimed = rec_cache.claim_debounce(user_id)
    if claimed is rec_cache.CACHE_DOWN:
        return False
    if not claimed:
        return outbox.COVERED
    try:
        compute_recommendations.apply_async(args=[user_id], countdown=rec_cache.debounce_seconds())
    except Exception as error:
        rec_cache.release_debounce(user_id)  # let the relay's run, or the next write, go
        logger.error(
            "insights: could not enqueue recommendations for user %s: %s",
            user_id,
            type(error).__name__,
        )
        raise
    return True


def check_alerts_now(user_id: int, start, end, tz=None) -> None:
    """Step 1: an outbox row for `insights.check_alerts`, whose fast path runs the check
    inline after commit (falling back to publishing the task)."""

    def inline(row: OutboxTask) -> bool | str:
        if _guarded("alert check", user_id, lambda: _alerts_check(user_id, start, end, tz)):
            return outbox.COVERED
        from insights.tasks import check_alerts

        # Raises when the broker is down: the row stays pending for the relay.
        check_alerts.apply_async(
            args=[row.kwargs["user_id"], row.kwargs["start"], row.kwargs["end"]]
        )
        return True

    enqueue_on_commit(
        ALERTS_TASK,
        {"user_id": user_id, "start": start.isoformat(), "end": end.isoformat()},
        fast_path=inline,
    )


def _alerts_check(user_id: int, start, end, tz=None) -> None:
    with transaction.atomic():
        services.alerts_check(user_id=user_id, start=start, end=end, tz=tz)


# The signals and post_save are sent inside the writing transaction.


def on_measurements_changed(sender, *, user_id, metric_types, start, end, **kwargs) -> None:
    if set(metric_types) & ALERT_METRIC_TYPES:
        # The write's zone (read once per write): the check need not read it again.
        check_alerts_now(user_id, start, end, kwargs.get("tz"))
    inputs = set(metric_types) & RECOMMENDATION_METRIC_TYPES
    if not inputs:
        # Only the types the snapshot reads: a heart rate or glucose reading changes no
        # recommendation, so it neither drops the cached answers nor queues a recompute
        # (in the load test those writes emptied the cache of half the reads it could serve).
        return
    if WEIGHT not in inputs:  # today's weight is read (`Snapshot.readings_to_date`)
        zone = calendar.zone_of(kwargs.get("tz") or user_id)
        if _from_today([calendar.day_of(start, zone)], zone):
            today_changed(user_id, zone)  # today's steps, sleep, resting heart rate
            return
    data_changed(user_id)


def on_rollups_recut(sender, *, user_id, **kwargs) -> None:
    # Sent by metrics.services after a change of time zone recut the daily figures.
    data_changed(user_id)


def on_nutrition_changed(sender, *, user_id, days=(), **kwargs) -> None:
    if days:
        zone = calendar.zone_of(kwargs.get("tz") or user_id)
        if _from_today(days, zone):
            # Today's diary: no window holds it yet. Sent after the write's commit.
            today_changed(user_id, zone, committed=True)
            return
    data_changed(user_id)


def on_goals_changed(sender, *, user_id, progress_only=False, **kwargs) -> None:
    if progress_only:
        return  # current value, percent, on track: not read by the rules
    data_changed(user_id)


def on_nutrition_targets_saved(sender, instance, **kwargs) -> None:
    data_changed(instance.user_id)


#: Profile fields the rules read (age bands, BMI, calorie target).
PROFILE_INPUTS = frozenset({"date_of_birth", "sex", "height_cm"})


def on_user_saved(sender, instance, created, update_fields=None, **kwargs) -> None:
    if created or (update_fields is not None and not PROFILE_INPUTS & set(update_fields)):
        return  # a new account has no data; a login or password change is not an input
    data_changed(instance.pk)


def connect() -> None:
    from goals.signals import goals_changed
    from metrics.signals import measurements_changed, rollups_recut
    from nutrition.models import NutritionTargets
    from nutrition.signals import nutrition_committed

    measurements_changed.connect(on_measurements_changed, dispatch_uid="insights.measurements")
    rollups_recut.connect(on_rollups_recut, dispatch_uid="insights.rollups_recut")
    nutrition_committed.connect(on_nutrition_changed, dispatch_uid="insights.nutrition")
    post_save.connect(
        on_nutrition_targets_saved, sender=NutritionTargets, dispatch_uid="insights.targets"
    )
    post_save.connect(on_user_saved, sender=get_user_model(), dispatch_uid="insights.profile")
    goals_changed.connect(on_goals_changed, dispatch_uid="insights.goals")
