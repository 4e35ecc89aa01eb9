"""The rules of a care program and its logs, for `goals.care_programs.programs` and
`goals.care_programs.program_logs` to call before they write. Errors are keyed by field
(`config`, `title`, `status`, `end_date`, `log_type`, `payload.<name>`, `timestamp`, `note`).

Checks that need stored rows under the write's lock (at most MAX_ACTIVE_PROGRAMS active
programs, a log already reviewed, a device of this person) stay in the write functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from goals.care_programs.models import PROGRAM_DEFAULT_DAYS, CareProgram
from healthtrack.core import days as calendar
from metrics.registry import METRIC_TYPES

MAX_PROGRAM_DAYS = 366
MAX_FUTURE = timedelta(minutes=5)
REVIEW_NOTE_MAX_LENGTH = 1000


@dataclass(frozen=True)
class Target:
    dimension: str
    key: str
    source: str  # "metric" (a daily rollup) or "nutrition" (a daily total)
    code: str  # metric type code or nutrition amount field
    upper: float  # the largest bound accepted


TARGETS = [
    Target("nutrition", "calories", "nutrition", "calories", 10000),
    Target("nutrition", "protein_g", "nutrition", "protein_g", 500),
    Target("activity", "steps", "metric", "steps", 100000),
    Target("activity", "exercise_minutes", "metric", "exercise", 1440),
    Target("sleep", "minutes", "metric", "sleep", 1440),
]
TARGET_KEYS = {(t.dimension, t.key): t for t in TARGETS}
DIMENSIONS = ("nutrition", "activity", "strength", "sleep")


# --- configuration -----------------------------------------------------------------------------


def _number(value: Any, where: str, upper: float, errors: list[str]) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors.append(f"{where} must be a number.")
        return None
    if not 0 <= value <= upper:
        errors.append(f"{where} must be between 0 and {upper:g}.")
        return None
    return float(value)


def clean_program_config(config: Any) -> dict:
    """The configuration with numbers as floats; `ValidationError({"config": [...]})` naming
    each problem otherwise."""
    errors: list[str] = []
    if not isinstance(config, dict):
        raise ValidationError({"config": ["Must be an object."]})
    cleaned: dict[str, dict] = {}
    for dimension, body in config.items():
        if dimension not in DIMENSIONS:
            errors.append(f"Unknown dimension {dimension!r}; use {', '.join(DIMENSIONS)}.")
            continue
        if not isinstance(body, dict) or not body:
            errors.append(f"{dimension} must be a non-empty object.")
            continue
        if dimension == "strength":
            extra = set(body) - {"sessions_per_week"}
            per_week = body.get("sessions_per_week")
            if extra:
                errors.append(f"strength: unknown keys {sorted(extra)}.")
            if (
                isinstance(per_week, bool)
                or not isinstance(per_week, int)
                or not 1 <= per_week <= 14
            ):
                errors.append("strength.sessions_per_week must be a whole number from 1 to 14.")
            else:
                cleaned["strength"] = {"sessions_per_week": per_week}
            continue
        out: dict[str, dict] = {}
        for key, bounds in body.items():
            target = TARGET_KEYS.get((dimension, key))
            where = f"{dimension}.{key}"
            if target is None:
                known = [t.key for t in TARGETS if t.dimension == dimension]
                errors.append(f"{where}: unknown target; use {', '.join(known)}.")
                continue
            if not isinstance(bounds, dict) or not bounds or set(bounds) - {"min", "max"}:
                errors.append(f"{where} must be an object with min and/or max.")
                continue
            lo = (
                _number(bounds["min"], f"{where}.min", target.upper, errors)
                if "min" in bounds
                else None
            )
            hi = (
                _number(bounds["max"], f"{where}.max", target.upper, errors)
                if "max" in bounds
                else None
            )
            if lo is not None and hi is not None and lo > hi:
                errors.append(f"{where}: min is above max.")
                continue
            if (lo is None and "min" in bounds) or (hi is None and "max" in bounds):
                continue
            if hi == 0:
                errors.append(f"{where}.max must be above 0.")
                continue
            out[key] = {k: v for k, v in (("min", lo), ("max", hi)) if v is not None}
        if out:
            cleaned[dimension] = out
    if errors:
        raise ValidationError({"config": errors})
    if not cleaned:
        raise ValidationError({"config": ["Set at least one daily target."]})
    return cleaned


def clean_program_dates(
    start_date: date | None, end_date: date | None, user=None
) -> tuple[date, date]:
    """The program's first and last day (today and PROGRAM_DEFAULT_DAYS on when not given):
    in order, at most MAX_PROGRAM_DAYS days apart."""
    start_date = start_date or calendar.today(user)
    end_date = end_date or start_date + timedelta(days=PROGRAM_DEFAULT_DAYS - 1)
    if end_date < start_date:
        raise ValidationError({"end_date": ["Must not be before the start date."]})
    if (end_date - start_date).days + 1 > MAX_PROGRAM_DAYS:
        raise ValidationError({"end_date": [f"A program lasts at most {MAX_PROGRAM_DAYS} days."]})
    return start_date, end_date


def clean_program_title(title: str | None) -> None:
    if not (title or "").strip():
        raise ValidationError({"title": ["A title is required."]})


def clean_program_status(status: str) -> None:
    if status not in CareProgram.Status.values:
        raise ValidationError({"status": ["Choose active or completed."]})


# --- logs --------------------------------------------------------------------------------------

VITAL_TYPES = sorted(code for code, t in METRIC_TYPES.items() if t.category == "vitals")
MEAL_TYPES = ("breakfast", "lunch", "dinner", "snack")

# field -> (kind, bounds or length, required)
SCHEMAS: dict[str, dict[str, tuple[str, Any, bool]]] = {
    "NUTRITION": {
        "description": ("text", 500, False),
        "calories": ("number", (0, 10_000), False),
        "protein_g": ("number", (0, 500), False),
        "meal_type": ("choice", MEAL_TYPES, False),
    },
    "WORKOUT": {
        "duration_minutes": ("number", (1, 1440), False),
        "sets": ("integer", (1, 100), False),
        "reps": ("integer", (1, 1000), False),
        "activity": ("text", 50, False),
    },
    "MEDICATION": {
        "name": ("text", 100, True),
        "dose": ("text", 50, False),
        "taken": ("boolean", None, True),
    },
    "SYMPTOM": {
        "symptom": ("text", 100, True),
        "severity": ("integer", (0, 10), True),
        "notes": ("text", 500, False),
    },
    "VITALS": {
        "metric_type": ("choice", tuple(VITAL_TYPES), True),
        "value": ("number", None, True),  # bounds: the metric type's own
    },
}


def _field_error(name: str, message: str) -> ValidationError:
    return ValidationError({f"payload.{name}": [message]})


def _clean_value(name: str, value: Any, kind: str, spec: Any) -> Any:
    if kind == "text":
        if not isinstance(value, str) or not value.strip():
            raise _field_error(name, "Must be non-empty text.")
        if len(value) > spec:
            raise _field_error(name, f"At most {spec} characters.")
        return value.strip()
    if kind == "choice":
        if value not in spec:
            raise _field_error(name, f"Choose one of {', '.join(spec)}.")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _field_error(name, "Must be true or false.")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _field_error(name, "Must be a number.")
    if value != value or value in (float("inf"), float("-inf")):
        raise _field_error(name, "Must be a finite number.")
    if kind == "integer" and value != int(value):
        raise _field_error(name, "Must be a whole number.")
    if spec is not None and not spec[0] <= value <= spec[1]:
        raise _field_error(name, f"Must be between {spec[0]:g} and {spec[1]:g}.")
    return int(value) if kind == "integer" else float(value)


def clean_payload(log_type: str, payload: Any) -> dict:
    """The payload checked against its type's schema; `ValidationError` naming the field."""
    schema = SCHEMAS.get(log_type)
    if schema is None:
        raise ValidationError({"log_type": [f"Choose one of {', '.join(SCHEMAS)}."]})
    if not isinstance(payload, dict):
        raise ValidationError({"payload": ["Must be an object."]})
    unknown = sorted(set(payload) - set(schema))
    if unknown:
        raise ValidationError(
            {"payload": [f"Unknown field(s) {', '.join(unknown)} for {log_type}."]}
        )
    cleaned: dict[str, Any] = {}
    for name, (kind, spec, required) in schema.items():
        if payload.get(name) is None:
            if required:
                raise _field_error(name, f"Required for {log_type}.")
            continue
        cleaned[name] = _clean_value(name, payload[name], kind, spec)
    no_sets = "sets" not in cleaned or "reps" not in cleaned
    if log_type == "WORKOUT" and "duration_minutes" not in cleaned and no_sets:
        raise _field_error("duration_minutes", "A workout needs a duration or sets and reps.")
    if log_type == "NUTRITION" and not ({"description", "calories"} & set(cleaned)):
        raise _field_error("calories", "A meal needs a description or calories.")
    if log_type == "VITALS":
        kind = METRIC_TYPES[cleaned["metric_type"]]
        if not kind.min_value <= cleaned["value"] <= kind.max_value:
            raise _field_error(
                "value",
                f"{kind.name} must be between {kind.min_value:g} and {kind.max_value:g} "
                f"{kind.unit}.",
            )
    return cleaned


def clean_log_timestamp(timestamp: datetime) -> None:
    """A log's time: aware, and not more than MAX_FUTURE ahead of now."""
    if timestamp.tzinfo is None:
        raise ValidationError({"timestamp": ["Must include a time zone."]})
    if timestamp > timezone.now() + MAX_FUTURE:
        raise ValidationError({"timestamp": ["Must not be in the future."]})


def clean_review_note(note: str | None) -> None:
    """A reviewer's note on a log: at most REVIEW_NOTE_MAX_LENGTH characters."""
    if len(note or "") > REVIEW_NOTE_MAX_LENGTH:
        raise ValidationError({"note": ["At most 1000 characters."]})


def clean_reject_note(note: str | None) -> None:
    """A rejection says why."""
    if not (note or "").strip():
        raise ValidationError({"note": ["Say why the log is rejected."]})
