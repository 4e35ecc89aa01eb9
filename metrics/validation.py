"""Validation of measurements, shared by every door: the single-object API, device sync (and
so the CSV and Apple Health imports), the pages' forms and `metrics.services`.

The clinical rules live here and only here:
- `RANGES`: the plausible range of one sample of each type, with the clinical reference it
  was checked against written next to it (the registry and the API's `/metric-types/` read
  them from here);
- whole numbers for counts (`WHOLE_NUMBER_TYPES`);
- blood pressure as a pair (`blood_pressure_errors`): the diastolic must be below its
  systolic and the difference (pulse pressure) within `PULSE_PRESSURE`. A pair is the
  systolic and diastolic recorded at the same instant from the same source (device, else
  source app), whether both come in one form, one sync batch, or one is already stored;
- `plausible_reading` / `plausible_pair`: the same rules as predicates, so a reading stored
  before a rule existed is never the trigger of an alert it would now fail.

Written as plain Python rather than a DRF serializer because a sync batch holds up to 5,000
samples and the per-field machinery of serializers costs more than the database write.
Messages name the type by its label and unit (never its code) and never repeat the
submitted value (it is health data).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from metrics.registry import METRIC_TYPES

MAX_SAMPLE_SPAN = timedelta(hours=24)


@dataclass(frozen=True)
class PlausibleRange:
    """The plausible values of one sample (canonical unit), and why."""

    low: float
    high: float
    reference: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))


# One sample spans at most 24 h (MAX_SAMPLE_SPAN), so the summed types' ranges are per day.
RANGES: dict[str, PlausibleRange] = {
    "steps": PlausibleRange(
        0,
        100_000,
        "Adults take 4,000-18,000 steps a day (Tudor-Locke et al., IJBNPA 2011); the most "
        "active populations measured average under 20,000. 100,000 leaves room for an "
        "ultramarathon day.",
    ),
    "distance": PlausibleRange(
        0,
        200_000,
        "The 24-hour running record is about 320 km, but by people who are not our users; "
        "200 km covers a long day on foot or a long ride recorded by a phone.",
    ),
    "active_energy": PlausibleRange(
        0,
        20_000,
        "Tour de France stages cost 6,000-9,000 kcal a day (Saris et al., 1989), the highest "
        "sustained expenditure measured; 20,000 kcal bounds any single day.",
    ),
    "exercise": PlausibleRange(0, 1440, "At most the minutes in a day."),
    "heart_rate": PlausibleRange(
        20,
        250,
        "Sinus bradycardia in trained athletes reaches the 30s; supraventricular tachycardia "
        "reaches 250 bpm (ESC 2019 SVT guideline). Outside 20-250 a sensor error is likelier.",
    ),
    "resting_heart_rate": PlausibleRange(
        20,
        200,
        "Normal resting rate is 60-100 bpm; athletes rest in the 30s-40s (AHA). A resting "
        "rate above 200 bpm is not rest.",
    ),
    "blood_pressure_systolic": PlausibleRange(
        60,
        280,
        "Validated cuff monitors (ISO 81060-2) are tested over about 60-280 mmHg systolic; "
        "below 60 a cuff rarely reads at all, and crises are defined from 180 (ACC/AHA 2017).",
    ),
    "blood_pressure_diastolic": PlausibleRange(
        30,
        180,
        "Diastolic below 40 mmHg is seen only in shock or severe aortic regurgitation; "
        "a crisis is 120 and above (ACC/AHA 2017), values above 180 are not measured in life.",
    ),
    "weight": PlausibleRange(
        1,
        500,
        "From a newborn's weight to above the heaviest people treated in bariatric care "
        "(WHO growth standards; bariatric case reports).",
    ),
    "body_fat": PlausibleRange(
        1,
        75,
        "Essential fat is about 3 % in men and 12 % in women (ACSM); measured body fat in "
        "severe obesity stays below 70 %.",
    ),
    "blood_glucose": PlausibleRange(
        10,
        1000,
        "Meters read from about 20 mg/dL; hyperosmolar hyperglycaemic states exceed "
        "600 mg/dL and case reports reach 1,000 (ADA Standards of Care).",
    ),
    "oxygen_saturation": PlausibleRange(
        50,
        100,
        "Pulse oximeters are validated from 70 % (ISO 80601-2-61) and read less reliably "
        "below; 100 % is the ceiling.",
    ),
    "body_temperature": PlausibleRange(
        25,
        45,
        "Severe hypothermia is below 28 °C and heat stroke above 40 °C (WHO, ERC 2021); "
        "people rarely survive readings outside 25-45 °C.",
    ),
    "respiratory_rate": PlausibleRange(
        4,
        80,
        "Adults breathe 12-20 times a minute at rest, infants up to 60; below 4 or above "
        "80 is apnoea or artefact (NEWS2 scoring, RCP 2017).",
    ),
    "sleep": PlausibleRange(0, 1440, "At most the minutes in a day."),
}

# Types counted in whole units.
WHOLE_NUMBER_TYPES = frozenset({"steps"})

BP_SYSTOLIC, BP_DIASTOLIC = "blood_pressure_systolic", "blood_pressure_diastolic"
BP_PARTNER = {BP_SYSTOLIC: BP_DIASTOLIC, BP_DIASTOLIC: BP_SYSTOLIC}
# Pulse pressure (systolic - diastolic), mmHg: normally about 40. Below 10 no pulse would be
# felt (a cuff cannot read it); above 150 is beyond the widest pulse pressures reported in
# isolated systolic hypertension and aortic regurgitation (ESC/ESH 2018).
PULSE_PRESSURE = PlausibleRange(10, 150, "ESC/ESH 2018 guideline on arterial hypertension")
BP_SWAPPED = (
    "The diastolic (lower number) must be below the systolic (upper number) blood pressure "
    "taken at the same time. Were the two swapped?"
)
MAX_TEXT = {"source_app": 100, "external_id": 255, "notes": 2000}
MAX_METADATA_CHARS = 4000
FIELDS = (
    "metric_type",
    "value",
    "unit",
    "recorded_at",
    "end_at",
    "device",
    "source_app",
    "external_id",
    "metadata",
    "notes",
)


def future_tolerance() -> timedelta:
    return timedelta(seconds=getattr(settings, "METRICS_FUTURE_TOLERANCE_SECONDS", 3600))


def future_limit(now: datetime) -> datetime:
    """The latest `recorded_at` / `end_at` accepted at `now`."""
    return now + future_tolerance()


@dataclass
class Errors:
    """Field -> messages, in the order found."""

    items: dict[str, list[str]]

    def add(self, field: str, message: str) -> None:
        self.items.setdefault(field, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.items)


def _num(value: float) -> str:
    return f"{value:,g}" if abs(value) < 1e6 else f"{value:,.0f}"


def range_message(code: str) -> str:
    """The plausible range of `code` as a sentence ("... for heart rate: 20 to 250 bpm.")."""
    mtype = METRIC_TYPES[code]
    rng = RANGES[code]
    return (
        f"Outside the plausible range for {mtype.label}: "
        f"{_num(rng.low)} to {_num(rng.high)} {mtype.unit_label}."
    )


def value_error(code: str, value: float) -> str:
    """Why `value` (canonical unit) cannot be one sample of `code`; "" when it can."""
    rng = RANGES[code]
    if not rng.low <= value <= rng.high:
        return range_message(code)
    if code in WHOLE_NUMBER_TYPES and value != int(value):
        return f"{METRIC_TYPES[code].name} are counted in whole numbers."
    return ""


def plausible_reading(code: str, value: float) -> bool:
    """Would `value` be accepted as a sample of `code` today? Unknown codes are not judged."""
    return code not in RANGES or not value_error(code, value)


def blood_pressure_errors(systolic: float, diastolic: float) -> list[str]:
    """Why a systolic and a diastolic value (mmHg) cannot be one reading; [] when they can."""
    if diastolic >= systolic:
        return [BP_SWAPPED]
    pulse = systolic - diastolic
    if pulse < PULSE_PRESSURE.low:
        return [
            "The systolic and diastolic blood pressure are too close together: the upper "
            f"number must be at least {PULSE_PRESSURE.low:g} mmHg above the lower one."
        ]
    if pulse > PULSE_PRESSURE.high:
        return [
            "The systolic and diastolic blood pressure are too far apart: the upper number "
            f"can be at most {PULSE_PRESSURE.high:g} mmHg above the lower one."
        ]
    return []


def plausible_pair(systolic: float, diastolic: float) -> bool:
    """Both values plausible on their own and together (an alert needs this)."""
    return (
        plausible_reading(BP_SYSTOLIC, systolic)
        and plausible_reading(BP_DIASTOLIC, diastolic)
        and not blood_pressure_errors(systolic, diastolic)
    )


def plausible_blood_pressure(rows) -> Iterator[tuple[str, float]]:
    """The (code, value) of each blood-pressure reading in `rows` ((metric_type, recorded_at,
    device_id, source_app, value), one person's) that these rules would accept today: a pair
    (same instant and source) refused together is left out whole, so a pair stored before the
    rule never feeds an alert or a clinician's flag."""
    pairs: dict[tuple, dict[str, list[float]]] = {}
    for code, at, device_id, source_app, value in rows:
        source = (at, device_id, source_app if device_id is None else "")
        pairs.setdefault(source, {}).setdefault(code, []).append(value)
    for halves in pairs.values():
        systolic, diastolic = halves.get(BP_SYSTOLIC), halves.get(BP_DIASTOLIC)
        if systolic and diastolic and not plausible_pair(systolic[0], diastolic[0]):
            continue
        for code, values in halves.items():
            for value in values:
                if plausible_reading(code, value):
                    yield code, value


def _pair_message(code: str, messages: list[str]) -> str:
    other = METRIC_TYPES[BP_PARTNER[code]].label
    return f"{messages[0]} (checked against the {other} recorded at the same time and source)"


def stored_partner_value(
    *, user_id: int, cleaned: dict[str, Any], exclude_pk: int | None = None
) -> float | None:
    """The stored other half of the blood-pressure sample `cleaned` (same user, instant and
    source: the device, else the source app); None when there is none or it is not one."""
    partner = BP_PARTNER.get(cleaned.get("metric_type"))
    if partner is None or cleaned.get("recorded_at") is None:
        return None
    from metrics.models import HealthMetric

    qs = HealthMetric.objects.filter(
        user_id=user_id, metric_type=partner, recorded_at=cleaned["recorded_at"]
    )
    if cleaned.get("device") is not None:
        qs = qs.filter(device=cleaned["device"])
    else:
        qs = qs.filter(device__isnull=True, source_app=cleaned.get("source_app") or "")
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.order_by("id").values_list("value", flat=True).first()


def check_blood_pressure_partner(
    *,
    user_id: int,
    cleaned: dict[str, Any],
    partner_value: float | None = None,
    exclude_pk: int | None = None,
) -> None:
    """Raise ValidationError when the blood-pressure sample `cleaned` and its other half
    cannot be one reading. The other half is `partner_value` when the caller writes both
    together (a form), else the stored one."""
    code = cleaned.get("metric_type")
    if code not in BP_PARTNER:
        return
    if partner_value is None:
        partner_value = stored_partner_value(
            user_id=user_id, cleaned=cleaned, exclude_pk=exclude_pk
        )
    if partner_value is None:
        return
    value = cleaned["value"]
    pair = (value, partner_value) if code == BP_SYSTOLIC else (partner_value, value)
    messages = blood_pressure_errors(*pair)
    if messages:
        raise ValidationError({"value": [_pair_message(code, messages)]})


def blood_pressure_batch_errors(
    *, user_id: int, device: Any, samples: list[tuple[int, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Errors (`{index, field, message}`) for the blood-pressure samples of a sync batch
    (cleaned, with their positions) that cannot be one reading with their other half: the
    one in the same batch at the same instant, else the one stored for the device. Both
    halves of a refused pair in the batch are refused, so neither is written."""
    halves: dict[Any, dict[str, tuple[int, float]]] = {}
    for index, cleaned in samples:
        code = cleaned["metric_type"]
        if code in BP_PARTNER:
            halves.setdefault(cleaned["recorded_at"], {}).setdefault(
                code, (index, cleaned["value"])
            )
    if not halves:
        return []
    lonely = [at for at, pair in halves.items() if len(pair) == 1]
    stored: dict[tuple[Any, str], float] = {}
    if lonely:
        from metrics.models import HealthMetric

        rows = (
            HealthMetric.objects.filter(
                user_id=user_id,
                device=device,
                metric_type__in=list(BP_PARTNER),
                recorded_at__in=lonely,
            )
            .order_by("-id")
            .values_list("recorded_at", "metric_type", "value")
        )
        stored = {(at, code): value for at, code, value in rows}
    errors: list[dict[str, Any]] = []
    for at, pair in halves.items():
        values = {code: value for code, (_, value) in pair.items()}
        for code in BP_PARTNER:
            if code not in values and (at, code) in stored:
                values[code] = stored[(at, code)]
        if len(values) < 2:
            continue
        messages = blood_pressure_errors(values[BP_SYSTOLIC], values[BP_DIASTOLIC])
        if messages:
            for code, (index, _) in pair.items():
                message = _pair_message(code, messages)
                errors.append({"index": index, "field": "value", "message": message})
    return sorted(errors, key=lambda e: e["index"])


def _parse_datetime(raw: Any, field: str, errors: Errors) -> datetime | None:
    if isinstance(raw, datetime):
        value = raw
    elif isinstance(raw, str):
        try:
            value = datetime.fromisoformat(raw.strip())
        except ValueError:
            errors.add(field, "Not a valid ISO 8601 date-time.")
            return None
    else:
        errors.add(field, "Not a valid ISO 8601 date-time.")
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        errors.add(field, "Give a timezone (for example Z or +02:00); naive times are refused.")
        return None
    return value.astimezone(UTC)


def _parse_number(raw: Any, errors: Errors) -> float | None:
    if isinstance(raw, bool) or raw is None:
        errors.add("value", "A number is required.")
        return None
    if isinstance(raw, int | float | Decimal):
        number = float(raw)
    elif isinstance(raw, str):
        try:
            number = float(raw.strip())
        except ValueError:
            errors.add("value", "A number is required.")
            return None
    else:
        errors.add("value", "A number is required.")
        return None
    if not math.isfinite(number):
        errors.add("value", "NaN and infinite values are not allowed.")
        return None
    return number


def _text(data: dict, field: str, errors: Errors) -> str:
    raw = data.get(field)
    if raw is None:
        return ""
    if not isinstance(raw, str):
        errors.add(field, "Must be a string.")
        return ""
    if len(raw) > MAX_TEXT[field]:
        errors.add(field, f"At most {MAX_TEXT[field]} characters.")
        return ""
    return raw


def clean_measurement(
    data: Any,
    *,
    devices: dict[int, Any] | None = None,
    now: datetime | None = None,
    limit: datetime | None = None,
) -> tuple[dict[str, Any], Errors]:
    """Validate one measurement given as a mapping of the public field names.

    `devices` maps the ids the owner may name in `device` to Device objects (a Device
    instance in `data["device"]` is taken as already resolved). Returns the cleaned values
    (value converted to the canonical unit, times in UTC) and the errors found; the cleaned
    values are meaningful only when there are no errors. `limit`: the latest time accepted,
    `future_limit(now)` (a batch works it out once).
    """
    errors = Errors({})
    if not isinstance(data, dict):
        errors.add("non_field_errors", "Expected an object.")
        return {}, errors
    now = now or timezone.now()
    cleaned: dict[str, Any] = {}

    code = data.get("metric_type")
    mtype = None
    if code is None or code == "":
        errors.add("metric_type", "This field is required.")
    elif not isinstance(code, str) or code not in METRIC_TYPES:
        errors.add("metric_type", "Unknown metric type. See GET /api/v1/metric-types/.")
    else:
        mtype = METRIC_TYPES[code]
        cleaned["metric_type"] = code

    unit = data.get("unit")
    if unit in (None, ""):
        unit = None
    elif not isinstance(unit, str):
        errors.add("unit", "Must be a string.")
        unit = None
    elif mtype is not None and unit not in mtype.units:
        accepted = ", ".join(mtype.units)
        errors.add("unit", f"That unit does not fit {mtype.label}; accepted: {accepted}.")
        unit = None

    if "value" not in data:
        errors.add("value", "This field is required.")
    else:
        number = _parse_number(data["value"], errors)
        if number is not None and mtype is not None and "unit" not in errors.items:
            value = mtype.to_canonical(number, unit)
            message = value_error(mtype.code, value)
            if message:
                errors.add("value", message)
            else:
                cleaned["value"] = value
                cleaned["unit"] = mtype.unit

    if limit is None:
        limit = future_limit(now)
    recorded_at = None
    if data.get("recorded_at") in (None, ""):
        errors.add("recorded_at", "This field is required.")
    else:
        recorded_at = _parse_datetime(data["recorded_at"], "recorded_at", errors)
        if recorded_at is not None and recorded_at > limit:
            errors.add("recorded_at", "Cannot be more than 1 hour in the future.")
            recorded_at = None
        cleaned["recorded_at"] = recorded_at

    end_at = None
    if data.get("end_at") not in (None, ""):
        end_at = _parse_datetime(data["end_at"], "end_at", errors)
        if end_at is not None:
            if end_at > limit:
                errors.add("end_at", "Cannot be more than 1 hour in the future.")
            elif recorded_at is not None and end_at < recorded_at:
                errors.add("end_at", "Must not be before recorded_at.")
            elif recorded_at is not None and end_at - recorded_at > MAX_SAMPLE_SPAN:
                errors.add("end_at", "A sample may span at most 24 hours.")
    cleaned["end_at"] = end_at

    device = data.get("device")
    if device in (None, ""):
        cleaned["device"] = None
    elif hasattr(device, "pk"):
        cleaned["device"] = device
    elif isinstance(device, bool) or not isinstance(device, int | str):
        errors.add("device", "Give a device id.")
    else:
        try:
            resolved = (devices or {}).get(int(device))
        except ValueError:
            resolved = None
        if resolved is None:
            errors.add("device", "Unknown device.")
        cleaned["device"] = resolved

    for field in ("source_app", "external_id", "notes"):
        cleaned[field] = _text(data, field, errors)

    metadata = data.get("metadata")
    if metadata is None:
        cleaned["metadata"] = {}
    elif not isinstance(metadata, dict):
        errors.add("metadata", "Must be a JSON object.")
    elif len(repr(metadata)) > MAX_METADATA_CHARS:
        errors.add("metadata", f"At most {MAX_METADATA_CHARS} characters.")
    else:
        cleaned["metadata"] = metadata
    return cleaned, errors


# The keys of a sample in the shape devices send (a device's own samples: no end, notes or
# metadata). `device` is ignored in a sync (the path names it); `end_at`, `notes` and
# `metadata` pass only as null.
_PLAIN_KEYS = frozenset(
    {"metric_type", "value", "unit", "recorded_at", "device", "source_app", "external_id"}
)
_NULL_ONLY_KEYS = ("end_at", "notes", "metadata")


def clean_plain_sample(data: Any, *, device: Any, limit: datetime) -> dict[str, Any] | None:
    """The cleaned values of one sync sample of `device` in the plain shape (a known type, a
    number within its range, an aware ISO 8601 time no later than `limit`, short texts);
    None when the sample is not that plain or anything in it is wrong. The caller then runs
    `clean_measurement`, which says what is wrong: every check here is one of
    `clean_measurement`'s, so a sample accepted here is cleaned to the same values. A device
    batch is thousands of these; this skips the general path's error bookkeeping."""
    if type(data) is not dict:
        return None
    if not _PLAIN_KEYS.issuperset(data) and not _null_extras(data):
        return None
    code = data.get("metric_type")
    if type(code) is not str:
        return None
    mtype = METRIC_TYPES.get(code)
    if mtype is None:
        return None
    unit = data.get("unit")
    if unit is None or unit == "":
        unit = None
    elif type(unit) is not str or unit not in mtype.units:
        return None
    number = data.get("value")
    if type(number) is not float and type(number) is not int:
        return None
    number = float(number)
    if not math.isfinite(number):
        return None
    value = mtype.to_canonical(number, unit)
    rng = RANGES[code]
    if not rng.low <= value <= rng.high or (code in WHOLE_NUMBER_TYPES and value != int(value)):
        return None
    raw = data.get("recorded_at")
    if type(raw) is not str:
        return None
    try:
        recorded_at = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    zone = recorded_at.tzinfo
    if zone is not UTC:  # "Z" and "+00:00" parse to UTC itself: nothing to check or convert
        if zone is None or recorded_at.utcoffset() is None:
            return None
        recorded_at = recorded_at.astimezone(UTC)
    if recorded_at > limit:
        return None
    source_app = data.get("source_app")
    if source_app is None:
        source_app = ""
    elif type(source_app) is not str or len(source_app) > MAX_TEXT["source_app"]:
        return None
    external_id = data.get("external_id")
    if external_id is None:
        external_id = ""
    elif type(external_id) is not str or len(external_id) > MAX_TEXT["external_id"]:
        return None
    return {
        "metric_type": code,
        "value": value,
        "unit": mtype.unit,
        "recorded_at": recorded_at,
        "end_at": None,
        "device": device,
        "source_app": source_app,
        "external_id": external_id,
        "notes": "",
        "metadata": {},
    }


def _null_extras(data: dict) -> bool:
    """Are the sample's keys beyond the plain ones only `_NULL_ONLY_KEYS` given as null?"""
    return all(key in _PLAIN_KEYS or key in _NULL_ONLY_KEYS and data[key] is None for key in data)


def clean_or_raise(data: dict, **kwargs) -> dict[str, Any]:
    """`clean_measurement`, raising Django's ValidationError with field messages."""
    cleaned, errors = clean_measurement(data, **kwargs)
    if errors:
        raise ValidationError(errors.items)
    return cleaned


def clean_device(device) -> None:
    """A device as its model defines it (a known type, a name and identifier within their
    lengths, a priority that is a small whole number >= 0, one identifier per person): its
    field definitions and unique constraint are its rules."""
    device.full_clean()
