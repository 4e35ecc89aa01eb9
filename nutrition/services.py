"""Writes on the nutrition diary: keyword-only, typed, atomic.

Every write validates through the model (`full_clean()`: nutrition.validation's rules) before it
touches the database, and announces the days it changed with `nutrition_changed` on commit.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import transaction

from nutrition.models import Food, NutritionLog, NutritionTargets
from nutrition.signals import nutrition_changed

LOG_FIELDS = (
    "meal_type",
    "description",
    "calories",
    "protein_g",
    "carbs_g",
    "fat_g",
    "fiber_g",
    "sugar_g",
    "sodium_mg",
    "water_ml",
    "logged_at",
    "food",
    "grams",
)


def _announce(*, user_id: int, days: set[date]) -> None:
    transaction.on_commit(
        lambda: nutrition_changed.send(sender=NutritionLog, user_id=user_id, days=set(days))
    )


def _validate(log: NutritionLog) -> None:
    # The CheckConstraints repeat the field validators for the database's sake; validating them
    # here too would cost one query each.
    log.full_clean(validate_unique=False, validate_constraints=False)


@transaction.atomic
def nutrition_log_create(
    *,
    user,
    meal_type: str,
    logged_at: datetime,
    description: str = "",
    calories: float | None = None,
    protein_g: float | None = None,
    carbs_g: float | None = None,
    fat_g: float | None = None,
    fiber_g: float | None = None,
    sugar_g: float | None = None,
    sodium_mg: float | None = None,
    water_ml: float | None = None,
    food: Food | None = None,
    grams: float | None = None,
) -> NutritionLog:
    """A new diary entry. With `food` + `grams` the nutrients come from the catalogue."""
    log = NutritionLog(
        user=user,
        meal_type=meal_type,
        logged_at=logged_at,
        description=description,
        calories=calories,
        protein_g=protein_g,
        carbs_g=carbs_g,
        fat_g=fat_g,
        fiber_g=fiber_g,
        sugar_g=sugar_g,
        sodium_mg=sodium_mg,
        water_ml=water_ml,
        food=food,
        grams=grams,
    )
    _validate(log)
    log.save()
    _announce(user_id=log.user_id, days={log.day})
    return log


@transaction.atomic
def nutrition_log_update(*, log: NutritionLog, **changes: Any) -> NutritionLog:
    """Change the given fields of an entry (a full replacement passes them all)."""
    unknown = set(changes) - set(LOG_FIELDS)
    if unknown:
        raise TypeError(f"Not a diary field: {', '.join(sorted(unknown))}")
    log = NutritionLog.objects.select_for_update().get(pk=log.pk)
    old_day = log.day
    for field, value in changes.items():
        setattr(log, field, value)
    _validate(log)
    log.save()
    _announce(user_id=log.user_id, days={old_day, log.day})
    return log


@transaction.atomic
def nutrition_log_delete(*, log: NutritionLog) -> None:
    user_id, day = log.user_id, log.day
    log.delete()
    _announce(user_id=user_id, days={day})


@transaction.atomic
def nutrition_targets_set(
    *,
    user,
    calories: int | None = None,
    protein_g: float | None = None,
    water_ml: int | None = None,
) -> NutritionTargets:
    """Set (or clear, with None) a user's own daily targets."""
    targets, _ = NutritionTargets.objects.select_for_update().get_or_create(user=user)
    targets.calories, targets.protein_g, targets.water_ml = calories, protein_g, water_ml
    targets.full_clean()
    targets.save()
    return targets
