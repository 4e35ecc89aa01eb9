"""Daily nutrition targets: what a user should aim for, beside what they logged.

- calories: Mifflin-St Jeor resting energy x an activity factor, only when age, sex, height and
  weight are all known (no made-up default); BMR = 10*kg + 6.25*cm - 5*age + 5 (male) or
  - 161 (female); for `other` / `unspecified` the mean of the two (-78).
  Activity factor: `settings.NUTRITION_ACTIVITY_FACTOR`, default 1.4 (lightly active).
- protein: 0.8 g per kg of body weight when the weight is known.
- water: 2,000 ml.
- A user's own value (NutritionTargets) wins over each calculated one.
"""

from __future__ import annotations

import functools
from datetime import date
from typing import NamedTuple

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.db import DEFAULT_DB_ALIAS, connection, connections, router

from healthtrack.core.prepared import prepared_cursor
from nutrition.models import NutritionTargets

DEFAULT_ACTIVITY_FACTOR = 1.4
PROTEIN_G_PER_KG = 0.8
WATER_ML = 2_000
SEX_CONSTANT = {"male": 5.0, "female": -161.0}
OTHER_SEX_CONSTANT = (SEX_CONSTANT["male"] + SEX_CONSTANT["female"]) / 2


class Overrides(NamedTuple):
    """A user's own daily targets (`NutritionTargets`); None where they set none."""

    calories: int | None = None
    protein_g: float | None = None
    water_ml: int | None = None


NO_OVERRIDES = Overrides()


def latest_weight_kg(user) -> float | None:
    """The user's latest weight (kg) from the metrics app, or None.

    The metrics app is looked up lazily by name (it must not be imported from here); while it has
    no `HealthMetric` model installed this answers None. The statement is the one that
    `filter(user=user, metric_type="weight").order_by("-recorded_at").values_list("value")
    .first()` ran, written out: building that QuerySet cost several times the CPU of running
    it, on every nutrition read (issue 15).
    """
    try:
        metric_model = apps.get_model("metrics", "HealthMetric")
    except LookupError:
        return None
    if user.pk is None:
        return None
    row = _first_row(metric_model, _latest_weight_sql(metric_model), [user.pk, "weight"])
    return float(row[0]) if row is not None and row[0] is not None else None


def overrides_of(user) -> Overrides:
    """`user`'s own targets: as loaded on the instance when they are (no statement), else
    read with one statement and no model instance."""
    if user.pk is None or get_user_model().nutrition_targets.is_cached(user):
        return _overrides(user)
    row = _first_row(NutritionTargets, _overrides_sql(), [user.pk])
    return Overrides(*row) if row is not None else NO_OVERRIDES


# Table and column names from the models' meta, quoted; every value is a parameter.
@functools.cache
def _latest_weight_sql(metric_model) -> str:
    value, owner, kind, at = _columns(metric_model, "value", "user", "metric_type", "recorded_at")
    where = f"{owner} = %s AND {kind} = %s"
    return f"SELECT {value} FROM {_table(metric_model)} WHERE {where} ORDER BY {at} DESC LIMIT 1"  # noqa: S608


@functools.cache
def _overrides_sql() -> str:
    columns = ", ".join(_columns(NutritionTargets, *Overrides._fields))
    owner = _columns(NutritionTargets, "user")[0]
    return f"SELECT {columns} FROM {_table(NutritionTargets)} WHERE {owner} = %s"  # noqa: S608


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _columns(model, *names: str) -> list[str]:
    return [connection.ops.quote_name(model._meta.get_field(n).column) for n in names]


def _first_row(model, sql: str, params: list) -> tuple | None:
    using = router.db_for_read(model)
    # Planned once per connection on the primary (`prepared_cursor`): every diary read that
    # computes runs both statements.
    with prepared_cursor() if using == DEFAULT_DB_ALIAS else connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def activity_factor() -> float:
    return float(getattr(settings, "NUTRITION_ACTIVITY_FACTOR", DEFAULT_ACTIVITY_FACTOR))


def mifflin_st_jeor(*, weight_kg: float, height_cm: float, age: int, sex: str) -> float:
    """Resting energy expenditure in kcal/day."""
    constant = SEX_CONSTANT.get(sex, OTHER_SEX_CONSTANT)
    return 10 * weight_kg + 6.25 * height_cm - 5 * age + constant


def calculate_targets(
    *,
    age: int | None,
    sex: str | None,
    height_cm: float | None,
    weight_kg: float | None,
    activity: float,
    calories_override: float | None = None,
    protein_override: float | None = None,
    water_override: float | None = None,
) -> dict:
    """The pure calculation behind `daily_targets` (no database, no settings)."""
    bmr = None
    if None not in (age, sex, height_cm, weight_kg) and sex != "":
        bmr = mifflin_st_jeor(weight_kg=weight_kg, height_cm=height_cm, age=age, sex=sex)

    def pick(override, calculated, how):
        if override is not None:
            return override, "override"
        if calculated is not None:
            return calculated, how
        return None, None

    calories, calories_source = pick(
        calories_override,
        round(bmr * activity) if bmr is not None else None,
        "mifflin_st_jeor",
    )
    protein, protein_source = pick(
        protein_override,
        round(PROTEIN_G_PER_KG * weight_kg, 1) if weight_kg is not None else None,
        "0.8_g_per_kg",
    )
    water, water_source = pick(water_override, WATER_ML, "default")
    missing = [
        name
        for name, value in (
            ("age", age),
            ("sex", sex or None),
            ("height_cm", height_cm),
            ("weight_kg", weight_kg),
        )
        if value is None
    ]
    return {
        "calories": calories,
        "protein_g": protein,
        "water_ml": water,
        "sources": {
            "calories": calories_source,
            "protein_g": protein_source,
            "water_ml": water_source,
        },
        "basis": {
            "bmr": round(bmr, 2) if bmr is not None else None,
            "activity_factor": activity,
            "weight_kg": weight_kg,
            "missing": missing,
        },
    }


def daily_targets(
    *,
    user,
    weight_kg: float | None,
    on: date | None = None,
    overrides: Overrides | None = None,
) -> dict:
    """Targets for `user` (age on `on`, default today) given their latest weight in kg.

    Reads the user's profile and their NutritionTargets overrides (one query when not loaded;
    none when the caller passes them, as read by `overrides_of`).
    """
    if overrides is None:
        overrides = _overrides(user)
    return calculate_targets(
        age=user.age_on(on or date.today()),
        sex=user.sex,
        height_cm=user.height_cm,
        weight_kg=weight_kg,
        activity=activity_factor(),
        calories_override=overrides.calories,
        protein_override=overrides.protein_g,
        water_override=overrides.water_ml,
    )


def _overrides(user) -> Overrides:
    if user.pk is None:
        return NO_OVERRIDES
    try:
        targets = user.nutrition_targets
    except ObjectDoesNotExist:
        return NO_OVERRIDES
    return Overrides(targets.calories, targets.protein_g, targets.water_ml)
