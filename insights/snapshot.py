"""The per-user data the recommendation rules read: plain values, no database access.

A snapshot is built from the daily rollups (one value per metric type and day) and the daily
nutrition totals; the rules in `insights.rules` are pure functions of it.

Windows: `today` is in progress and is never counted. A rule that averages over "the last
`days` days" reads the `days` complete days before `today`; the resting-heart-rate trend reads
its own 30-day window and the activity change its own 35 days, whatever `days` is, so a builder
fills `daily` for at least `max(days, 35)` days before `today`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from metrics.averages import finished_window

# Metric type codes (those of the metrics app's registry) the rules read.
STEPS = "steps"
SLEEP = "sleep"  # minutes
RESTING_HEART_RATE = "resting_heart_rate"
WEIGHT = "weight"  # kg
BP_SYSTOLIC = "blood_pressure_systolic"
BP_DIASTOLIC = "blood_pressure_diastolic"
GLUCOSE = "blood_glucose"
SPO2 = "oxygen_saturation"

#: Weight-goal directions meaning "the weight should go down" / "... go up".
DOWN_DIRECTIONS = frozenset({"decrease", "at_most"})
UP_DIRECTIONS = frozenset({"increase", "at_least"})


@dataclass(frozen=True)
class Snapshot:
    """One user's recent data.

    - `daily`: metric type code -> day -> that day's value (the day's total for steps, sleep
      minutes, exercise, active energy and distance; the day's average for heart rate, resting
      heart rate, blood pressure, glucose and oxygen saturation; the day's latest for weight).
      Days without data are absent (never zero-filled).
    - `nutrition_daily`: day -> totals (`calories`, `protein_g`, `water_ml`, ...), only days with
      at least one log.
    - `targets`: daily `calories`, `protein_g`, `water_ml`; a key is missing when unknown.
    - `weight_goal`: the active weight goal or None: `target_value` (kg), `direction`
      (`increase`, `decrease`, `at_least`, `at_most`), `start_date`, `target_date`.
    """

    user_id: int
    today: date
    days: int = 30
    age: int | None = None
    sex: str = "unspecified"
    height_cm: float | None = None
    daily: dict[str, dict[date, float]] = field(default_factory=dict)
    nutrition_daily: dict[date, dict[str, float]] = field(default_factory=dict)
    targets: dict = field(default_factory=dict)
    weight_goal: dict | None = None

    def window(self, days: int | None = None) -> tuple[date, date]:
        """First and last day (inclusive) of the `days` complete days before `today`."""
        days = self.days if days is None else days
        return finished_window(today=self.today, days=days)

    def series(self, metric_type: str, days: int | None = None) -> dict[date, float]:
        """`metric_type`'s daily values inside the window, oldest first."""
        first, last = self.window(days)
        values = self.daily.get(metric_type, {})
        return {day: values[day] for day in sorted(values) if first <= day <= last}

    def readings_to_date(self, metric_type: str, days: int | None = None) -> dict[date, float]:
        """`series` plus today's value: for a latest-value type (weight) a reading taken
        today is complete, not a partial day, and it is what the card beside the text shows,
        so no text may quote an older one ("latest" is `metrics.latest`'s)."""
        values = self.series(metric_type, days)
        today = self.daily.get(metric_type, {}).get(self.today)
        if today is not None:
            values[self.today] = today
        return values

    def nutrition_series(self, days: int | None = None) -> dict[date, dict[str, float]]:
        """Logged days' nutrition totals inside the window, oldest first."""
        first, last = self.window(days)
        return {
            day: self.nutrition_daily[day]
            for day in sorted(self.nutrition_daily)
            if first <= day <= last
        }
