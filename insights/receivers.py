"""What the insights app does when a user's data changes (connected in `InsightsConfig.ready`).

For every write to an input of the recommendations (measurements, nutrition diary, nutrition
targets, goals, the profile's birth date, sex and height), after it commits (the metrics and
nutrition and goals signals are sent from their services' `transaction.on_commit`; the
others are deferred here with `transaction.on_commit`):
1. alerts: for measurements of an alert type, the alert rules run right here, synchronously,
   so a crisis reading is visible to the patient's clinicians as soon as the write returns
   (falling back to the `insights.check_alerts` task if this fails);
2. `RecommendationState.data_changed_at` is set (the nightly run recomputes only changed users);
3. the user's cached recommendations are dropped;
4. a recomputation is scheduled, debounced: the first write claims a lock for
   RECOMMENDATIONS_DEBOUNCE_SECONDS and enqueues `compute_recommendations` with that countdown;
   later writes in the window find the lock and add nothing; the run sees them all.

Each step is guarded: a failure is logged (never with health values) and never fails the
write. When the broker refuses the task, it goes to the transactional outbox
(`accounts.outbox.enqueue_on_commit`, one pending row per user), whose relay sends it when the
broker is back; the marker of step 2 is in the database too, so the nightly run catches up
whatever happens. The first attempt is a plain `apply_async(countdown=...)` because the outbox
has no countdown (the debounce needs one). When Redis itself is down there is no lock to
debounce with: the trigger goes straight to the outbox (step 4 never drops a write's trigger).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_save

from accounts.outbox import enqueue_on_commit
from insights import cache as rec_cache
from insights import services
from insights.alerts import ALERT_METRIC_TYPES

logger = logging.getLogger(__name__)


def _guarded(what: str, user_id: int, fn: Callable[[], object]) -> bool:
    try:
        fn()
    except Exception as error:  # a side effect must never fail the write that caused it
        logger.error("insights: %s for user %s failed: %s", what, user_id, type(error).__name__)
        return False
    return True


def _after_commit(fn: Callable[[], None], *, committed: bool) -> None:
    """Run `fn` now if the write has committed already (the metrics and nutrition signals
    are sent on commit), else when the current transaction commits."""
    if committed:
        fn()
    else:
        transaction.on_commit(fn)


def schedule_recompute(user_id: int, *, committed: bool = False) -> None:
    """Enqueue `compute_recommendations` for `user_id` once the write has committed, at most
    once per debounce window; a broker error is logged, not raised."""

    def enqueue() -> None:
        from insights.tasks import compute_recommendations

        claimed = rec_cache.claim_debounce(user_id)
        if claimed is rec_cache.CACHE_DOWN:
            # No lock to debounce with: straight to the outbox, whose pending row per user
            # is the debounce until it is published (never dropped, whatever Redis does).
            _guarded("outbox enqueue", user_id, lambda: enqueue_to_outbox(user_id))
            return
        if not claimed:
            return
        try:
            compute_recommendations.apply_async(
                args=[user_id], countdown=rec_cache.debounce_seconds()
            )
        except Exception as error:
            rec_cache.release_debounce(user_id)  # let the next write try again
            logger.error(
                "insights: could not enqueue recommendations for user %s: %s",
                user_id,
                type(error).__name__,
            )
            # Leave it to the outbox: its relay publishes once the broker is back (one pending
            # row per user however many writes fail meanwhile).
            _guarded("outbox fallback", user_id, lambda: enqueue_to_outbox(user_id))

    _after_commit(enqueue, committed=committed)


def enqueue_to_outbox(user_id: int) -> None:
    enqueue_on_commit(
        "insights.compute_recommendations",
        {"user_id": user_id},
        dedupe_key=f"recommendations:{user_id}",
    )


def data_changed(user_id: int, *, committed: bool = False) -> None:
    """Steps 2-4 above for one user."""

    def run() -> None:
        _guarded(
            "marking data changed",
            user_id,
            lambda: services.recommendation_state_mark_changed(user_id=user_id),
        )
        _guarded("cache invalidation", user_id, lambda: rec_cache.invalidate(user_id))
        _guarded("scheduling", user_id, lambda: schedule_recompute(user_id, committed=True))

    _after_commit(run, committed=committed)


def check_alerts_now(user_id: int, start, end, *, committed: bool = False) -> None:
    def run() -> None:
        if _guarded(
            "alert check",
            user_id,
            lambda: services.alerts_check(user_id=user_id, start=start, end=end),
        ):
            return
        from insights.tasks import check_alerts

        _guarded(
            "enqueueing the alert check",
            user_id,
            lambda: check_alerts.apply_async(args=[user_id, start.isoformat(), end.isoformat()]),
        )

    _after_commit(run, committed=committed)


def on_measurements_changed(sender, *, user_id, metric_types, start, end, **kwargs) -> None:
    # Sent by metrics.services after the write committed.
    if set(metric_types) & ALERT_METRIC_TYPES:
        check_alerts_now(user_id, start, end, committed=True)
    data_changed(user_id, committed=True)


def on_rollups_recut(sender, *, user_id, **kwargs) -> None:
    # Sent by metrics.services after a change of time zone recut the daily figures.
    data_changed(user_id, committed=True)


def on_nutrition_changed(sender, *, user_id, **kwargs) -> None:
    # Sent by nutrition.services after the write committed.
    data_changed(user_id, committed=True)


def on_goals_changed(sender, *, user_id, **kwargs) -> None:
    # Sent by goals.services after the write committed.
    data_changed(user_id, committed=True)


def on_nutrition_targets_saved(sender, instance, **kwargs) -> None:
    # post_save fires inside the writing transaction.
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
    from nutrition.signals import nutrition_changed

    measurements_changed.connect(on_measurements_changed, dispatch_uid="insights.measurements")
    rollups_recut.connect(on_rollups_recut, dispatch_uid="insights.rollups_recut")
    nutrition_changed.connect(on_nutrition_changed, dispatch_uid="insights.nutrition")
    post_save.connect(
        on_nutrition_targets_saved, sender=NutritionTargets, dispatch_uid="insights.targets"
    )
    post_save.connect(on_user_saved, sender=get_user_model(), dispatch_uid="insights.profile")
    goals_changed.connect(on_goals_changed, dispatch_uid="insights.goals")
