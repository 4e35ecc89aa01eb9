"""The metric-type registry: every measurement type HealthTrack accepts, in code.

A type has a canonical unit (what is stored), the input units it accepts with their conversion
to the canonical unit, how it aggregates over a period, a plausible range per sample (checked
after conversion; the ranges and their clinical references are `metrics.validation.RANGES`)
and its LOINC code for export. Served at `GET /api/v1/metric-types/`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

Aggregation = Literal["sum", "average", "latest"]
Category = Literal["activity", "vitals", "body", "sleep"]

SUM: Aggregation = "sum"
AVERAGE: Aggregation = "average"
LATEST: Aggregation = "latest"


@dataclass(frozen=True)
class Conversion:
    """canonical = value * factor + offset."""

    factor: float = 1.0
    offset: float = 0.0

    def to_canonical(self, value: float) -> float:
        return value * self.factor + self.offset


IDENTITY = Conversion()

# How a sentence names a type and a unit, where the registry's name or code would read oddly.
LABELS = {
    "blood_pressure_systolic": "systolic blood pressure",
    "blood_pressure_diastolic": "diastolic blood pressure",
}
UNIT_LABELS = {"count": "steps"}


@dataclass(frozen=True)
class MetricType:
    code: str
    name: str
    unit: str
    aggregation: Aggregation
    category: Category
    loinc: str
    # Accepted input units (the canonical one included) and their conversion to `unit`.
    units: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    # LOINC code of the daily total, where it differs from the per-sample code.
    daily_loinc: str = ""

    @property
    def min_value(self) -> float:
        """Lowest plausible sample, canonical unit (`metrics.validation.RANGES`)."""
        from metrics.validation import RANGES

        return RANGES[self.code].low

    @property
    def max_value(self) -> float:
        from metrics.validation import RANGES

        return RANGES[self.code].high

    @property
    def label(self) -> str:
        """The type's name as a sentence says it ("systolic blood pressure", "steps")."""
        return LABELS.get(self.code, self.name.lower())

    @property
    def unit_label(self) -> str:
        """The canonical unit as people read it ("steps", not "count")."""
        return UNIT_LABELS.get(self.unit, self.unit)

    @property
    def is_summed(self) -> bool:
        return self.aggregation == SUM

    def to_canonical(self, value: float, unit: str | None) -> float:
        """`value` given in `unit` (None: the canonical unit) converted to the canonical unit.
        Raises KeyError for a unit this type does not accept."""
        if unit is None or unit == self.unit:
            return float(value)
        return self.units[unit].to_canonical(value)


def _type(code, name, unit, aggregation, category, loinc, extra=None, daily_loinc=""):
    units = {unit: IDENTITY, **(extra or {})}
    return MetricType(
        code=code,
        name=name,
        unit=unit,
        aggregation=aggregation,
        category=category,
        loinc=loinc,
        units=MappingProxyType(units),
        daily_loinc=daily_loinc,
    )


_TYPES = [
    _type("steps", "Steps", "count", SUM, "activity", "55423-8", daily_loinc="41950-7"),
    _type(
        "distance",
        "Distance",
        "m",
        SUM,
        "activity",
        "55430-3",
        {"km": Conversion(1000.0), "mi": Conversion(1609.344)},
    ),
    _type(
        "active_energy",
        "Active energy",
        "kcal",
        SUM,
        "activity",
        "41981-2",
        {"kJ": Conversion(1 / 4.184)},
    ),
    _type("exercise", "Exercise", "min", SUM, "activity", "55411-3"),
    _type("heart_rate", "Heart rate", "bpm", AVERAGE, "vitals", "8867-4"),
    _type("resting_heart_rate", "Resting heart rate", "bpm", AVERAGE, "vitals", "40443-4"),
    _type(
        "blood_pressure_systolic",
        "Blood pressure (systolic)",
        "mmHg",
        AVERAGE,
        "vitals",
        "8480-6",
    ),
    _type(
        "blood_pressure_diastolic",
        "Blood pressure (diastolic)",
        "mmHg",
        AVERAGE,
        "vitals",
        "8462-4",
    ),
    _type("weight", "Weight", "kg", LATEST, "body", "29463-7", {"lb": Conversion(0.45359237)}),
    _type("body_fat", "Body fat", "%", LATEST, "body", "41982-0"),
    _type(
        "blood_glucose",
        "Blood glucose",
        "mg/dL",
        AVERAGE,
        "vitals",
        "2339-0",
        {"mmol/L": Conversion(18.016)},
    ),
    _type("oxygen_saturation", "Oxygen saturation", "%", AVERAGE, "vitals", "2708-6"),
    _type(
        "body_temperature",
        "Body temperature",
        "°C",
        AVERAGE,
        "vitals",
        "8310-5",
        {"°F": Conversion(5 / 9, -32 * 5 / 9)},
    ),
    _type("respiratory_rate", "Respiratory rate", "breaths/min", AVERAGE, "vitals", "9279-1"),
    _type("sleep", "Sleep", "min", SUM, "sleep", "93832-4", {"h": Conversion(60.0)}),
]

METRIC_TYPES: dict[str, MetricType] = {t.code: t for t in _TYPES}
METRIC_TYPE_CHOICES = [(t.code, t.name) for t in _TYPES]
SUMMED_TYPES = frozenset(t.code for t in _TYPES if t.is_summed)


def get_metric_type(code: str) -> MetricType:
    """The registered type for `code`; KeyError for an unknown code."""
    return METRIC_TYPES[code]
