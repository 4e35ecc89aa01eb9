"""Wiring: the data apps' own "data changed" signals append upserts after commit; deletions
append tombstones in the deleting transaction (post_delete). Deletions made with the audit log
disabled are maintenance (the archive moving rows out of the hot table, retention, an account
purge) and get no tombstone."""

from __future__ import annotations

import logging
from datetime import timedelta

from auditlog.context import auditlog_disabled
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.db.models.signals import post_delete

from accounts import days as calendar
from goals.models import HealthGoal
from goals.signals import goals_changed
from healthtrack.changes import services
from healthtrack.changes.models import ChangeEvent
from metrics.models import HealthMetric
from metrics.signals import measurements_changed
from nutrition.models import NutritionLog
from nutrition.signals import nutrition_changed

logger = logging.getLogger(__name__)
Resource = ChangeEvent.Resource


def _after_commit(receiver):
    """A feed failure must not fail the write that already committed: log it (no data)."""

    def guarded(sender, **kwargs) -> None:
        try:
            receiver(sender, **kwargs)
        except Exception as exc:  # the write committed; the feed misses this one
            logger.error("change feed append failed: %s", type(exc).__name__)

    guarded.__name__ = receiver.__name__
    return guarded


@_after_commit
def on_measurements_changed(sender, *, user_id, metric_types, start, end, **kwargs) -> None:
    def existing():
        return HealthMetric._base_manager.filter(
            user_id=user_id,
            metric_type__in=list(metric_types),
            recorded_at__gte=start,
            recorded_at__lte=end,
        ).values_list("pk", flat=True)

    services.record_upserts(user_id=user_id, resource=Resource.MEASUREMENT, existing_ids=existing)


@_after_commit
def on_nutrition_changed(sender, *, user_id, days, **kwargs) -> None:
    def existing():
        spans = Q()
        tz = calendar.zone_of(user_id)  # `days` are the owner's local days
        for day in days:
            first = calendar.day_start(day, tz)
            spans |= Q(
                logged_at__gte=first, logged_at__lt=calendar.day_start(day + timedelta(1), tz)
            )
        return NutritionLog._base_manager.filter(spans, user_id=user_id).values_list(
            "pk", flat=True
        )

    if days:
        services.record_upserts(
            user_id=user_id, resource=Resource.NUTRITION_ENTRY, existing_ids=existing
        )


@_after_commit
def on_goals_changed(sender, *, user_id, goal_ids, **kwargs) -> None:
    # Deleted goals have their tombstone already (post_delete); the rest exist.
    def existing():
        return HealthGoal._base_manager.filter(user_id=user_id, pk__in=list(goal_ids)).values_list(
            "pk", flat=True
        )

    services.record_upserts(user_id=user_id, resource=Resource.GOAL, existing_ids=existing)


def _tombstone(resource: str):
    def receiver(sender, instance, **kwargs) -> None:
        if auditlog_disabled.get():
            return
        services.record_deletions(
            user_id=instance.user_id, resource=resource, object_ids=[instance.pk]
        )

    return receiver


on_metric_deleted = _tombstone(Resource.MEASUREMENT)
on_nutrition_deleted = _tombstone(Resource.NUTRITION_ENTRY)
on_goal_deleted = _tombstone(Resource.GOAL)


def on_user_deleted(sender, instance, **kwargs) -> None:
    services.forget_user(user_id=instance.pk)


def connect() -> None:
    measurements_changed.connect(on_measurements_changed, dispatch_uid="changes.measurements")
    nutrition_changed.connect(on_nutrition_changed, dispatch_uid="changes.nutrition")
    goals_changed.connect(on_goals_changed, dispatch_uid="changes.goals")
    post_delete.connect(on_metric_deleted, sender=HealthMetric, dispatch_uid="changes.metric_del")
    post_delete.connect(
        on_nutrition_deleted, sender=NutritionLog, dispatch_uid="changes.nutrition_del"
    )
    post_delete.connect(on_goal_deleted, sender=HealthGoal, dispatch_uid="changes.goal_del")
    post_delete.connect(on_user_deleted, sender=get_user_model(), dispatch_uid="changes.user_del")
