"""The one definition of "latest": the newest sample of a type by `recorded_at` (then by id),
whenever it was taken, today included (a reading is complete when it is taken; only a day's
sums and averages are partial). For blood pressure, the newest systolic and diastolic recorded
at the same instant from the same source whose pair `metrics.validation` accepts (a swapped
pair stored before the rule is never "the latest blood pressure").

Read by the dashboard cards, goals (`goals.readings`), insights texts (through the snapshot),
the API summary, the admin patient page and the report."""

from __future__ import annotations

from datetime import datetime

from metrics.models import HealthMetric
from metrics.selectors import latest_per_type, latest_value, latest_values
from metrics.validation import BP_DIASTOLIC, BP_SYSTOLIC, plausible_pair

__all__ = ["latest_blood_pressure", "latest_per_type", "latest_value", "latest_values"]

# Rows read to find the newest complete pair (a few unpaired halves are skipped).
BP_LOOKBACK_ROWS = 20


def latest_blood_pressure(*, user_id: int) -> tuple[datetime, float, float] | None:
    """(recorded_at, systolic, diastolic) of the newest plausible pair, or None."""
    rows = (
        HealthMetric.objects.for_user(user_id)
        .of_type(BP_SYSTOLIC, BP_DIASTOLIC)
        .newest_first()
        .values_list("recorded_at", "device_id", "source_app", "metric_type", "value")[
            :BP_LOOKBACK_ROWS
        ]
    )
    pairs: dict[tuple, dict[str, float]] = {}
    for at, device_id, source_app, code, value in rows:
        source = (at, device_id, source_app if device_id is None else "")
        pairs.setdefault(source, {}).setdefault(code, value)
    for (at, _, _), pair in pairs.items():  # newest first (dicts keep insertion order)
        systolic, diastolic = pair.get(BP_SYSTOLIC), pair.get(BP_DIASTOLIC)
        if systolic is not None and diastolic is not None and plausible_pair(systolic, diastolic):
            return at, systolic, diastolic
    return None
