"""The one set of rules for a diary entry (`NutritionLog`) and a person's own targets.

`nutrition.services` calls `clean_entry` / `clean_targets` before every write. The model hands
these rules to its fields (`amount_validators`) and `NutritionLog.clean()` calls `clean_log`, so
the admin's and the pages' ModelForms give the same answer. Errors are keyed by the field they
concern, so the API can name it in its 400.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone

# Per entry, inclusive: generous enough for a feast or a 10 L day of drinks, tight enough to
# catch unit mix-ups (grams typed as milligrams, millilitres as litres x1000).
AMOUNT_BOUNDS: dict[str, float] = {
    "calories": 10_000,  # kcal
    "protein_g": 1_000,
    "carbs_g": 2_000,
    "fat_g": 1_000,
    "fiber_g": 500,
    "sugar_g": 2_000,
    "sodium_mg": 20_000,
    "water_ml": 10_000,
    "grams": 5_000,  # portion of a catalogue food
}

# Filled in from the catalogue when an entry names a `food` (per 100 g x grams / 100).
NUTRIENT_FIELDS: tuple[str, ...] = (
    "calories",
    "protein_g",
    "carbs_g",
    "fat_g",
    "fiber_g",
    "sugar_g",
    "sodium_mg",
)
AMOUNT_FIELDS: tuple[str, ...] = (*NUTRIENT_FIELDS, "water_ml")

# Catalogue values per 100 g: nothing has more than 100 g of a macro or ~900 kcal (pure fat);
# table salt is ~38,800 mg sodium per 100 g.
PER_100G_BOUNDS: dict[str, float] = {
    "calories": 900,
    "protein_g": 100,
    "carbs_g": 100,
    "fat_g": 100,
    "fiber_g": 100,
    "sugar_g": 100,
    "sodium_mg": 40_000,
}

# Clock skew allowance for `logged_at`; a diary records what happened, not plans.
FUTURE_TOLERANCE = timedelta(hours=1)
EARLIEST_LOGGED_AT = datetime(2000, 1, 1, tzinfo=UTC)


def validate_finite(value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise ValidationError("Give a finite number.", code="not_finite")


def amount_validators(field: str, bounds: dict[str, float] = AMOUNT_BOUNDS) -> list[Callable]:
    """Validators for one amount: finite, >= 0, <= its bound."""
    return [validate_finite, MinValueValidator(0), MaxValueValidator(bounds[field])]


def round_amount(value: float) -> float:
    return round(value, 1)


def clean_log(log) -> None:
    """Cross-field rules of a diary entry. Fills the nutrients in from `food` + `grams`.

    With a food the seven nutrient amounts are always the catalogue's figures for the portion
    (values sent for them are replaced), so a food entry can never disagree with its food.
    Runs after the field validators; values that already failed them are skipped here.
    """
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    # A food id that does not exist is the field validator's error; here it counts as no food.
    food = getattr(log, "food", None)
    if food is not None and log.grams is None:
        add("grams", "Give the portion in grams with a food.")
    if food is None and log.grams is not None:
        add("food", "Grams need a food from the catalogue.")

    if food is not None and _valid_amount(log.grams, "grams"):
        for field, value in food.nutrients_for(log.grams).items():
            if value > AMOUNT_BOUNDS[field]:
                # The limit, never the value: error messages carry no health data.
                add("grams", f"This portion puts {field} over {AMOUNT_BOUNDS[field]:g}.")
            setattr(log, field, value)

    if log.calories is None and log.water_ml is None:
        message = "Give calories or water_ml (or a food with grams)."
        add("calories", message)
        add("water_ml", message)

    logged_at = log.logged_at
    if isinstance(logged_at, datetime):
        if timezone.is_naive(logged_at):
            add("logged_at", "Give a time zone offset, e.g. 2026-01-31T08:00:00Z.")
        elif logged_at > timezone.now() + FUTURE_TOLERANCE:
            add("logged_at", "Cannot be in the future.")
        elif logged_at < EARLIEST_LOGGED_AT:
            add("logged_at", "Cannot be before 2000.")

    if errors:
        raise ValidationError(errors)


def clean_entry(log) -> None:
    """Every rule of a diary entry: the amounts' bounds (`amount_validators`, on the fields),
    then `clean_log`. Uniqueness and the CheckConstraints are not queried: the constraints
    repeat the field validators for the database's sake, and checking them here would cost one
    query each. Nor is a foreign key set to a row just loaded from the database (the writer,
    a catalogue food the API looked up): its existence is known, and the foreign-key
    constraint guards it at the insert."""
    log.full_clean(
        exclude=_loaded_relations(log), validate_unique=False, validate_constraints=False
    )


def _loaded_relations(log) -> list[str]:
    names = []
    for name in ("user", "food"):
        field = log._meta.get_field(name)
        row = field.get_cached_value(log, default=None)
        if row is not None and not row._state.adding and row.pk == getattr(log, field.attname):
            names.append(name)
    return names


def clean_targets(targets) -> None:
    """A person's own daily targets: each one empty or within its field's bounds."""
    targets.full_clean()


def _valid_amount(value: float | None, field: str) -> bool:
    return value is not None and math.isfinite(value) and 0 <= value <= AMOUNT_BOUNDS[field]
