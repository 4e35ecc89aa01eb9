"""The metric-type registry: every measurement type HealthTrack accepts, in code.

A type has a canonical unit (what is stored), the input units it accepts with their conversion
to the canonical unit, how it aggregates over a period, a plausible range per sample (checked
after conversion) and its LOINC code for export. Served at `GET /api/v1/metric-types/`.
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


@dataclass(frozen=True)
class MetricType:
    code: str
    name: str
    unit: str
    aggregation: Aggregation
    category: Category
    min_value: float
    max_value: float
    loinc: str
    # Accepted input units (the canonical one included) and their conversion to `unit`.
    units: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    # LOINC code of the daily total, where it differs from the per-sample code.
    daily_loinc: str = ""

    @property
    def is_summed(self) -> bool:
        return self.aggregation == SUM

    def to_canonical(self, value: float, unit: str | None) -> float:
        """`value` given in `unit` (None: the canonical unit) converted to the canonical unit.
        Raises KeyError for a unit this type does not accept."""
        if unit is None or unit == self.unit:
            return float(value)
        return self.units[unit].to_canonical(value)


def _type(code, name, unit, aggregation, category, lo, hi, loinc, extra=None, daily_loinc=""):
    units = {unit: IDENTITY, **(extra or {})}
    return MetricType(
        code=code,
        name=name,
        unit=unit,
        aggregation=aggregation,
        category=category,
        min_value=float(lo),
        max_value=float(hi),
        loinc=loinc,
        units=MappingProxyType(units),
        daily_loinc=daily_loinc,
    )


_TYPES = [
    _type("steps", "Steps", "count", SUM, "activity", 0, 100_000, "55423-8", daily_loinc="41950-7"),
    _type(
        "distance",
        "Distance",
        "m",
        SUM,
        "activity",
        0,
        200_000,
        "55430-3",
        {"km": Conversion(1000.0), "mi": Conversion(1609.344)},
    ),
    _type(
        "active_energy",
        "Active energy",
        "kcal",
        SUM,
        "activity",
        0,
        20_000,
        "41981-2",
        {"kJ": Conversion(1 / 4.184)},
    ),
    _type("exercise", "Exercise", "min", SUM, "activity", 0, 1440, "55411-3"),
    _type("heart_rate", "Heart rate", "bpm", AVERAGE, "vitals", 20, 250, "8867-4"),
    _type("resting_heart_rate", "Resting heart rate", "bpm", AVERAGE, "vitals", 20, 200, "40443-4"),
    _type(
        "blood_pressure_systolic",
        "Blood pressure (systolic)",
        "mmHg",
        AVERAGE,
        "vitals",
        50,
        300,
        "8480-6",
    ),
    _type(
        "blood_pressure_diastolic",
        "Blood pressure (diastolic)",
        "mmHg",
        AVERAGE,
        "vitals",
        20,
        200,
        "8462-4",
    ),
    _type(
        "weight", "Weight", "kg", LATEST, "body", 1, 500, "29463-7", {"lb": Conversion(0.45359237)}
    ),
    _type("body_fat", "Body fat", "%", LATEST, "body", 1, 75, "41982-0"),
    _type(
        "blood_glucose",
        "Blood glucose",
        "mg/dL",
        AVERAGE,
        "vitals",
        10,
        1000,
        "2339-0",
        {"mmol/L": Conversion(18.016)},
    ),
    _type("oxygen_saturation", "Oxygen saturation", "%", AVERAGE, "vitals", 50, 100, "2708-6"),
    _type(
        "body_temperature",
        "Body temperature",
        "°C",
        AVERAGE,
        "vitals",
        25,
        45,
        "8310-5",
        {"°F": Conversion(5 / 9, -32 * 5 / 9)},
    ),
    _type(
        "respiratory_rate", "Respiratory rate", "breaths/min", AVERAGE, "vitals", 4, 80, "9279-1"
    ),
    _type("sleep", "Sleep", "min", SUM, "sleep", 0, 1440, "93832-4", {"h": Conversion(60.0)}),
]

METRIC_TYPES: dict[str, MetricType] = {t.code: t for t in _TYPES}
METRIC_TYPE_CHOICES = [(t.code, t.name) for t in _TYPES]
SUMMED_TYPES = frozenset(t.code for t in _TYPES if t.is_summed)


def get_metric_type(code: str) -> MetricType:
    """The registered type for `code`; KeyError for an unknown code."""
    return METRIC_TYPES[code]
