"""Validation of one measurement, shared by the single-object API, device sync and services.

Written as plain Python rather than a DRF serializer because a sync batch holds up to 5,000
samples and the per-field machinery of serializers costs more than the database write.
Messages never repeat the submitted value (it is health data).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from metrics.registry import METRIC_TYPES

MAX_SAMPLE_SPAN = timedelta(hours=24)
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


@dataclass
class Errors:
    """Field -> messages, in the order found."""

    items: dict[str, list[str]]

    def add(self, field: str, message: str) -> None:
        self.items.setdefault(field, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.items)


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
    data: Any, *, devices: dict[int, Any] | None = None, now: datetime | None = None
) -> tuple[dict[str, Any], Errors]:
    """Validate one measurement given as a mapping of the public field names.

    `devices` maps the ids the owner may name in `device` to Device objects (a Device
    instance in `data["device"]` is taken as already resolved). Returns the cleaned values
    (value converted to the canonical unit, times in UTC) and the errors found; the cleaned
    values are meaningful only when there are no errors.
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
        errors.add("unit", f"Unit does not fit type '{mtype.code}'; accepted: {accepted}.")
        unit = None

    if "value" not in data:
        errors.add("value", "This field is required.")
    else:
        number = _parse_number(data["value"], errors)
        if number is not None and mtype is not None and "unit" not in errors.items:
            value = mtype.to_canonical(number, unit)
            if not mtype.min_value <= value <= mtype.max_value:
                errors.add(
                    "value",
                    f"Outside the plausible range for {mtype.code}: "
                    f"{mtype.min_value:g} to {mtype.max_value:g} {mtype.unit}.",
                )
            else:
                cleaned["value"] = value
                cleaned["unit"] = mtype.unit

    limit = now + future_tolerance()
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


def clean_or_raise(data: dict, **kwargs) -> dict[str, Any]:
    """`clean_measurement`, raising Django's ValidationError with field messages."""
    cleaned, errors = clean_measurement(data, **kwargs)
    if errors:
        raise ValidationError(errors.items)
    return cleaned
