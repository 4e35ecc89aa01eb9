"""The readings an alert looks at, from the raw measurements (not the rollups): the span a write
touched, and the 7-day blood-pressure window (so readings refused by today's rules can be left
out). The rules themselves are pure functions in `insights.alerts`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta, tzinfo

from django.db import connection

from healthtrack.core import days as calendar
from healthtrack.core.prepared import prepared_cursor
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
    start, end = _average_window(last_day, tz)
    rows = (
        HealthMetric.objects.for_user(user_id)
        .of_type(BP_SYSTOLIC, BP_DIASTOLIC)
        .between(start, end)
        .values_list("metric_type", "recorded_at", "device_id", "source_app", "value")
    )
    return _averages(rows, last_day)


def _average_window(last_day: date, tz) -> tuple[datetime, datetime]:
    start = calendar.day_start(last_day - timedelta(days=ALERT_AVERAGE_DAYS - 1), tz)
    return start, calendar.day_start(last_day + timedelta(days=1), tz)


def _averages(rows: Iterable[tuple], last_day: date) -> dict[str, alerts.WindowAverage]:
    """`blood_pressure_averages` of the window's rows (type, recorded_at, device_id,
    source_app, value)."""
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


def _quoted(codes) -> str:
    # Constants of the code (the registry's type codes), not input.
    return ", ".join(f"'{code}'" for code in sorted(codes))


# `alert_inputs` on PostgreSQL: both reads in one prepared statement, the span's readings
# (kind 0) and the blood-pressure window's rows (kind 1).
_INPUTS_SQL = f"""
SELECT 0, metric_type, recorded_at, NULL::bigint, NULL::varchar, value, id
FROM metrics_healthmetric
WHERE user_id = %s AND metric_type IN ({_quoted(alerts.ALERT_METRIC_TYPES)})
  AND recorded_at >= %s AND recorded_at <= %s
UNION ALL
SELECT 1, metric_type, recorded_at, device_id, source_app, value, id
FROM metrics_healthmetric
WHERE user_id = %s AND metric_type IN ({_quoted((BP_SYSTOLIC, BP_DIASTOLIC))})
  AND recorded_at >= %s AND recorded_at < %s
ORDER BY 1, 3, 7
"""  # noqa: S608


def alert_inputs(
    *, user_id: int, start: datetime, end: datetime, last_day: date, tz: tzinfo
) -> tuple[list[alerts.Reading], dict[str, alerts.WindowAverage]]:
    """(`alert_readings(start, end)`, `blood_pressure_averages(last_day)`) of `user_id`, in
    the owner's zone `tz`: one statement on PostgreSQL (an alert check after a write ran the
    two ORM queries: ~0.5 ms of building them per glucose, oxygen or pressure reading)."""
    if connection.vendor != "postgresql":
        return (
            alert_readings(user_id=user_id, start=start, end=end),
            blood_pressure_averages(user_id=user_id, last_day=last_day, tz=tz),
        )
    window_start, window_end = _average_window(last_day, tz)
    with prepared_cursor() as cursor:
        cursor.execute(_INPUTS_SQL, [user_id, start, end, user_id, window_start, window_end])
        rows = cursor.fetchall()
    readings = [
        alerts.Reading(code, at, float(value))
        for kind, code, at, _, _, value, _ in rows
        if not kind
    ]
    window = ((code, at, dev, app, value) for kind, code, at, dev, app, value, _ in rows if kind)
    return readings, _averages(window, last_day)
