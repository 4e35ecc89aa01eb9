"""What a goal can measure: a metric type from `metrics.registry` or a daily nutrient total.

A `Measure` carries the canonical unit (what a goal's target is stored in), the accepted input
units with their conversions (the metrics registry's own for metric types), a plausible range
for a target, and how the current figure is read:

- `latest`: the newest value counts (metric types that aggregate as `latest`: weight, body fat);
- `daily_average`: the average of the daily figures (the daily rollup's value, or the day's
  nutrition total) over the goal's period.

Goal types name which measures fit them and their defaults (`GOAL_TYPES`).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from metrics.registry import IDENTITY, LATEST, METRIC_TYPES, Conversion
from nutrition.validation import AMOUNT_BOUNDS

LATEST_VALUE = "latest"
DAILY_AVERAGE = "daily_average"

METRIC = "metric"
NUTRITION = "nutrition"


@dataclass(frozen=True)
class Measure:
    code: str
    name: str
    unit: str
    units: MappingProxyType
    min_value: float
    max_value: float
    source: str  # METRIC or NUTRITION
    reading: str  # LATEST_VALUE or DAILY_AVERAGE
    daily_total: bool  # a day's figure is a total (steps, water), not an average (heart rate)

    @property
    def is_latest(self) -> bool:
        return self.reading == LATEST_VALUE

    def to_canonical(self, value: float, unit: str | None) -> float:
        """`value` in `unit` (None: the canonical unit) in the canonical unit; KeyError for a
        unit this measure does not accept."""
        if unit is None or unit == self.unit:
            return float(value)
        return self.units[unit].to_canonical(value)


def _from_metric(code: str) -> Measure:
    mtype = METRIC_TYPES[code]
    return Measure(
        code=code,
        name=mtype.name,
        unit=mtype.unit,
        units=mtype.units,
        # The per-sample range doubles as the range of a daily figure: a summed type's
        # per-sample ceiling (100,000 steps, 1,440 min) is also a sane ceiling for a day.
        min_value=mtype.min_value,
        max_value=mtype.max_value,
        source=METRIC,
        reading=LATEST_VALUE if mtype.aggregation == LATEST else DAILY_AVERAGE,
        daily_total=mtype.is_summed,
    )


def _nutrient(code: str, name: str, unit: str, extra: dict | None = None) -> Measure:
    return Measure(
        code=code,
        name=name,
        unit=unit,
        units=MappingProxyType({unit: IDENTITY, **(extra or {})}),
        min_value=0.0,
        # A daily target above what one diary entry may hold is a unit mix-up.
        max_value=float(AMOUNT_BOUNDS[code]),
        source=NUTRITION,
        reading=DAILY_AVERAGE,
        daily_total=True,
    )


NUTRIENTS: dict[str, Measure] = {
    m.code: m
    for m in (
        _nutrient("calories", "Calories", "kcal", {"kJ": Conversion(1 / 4.184)}),
        _nutrient("protein_g", "Protein", "g"),
        _nutrient("carbs_g", "Carbohydrate", "g"),
        _nutrient("fat_g", "Fat", "g"),
        _nutrient("fiber_g", "Fiber", "g"),
        _nutrient("sugar_g", "Sugars", "g"),
        _nutrient("sodium_mg", "Sodium", "mg", {"g": Conversion(1000.0)}),
        _nutrient("water_ml", "Water", "ml", {"L": Conversion(1000.0), "l": Conversion(1000.0)}),
    )
}
NUTRIENT_CODES = frozenset(NUTRIENTS)

MEASURES: dict[str, Measure] = {
    **{code: _from_metric(code) for code in METRIC_TYPES},
    **NUTRIENTS,
}
MEASURE_CHOICES = [(m.code, m.name) for m in MEASURES.values()]


def get_measure(code: str) -> Measure:
    """The measure for `code`; KeyError for an unknown one."""
    return MEASURES[code]


@dataclass(frozen=True)
class GoalTypeRule:
    metrics: tuple[str, ...]  # measures that fit; empty: any
    default_metric: str | None
    # None: worked out from the baseline (weight: down when the target is below it).
    default_direction: str | None


GOAL_TYPES: dict[str, GoalTypeRule] = {
    "steps": GoalTypeRule(("steps",), "steps", "at_least"),
    "weight": GoalTypeRule(("weight",), "weight", None),
    "sleep": GoalTypeRule(("sleep",), "sleep", "at_least"),
    "exercise": GoalTypeRule(("exercise", "active_energy", "distance"), "exercise", "at_least"),
    "water": GoalTypeRule(("water_ml",), "water_ml", "at_least"),
    "calories": GoalTypeRule(("calories",), "calories", "at_most"),
    "heart_rate": GoalTypeRule(
        ("resting_heart_rate", "heart_rate"), "resting_heart_rate", "at_most"
    ),
    "custom": GoalTypeRule((), None, "at_least"),
}


def fits(goal_type: str, metric_type: str) -> bool:
    rule = GOAL_TYPES[goal_type]
    return not rule.metrics or metric_type in rule.metrics
