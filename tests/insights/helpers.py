"""Data helpers for the insights tests that touch the database (writes go through the
services, so the rollups are right)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django.utils import timezone

from metrics.services import metric_create
from nutrition.services import nutrition_log_create


def utc_today() -> date:
    return timezone.now().astimezone(UTC).date()


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def measure(user, metric_type: str, value: float, day: date, *, hour: int = 12, unit=None):
    units = {
        "steps": "count",
        "sleep": "min",
        "resting_heart_rate": "bpm",
        "weight": "kg",
        "blood_pressure_systolic": "mmHg",
        "blood_pressure_diastolic": "mmHg",
        "oxygen_saturation": "%",
        "blood_glucose": "mg/dL",
        "exercise": "min",
    }
    return metric_create(
        user=user,
        metric_type=metric_type,
        value=value,
        unit=unit or units[metric_type],
        recorded_at=at(day, hour),
    )


def daily(user, metric_type: str, values, *, end: int = 1):
    """One reading a day, the last `end` days before today (1 = yesterday)."""
    today = utc_today()
    values = list(values)
    for i, value in enumerate(values):
        measure(user, metric_type, value, today - timedelta(days=end + len(values) - 1 - i))


def low_steps(user, days: int = 5, value: float = 2000):
    daily(user, "steps", [value] * days)


def meal(user, day: date, *, calories: float = 500, protein_g: float = 20, water_ml=None):
    return nutrition_log_create(
        user=user,
        meal_type="lunch",
        logged_at=at(day),
        calories=calories,
        protein_g=protein_g,
        water_ml=water_ml,
    )
