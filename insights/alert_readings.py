"""The readings an alert looks at, from the raw measurements (not the rollups): the span a write
touched, and the 7-day blood-pressure window (so readings refused by today's rules can be left
out). The rules themselves are pure functions in `insights.alerts`."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from healthtrack.core import days as calendar
from insights import alerts
from insights.snapshot import BP_DIASTOLIC, BP_SYSTOLIC
from metrics.models import HealthMetric
from metrics.validation import plausible_pair, plausible_reading

ALERT_AVERAGE_DAYS = 7


def alert_readings(*, user_id: int, start: datetime, end: datetime) -> list[alerts.Reading]:
    """Readings of the alert types recorded in [start, end] (both inclusive), oldest first.
    Every alert type is read (not only the written one) so that a systolic and a diastolic
    written separately still pair up on their shared instant."""
    rows = (
        HealthMetric.objects.for_user(user_id)
        .of_type(*sorted(alerts.ALERT_METRIC_TYPES))
        .between(start, end + timedelta(microseconds=1))
        .order_by("recorded_at", "id")
        .values_list("metric_type", "recorded_at", "value")
    )
    return [alerts.Reading(code, at, float(value)) for code, at, value in rows]


def blood_pressure_averages(
    *, user_id: int, last_day: date, tz=None
) -> dict[str, alerts.WindowAverage]:
    """Systolic and diastolic averages over the 7 local days ending on `last_day`, from the raw
    readings, leaving out any reading `metrics.validation` would refuse today (alone, or with
    the other half recorded at the same instant and source): a pair stored before the rule
    never feeds an alert."""
    tz = calendar.zone_of(user_id) if tz is None else tz  # the owner's local days
    start = calendar.day_start(last_day - timedelta(days=ALERT_AVERAGE_DAYS - 1), tz)
    end = calendar.day_start(last_day + timedelta(days=1), tz)
    rows = (
        HealthMetric.objects.for_user(user_id)
        .of_type(BP_SYSTOLIC, BP_DIASTOLIC)
        .between(start, end)
        .values_list("metric_type", "recorded_at", "device_id", "source_app", "value")
    )
    pairs: dict[tuple, dict[str, list[float]]] = {}
    for code, at, device_id, source_app, value in rows:
        source = (at, device_id, source_app if device_id is None else "")
        pairs.setdefault(source, {}).setdefault(code, []).append(value)
    sums: dict[str, list[float]] = {}
    for halves in pairs.values():
        systolic, diastolic = halves.get(BP_SYSTOLIC), halves.get(BP_DIASTOLIC)
        if systolic and diastolic and not plausible_pair(systolic[0], diastolic[0]):
            continue
        for code, values in halves.items():
            for value in values:
                if plausible_reading(code, value):
                    total = sums.setdefault(code, [0.0, 0])
                    total[0] += value
                    total[1] += 1
    return {
        code: alerts.WindowAverage(code, total / count, count, last_day)
        for code, (total, count) in sums.items()
        if count
    }
