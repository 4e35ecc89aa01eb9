"""Alert rules: pure functions over readings, for values a clinician must see at once.

Input shapes:
- `Reading(metric_type, recorded_at, value)`: one measurement (canonical units: mmHg, %,
  mg/dL; `recorded_at` aware). Systolic and diastolic are separate readings (as the metrics app
  stores them); `evaluate` pairs them when their `recorded_at` is identical. A reading or a
  pair that `metrics.validation` would refuse today (stored before a rule existed) raises
  nothing.
- `WindowAverage(metric_type, value, readings, last_day)`: the average of every reading of one
  type over the 7 days ending on `last_day`, and how many readings it is made of.

Each alert carries a `dedupe_key`: the same reading (type + instant) or the same 7-day window
(type + last day) always gives the same key, so recording it twice stores one alert.
Thresholds come from `settings.INSIGHTS_THRESHOLDS` at call time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime

from insights.rules import HIGH, MEDIUM, thresholds
from insights.snapshot import BP_DIASTOLIC, BP_SYSTOLIC, GLUCOSE, SPO2
from metrics.validation import plausible_pair, plausible_reading

BLOOD_PRESSURE_CRISIS = "blood_pressure_crisis"
HIGH_BLOOD_PRESSURE = "high_blood_pressure"
LOW_OXYGEN_SATURATION = "low_oxygen_saturation"
ABNORMAL_GLUCOSE = "abnormal_glucose"
ALERT_TYPES = (BLOOD_PRESSURE_CRISIS, HIGH_BLOOD_PRESSURE, LOW_OXYGEN_SATURATION, ABNORMAL_GLUCOSE)

#: The metric types a new reading of which may raise an alert.
ALERT_METRIC_TYPES = frozenset({BP_SYSTOLIC, BP_DIASTOLIC, SPO2, GLUCOSE})


@dataclass(frozen=True)
class Reading:
    metric_type: str
    recorded_at: datetime
    value: float


@dataclass(frozen=True)
class WindowAverage:
    metric_type: str
    value: float
    readings: int
    last_day: date


@dataclass(frozen=True)
class Alert:
    type: str
    severity: str
    title: str
    message: str
    related_metric: str
    dedupe_key: str
    recorded_at: datetime | None = None
    data: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        result = asdict(self)
        if self.recorded_at is not None:
            result["recorded_at"] = self.recorded_at.isoformat()
        return result


def _num(value: float) -> str:
    return f"{round(value, 1):g}"


def _when(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment.day} {moment:%B %Y %H:%M} UTC"


def _key(alert_type: str, moment: datetime) -> str:
    return f"{alert_type}:{moment.astimezone(UTC).isoformat()}"


def blood_pressure_crisis(
    systolic: Reading | None, diastolic: Reading | None, overrides: Mapping | None = None
) -> Alert | None:
    """Systolic >= bp_crisis_systolic (180) or diastolic >= bp_crisis_diastolic (120) mmHg.
    Pass the two halves of one measurement (either may be None)."""
    t = thresholds(overrides)
    sys_limit, dia_limit = t["bp_crisis_systolic"], t["bp_crisis_diastolic"]
    sys_high = systolic is not None and systolic.value >= sys_limit
    dia_high = diastolic is not None and diastolic.value >= dia_limit
    if not (sys_high or dia_high):
        return None
    moment = (systolic or diastolic).recorded_at
    if systolic is not None and diastolic is not None:
        reading = f"Blood pressure of {_num(systolic.value)}/{_num(diastolic.value)} mmHg"
    elif systolic is not None:
        reading = f"Systolic blood pressure of {_num(systolic.value)} mmHg"
    else:
        reading = f"Diastolic blood pressure of {_num(diastolic.value)} mmHg"
    return Alert(
        type=BLOOD_PRESSURE_CRISIS,
        severity=HIGH,
        title="Blood pressure crisis",
        message=(
            f"{reading} recorded {_when(moment)}. A systolic reading of {_num(sys_limit)} mmHg "
            f"or more, or a diastolic reading of {_num(dia_limit)} mmHg or more, is a "
            f"hypertensive crisis. Re-measure after 5 minutes' rest; seek emergency care now if "
            f"you have chest pain, shortness of breath, a severe headache or vision changes."
        ),
        related_metric=BP_SYSTOLIC if sys_high else BP_DIASTOLIC,
        dedupe_key=_key(BLOOD_PRESSURE_CRISIS, moment),
        recorded_at=moment,
        data={
            "systolic": systolic.value if systolic is not None else None,
            "diastolic": diastolic.value if diastolic is not None else None,
            "threshold_systolic": sys_limit,
            "threshold_diastolic": dia_limit,
        },
    )


def high_blood_pressure(
    systolic: WindowAverage | None,
    diastolic: WindowAverage | None,
    overrides: Mapping | None = None,
) -> Alert | None:
    """7-day average systolic >= bp_high_systolic (140) or diastolic >= bp_high_diastolic (90)
    mmHg. An average of fewer than bp_average_min_readings (3) readings is ignored."""
    t = thresholds(overrides)
    enough = t["bp_average_min_readings"]
    systolic = systolic if systolic is not None and systolic.readings >= enough else None
    diastolic = diastolic if diastolic is not None and diastolic.readings >= enough else None
    sys_limit, dia_limit = t["bp_high_systolic"], t["bp_high_diastolic"]
    sys_high = systolic is not None and systolic.value >= sys_limit
    dia_high = diastolic is not None and diastolic.value >= dia_limit
    if not (sys_high or dia_high):
        return None
    last_day = (systolic or diastolic).last_day
    parts = []
    if systolic is not None:
        parts.append(f"systolic {_num(systolic.value)} mmHg ({systolic.readings} readings)")
    if diastolic is not None:
        parts.append(f"diastolic {_num(diastolic.value)} mmHg ({diastolic.readings} readings)")
    return Alert(
        type=HIGH_BLOOD_PRESSURE,
        severity=MEDIUM,
        title="High blood pressure",
        message=(
            f"Your blood pressure over the 7 days to {last_day.day} {last_day:%B %Y} averaged "
            f"{' and '.join(parts)}. An average of {_num(sys_limit)} mmHg systolic or "
            f"{_num(dia_limit)} mmHg diastolic or more is high blood pressure. Book a review "
            f"with your clinician."
        ),
        related_metric=BP_SYSTOLIC if sys_high else BP_DIASTOLIC,
        dedupe_key=f"{HIGH_BLOOD_PRESSURE}:{last_day.isoformat()}",
        data={
            "average_systolic": round(systolic.value, 1) if systolic is not None else None,
            "average_diastolic": round(diastolic.value, 1) if diastolic is not None else None,
            "readings_systolic": systolic.readings if systolic is not None else 0,
            "readings_diastolic": diastolic.readings if diastolic is not None else 0,
            "last_day": last_day.isoformat(),
            "threshold_systolic": sys_limit,
            "threshold_diastolic": dia_limit,
        },
    )


def low_oxygen_saturation(reading: Reading, overrides: Mapping | None = None) -> Alert | None:
    """Oxygen saturation below spo2_min (92 %)."""
    limit = thresholds(overrides)["spo2_min"]
    if reading.metric_type != SPO2 or reading.value >= limit:
        return None
    return Alert(
        type=LOW_OXYGEN_SATURATION,
        severity=HIGH,
        title="Low blood oxygen",
        message=(
            f"Oxygen saturation of {_num(reading.value)} % recorded {_when(reading.recorded_at)}."
            f" Below {_num(limit)} % is low. Re-measure at rest with warm hands; seek medical "
            f"help now if you are short of breath, confused or your lips look blue."
        ),
        related_metric=SPO2,
        dedupe_key=_key(LOW_OXYGEN_SATURATION, reading.recorded_at),
        recorded_at=reading.recorded_at,
        data={"value": reading.value, "threshold": limit},
    )


def abnormal_glucose(reading: Reading, overrides: Mapping | None = None) -> Alert | None:
    """Blood glucose below glucose_low (70) or above glucose_high (250) mg/dL."""
    t = thresholds(overrides)
    low_limit, high_limit = t["glucose_low"], t["glucose_high"]
    if reading.metric_type != GLUCOSE or low_limit <= reading.value <= high_limit:
        return None
    low = reading.value < low_limit
    if low:
        title = "Low blood glucose"
        advice = (
            f"Below {_num(low_limit)} mg/dL is low (hypoglycaemia). Take 15 g of fast sugar, "
            f"re-measure in 15 minutes and get help if it stays low or you feel unwell."
        )
    else:
        title = "Very high blood glucose"
        advice = (
            f"Above {_num(high_limit)} mg/dL is very high. Drink water, re-measure, and contact "
            f"your clinician, urgently if you are vomiting, drowsy or breathing fast."
        )
    return Alert(
        type=ABNORMAL_GLUCOSE,
        severity=HIGH,
        title=title,
        message=(
            f"Blood glucose of {_num(reading.value)} mg/dL recorded "
            f"{_when(reading.recorded_at)}. {advice}"
        ),
        related_metric=GLUCOSE,
        dedupe_key=_key(ABNORMAL_GLUCOSE, reading.recorded_at),
        recorded_at=reading.recorded_at,
        data={
            "value": reading.value,
            "direction": "low" if low else "high",
            "threshold_low": low_limit,
            "threshold_high": high_limit,
        },
    )


def evaluate(
    readings: Iterable[Reading],
    *,
    averages: Mapping[str, WindowAverage] | None = None,
    overrides: Mapping | None = None,
) -> list[Alert]:
    """Every alert raised by `readings` (systolic and diastolic paired on identical
    `recorded_at`) and by the 7-day `averages` (keyed by metric type), oldest reading first,
    then by type; one alert per dedupe key."""
    t = thresholds(overrides)
    alerts: list[Alert] = []
    pressure: dict[datetime, dict[str, Reading]] = {}
    for reading in readings:
        # A reading stored before today's plausibility rules is never an alert's trigger.
        if not plausible_reading(reading.metric_type, reading.value):
            continue
        if reading.metric_type in (BP_SYSTOLIC, BP_DIASTOLIC):
            pressure.setdefault(reading.recorded_at, {})[reading.metric_type] = reading
        elif reading.metric_type == SPO2:
            alerts.append(low_oxygen_saturation(reading, t))
        elif reading.metric_type == GLUCOSE:
            alerts.append(abnormal_glucose(reading, t))
    for pair in pressure.values():
        systolic, diastolic = pair.get(BP_SYSTOLIC), pair.get(BP_DIASTOLIC)
        if systolic and diastolic and not plausible_pair(systolic.value, diastolic.value):
            continue  # a swapped or impossible pair (stored before the rule) is no crisis
        alerts.append(blood_pressure_crisis(systolic, diastolic, t))
    if averages:
        alerts.append(high_blood_pressure(averages.get(BP_SYSTOLIC), averages.get(BP_DIASTOLIC), t))
    unique = {alert.dedupe_key: alert for alert in alerts if alert is not None}
    return sorted(
        unique.values(),
        key=lambda a: (
            a.recorded_at is None,
            a.recorded_at or datetime.min.replace(tzinfo=UTC),
            ALERT_TYPES.index(a.type),
            a.dedupe_key,
        ),
    )
