"""Stored files follow their rows: when a MealPhoto row is deleted, however (its diary entry
deleted, the account purged, a family member removed: all cascades), its files are removed
once the deletion is committed. A rolled-back deletion keeps them.

The cached daily totals (`GET /nutrition-logs/daily`, `nutrition.services.daily_version_key`)
follow what they are computed from besides the diary (whose writes drop them in
`nutrition_changes_announce`): the person's own targets, their profile (age, sex, height for
the calculated targets; their time zone for the days) and their latest weight (a measurement
write of that type, `on_measurements_changed`, connected by the project: nutrition imports no
metrics). Each drops the person's version after the commit."""

from __future__ import annotations

import functools

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from nutrition.models import MealPhoto, NutritionTargets


@receiver(post_delete, sender=MealPhoto, dispatch_uid="nutrition.meal_photo_files")
def delete_meal_photo_files(sender, instance: MealPhoto, using: str, **kwargs) -> None:
    from nutrition.services import meal_photo_files_delete

    names = (instance.image_name, instance.thumbnail_name)
    transaction.on_commit(lambda: meal_photo_files_delete(*names), using=using, robust=True)


def _daily_cache_invalidate_on_commit(user_id: int, using: str | None = None) -> None:
    from nutrition.services import daily_cache_invalidate

    transaction.on_commit(
        functools.partial(daily_cache_invalidate, user_id), using=using, robust=True
    )


@receiver(post_save, sender=NutritionTargets, dispatch_uid="nutrition.daily_targets")
@receiver(post_delete, sender=NutritionTargets, dispatch_uid="nutrition.daily_targets_del")
def on_targets_changed(sender, instance: NutritionTargets, using: str, **kwargs) -> None:
    _daily_cache_invalidate_on_commit(instance.user_id, using)


#: The profile fields a daily answer is computed from (`nutrition.targets.daily_targets`; the
#: time zone cuts the days).
PROFILE_INPUTS = frozenset({"date_of_birth", "sex", "height_cm", "time_zone"})


@receiver(post_save, sender=get_user_model(), dispatch_uid="nutrition.daily_profile")
def on_user_saved(sender, instance, created: bool, using: str, update_fields=None, **kwargs):
    if created or (update_fields is not None and not PROFILE_INPUTS & set(update_fields)):
        return  # a new account has no answer cached; a login or password change is no input
    _daily_cache_invalidate_on_commit(instance.pk, using)


#: The measurement types a daily answer reads (the latest weight, for the targets).
MEASUREMENT_INPUTS = frozenset({"weight"})


def on_measurements_changed(sender, *, user_id: int, metric_types, **kwargs) -> None:
    """For `metrics.signals.measurements_changed` (sent inside the writing transaction)."""
    if MEASUREMENT_INPUTS & set(metric_types):
        _daily_cache_invalidate_on_commit(user_id)
