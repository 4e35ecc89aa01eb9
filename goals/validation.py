"""The rules of a goal, in one place: the API, the admin and the demo all write through
`goals.services`, which cleans every create and update here.

Input is the public field names with the target and baseline in `unit` (None: the measure's
canonical unit). Output is model field values with both converted to the canonical unit.
`None` (or leaving a field out when creating) means "the default". Messages never repeat a
submitted value (targets are health data).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from goals.measures import GOAL_TYPES, MEASURES, Measure, fits, get_measure
from goals.models import DEFAULT_PERIOD_DAYS, MAX_PERIOD_DAYS, HealthGoal
from goals.progress import DECREASE, INCREASE, REACH
from metrics.registry import METRIC_TYPES

FIELDS = (
    "goal_type",
    "title",
    "description",
    "metric_type",
    "target_value",
    "unit",
    "direction",
    "period_days",
    "baseline_value",
    "start_date",
    "target_date",
    "priority",
    "status",
)
# A change to one of these changes what the goal measures: a completed goal is re-opened.
MEASURING_FIELDS = (
    "goal_type",
    "metric_type",
    "target_value",
    "direction",
    "period_days",
    "baseline_value",
    "start_date",
    "target_date",
)
MAX_TITLE = 200
MAX_DESCRIPTION = 2000
EARLIEST_DATE = date(2000, 1, 1)
MAX_START_AHEAD = timedelta(days=366)
MAX_GOAL_SPAN = timedelta(days=3660)  # ten years

BaselineOf = Callable[..., float | None]


class Errors(dict):
    def add(self, field: str, message: str) -> None:
        self.setdefault(field, []).append(message)


def _number(raw: Any, field: str, errors: Errors) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal | str):
        errors.add(field, "A number is required.")
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError, OverflowError):
        errors.add(field, "A number is required.")
        return None
    if not math.isfinite(value):
        errors.add(field, "NaN and infinite values are not allowed.")
        return None
    return value


def _label(measure: Measure) -> str:
    mtype = METRIC_TYPES.get(measure.code)
    return mtype.label if mtype is not None else measure.name.lower()


def _unit_label(measure: Measure) -> str:
    mtype = METRIC_TYPES.get(measure.code)
    return mtype.unit_label if mtype is not None else measure.unit


def _in_unit(
    raw: Any, field: str, measure: Measure | None, unit: str | None, errors: Errors
) -> float | None:
    """`raw` parsed and converted to the measure's canonical unit, range-checked."""
    value = _number(raw, field, errors)
    if value is None or measure is None or "unit" in errors:
        return None
    value = measure.to_canonical(value, unit)
    if not measure.min_value <= value <= measure.max_value:
        errors.add(
            field,
            f"Outside the plausible range for {_label(measure)}: "
            f"{measure.min_value:,g} to {measure.max_value:,g} {_unit_label(measure)}.",
        )
        return None
    return value


def _choice(raw: Any, field: str, choices, errors: Errors) -> str | None:
    if not isinstance(raw, str) or raw not in choices.values:
        errors.add(field, f"Unknown value; one of: {', '.join(choices.values)}.")
        return None
    return raw


def _date(raw: Any, field: str, errors: Errors) -> date | None:
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    errors.add(field, "A date (YYYY-MM-DD) is required.")
    return None


def default_title(
    *, measure: Measure, direction: str, target_value: float, period_days: int
) -> str:
    verb = {
        "increase": "up to",
        "decrease": "down to",
        "at_least": "at least",
        "at_most": "at most",
    }[direction]
    unit = "" if measure.unit == "count" else f" {measure.unit}"
    amount = f"{target_value:,.1f}".removesuffix(".0")
    every = " a day" if measure.daily_total else "" if measure.is_latest else " on average"
    return f"{measure.name} {verb} {amount}{unit}{every}"[:MAX_TITLE]


def _existing_title_is_default(goal: HealthGoal) -> bool:
    try:
        generated = default_title(
            measure=goal.measure,
            direction=goal.direction,
            target_value=goal.target_value,
            period_days=goal.period_days,
        )
    except KeyError:
        return False
    return goal.title == generated


def clean_goal(
    data: dict[str, Any],
    *,
    existing: HealthGoal | None,
    today: date,
    baseline_of: BaselineOf,
) -> dict[str, Any]:
    """Validate a create (`existing=None`) or a change of `existing` (only the given fields
    change, the rest keep their values). Returns every model field's value plus `reopen`
    (True: a completed goal's measure changed, so it is active again). Raises Django's
    ValidationError with `{field: [messages]}`; nothing is written here.

    `baseline_of(measure, period_days=, start_date=)` reads the person's starting figure.
    """
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise TypeError(f"Not a goal field: {', '.join(sorted(unknown))}")
    errors = Errors()
    given = dict(data)

    def was_given(field: str) -> bool:
        return field in given and given[field] is not None

    # Goal type and metric -------------------------------------------------------------------
    goal_type = given.get("goal_type") if was_given("goal_type") else None
    if goal_type is None and existing is not None:
        goal_type = existing.goal_type
    if goal_type is None:
        errors.add("goal_type", "This field is required.")
    elif not isinstance(goal_type, str) or goal_type not in GOAL_TYPES:
        errors.add("goal_type", f"Unknown goal type; one of: {', '.join(GOAL_TYPES)}.")
        goal_type = None
    type_changed = existing is not None and goal_type != existing.goal_type

    metric_type = None
    if was_given("metric_type"):
        metric_type = given["metric_type"]
        if not isinstance(metric_type, str) or metric_type not in MEASURES:
            errors.add(
                "metric_type",
                "Unknown metric type or nutrient. See GET /api/v1/metric-types/ and the "
                "nutrients calories, protein_g, carbs_g, fat_g, fiber_g, sugar_g, sodium_mg, "
                "water_ml.",
            )
            metric_type = None
    elif goal_type is not None:
        if (
            existing is not None
            and "metric_type" not in given
            and fits(goal_type, existing.metric_type)
        ):
            metric_type = existing.metric_type
        else:
            metric_type = GOAL_TYPES[goal_type].default_metric
            if metric_type is None:
                errors.add("metric_type", "Required for a custom goal.")
    if metric_type is not None and goal_type is not None and not fits(goal_type, metric_type):
        allowed = ", ".join(GOAL_TYPES[goal_type].metrics)
        errors.add("metric_type", f"Does not fit goal type '{goal_type}'; use: {allowed}.")
        metric_type = None
    measure = get_measure(metric_type) if metric_type is not None else None
    metric_changed = existing is None or (
        metric_type is not None and metric_type != existing.metric_type
    )

    # Unit -----------------------------------------------------------------------------------
    unit = given.get("unit")
    if unit in (None, ""):
        unit = None
    elif not isinstance(unit, str):
        errors.add("unit", "Must be a string.")
        unit = None
    elif measure is not None and unit not in measure.units:
        accepted = ", ".join(measure.units)
        errors.add("unit", f"Unit does not fit '{measure.code}'; accepted: {accepted}.")
        unit = None

    # Target ---------------------------------------------------------------------------------
    target_value = None
    if was_given("target_value"):
        target_value = _in_unit(given["target_value"], "target_value", measure, unit, errors)
        if target_value is not None and target_value <= 0:
            errors.add("target_value", "Must be greater than 0.")
            target_value = None
    elif existing is not None and not metric_changed:
        target_value = existing.target_value
    elif existing is not None:
        errors.add("target_value", "Give a target for the new metric.")
    else:
        errors.add("target_value", "This field is required.")

    # Period and dates -----------------------------------------------------------------------
    period_days = given.get("period_days")
    if period_days is None:
        if existing is not None and "period_days" not in given:
            period_days = existing.period_days
        else:
            period_days = DEFAULT_PERIOD_DAYS
    elif isinstance(period_days, bool) or not isinstance(period_days, int):
        errors.add("period_days", "A whole number of days is required.")
        period_days = None
    elif not 1 <= period_days <= MAX_PERIOD_DAYS:
        errors.add("period_days", f"From 1 to {MAX_PERIOD_DAYS} days.")
        period_days = None

    if was_given("start_date"):
        start_date = _date(given["start_date"], "start_date", errors)
        if start_date is not None and not (EARLIEST_DATE <= start_date <= today + MAX_START_AHEAD):
            errors.add("start_date", "Must be from 2000-01-01 to a year from today.")
            start_date = None
    elif existing is not None:
        # Left out: unchanged; null: the default, the day the goal was created.
        start_date = (
            existing.start_date if "start_date" not in given else existing.created_at.date()
        )
    else:
        start_date = today

    if "target_date" in given:
        target_date = given["target_date"]
        if target_date is not None:
            target_date = _date(target_date, "target_date", errors)
    else:
        target_date = existing.target_date if existing is not None else None
    if target_date is not None and start_date is not None:
        if target_date < start_date:
            errors.add("target_date", "Must not be before start_date.")
        elif target_date - start_date > MAX_GOAL_SPAN:
            errors.add("target_date", "At most ten years after start_date.")
        elif target_date < today and (existing is None or target_date != existing.target_date):
            errors.add("target_date", "Must not be in the past.")

    # Baseline -------------------------------------------------------------------------------
    baseline_value = None
    if was_given("baseline_value"):
        baseline_value = _in_unit(given["baseline_value"], "baseline_value", measure, unit, errors)
    elif existing is not None and "baseline_value" not in given and not metric_changed:
        baseline_value = existing.baseline_value
    elif measure is not None and period_days is not None and start_date is not None:
        baseline_value = baseline_of(measure, period_days=period_days, start_date=start_date)

    # Direction ------------------------------------------------------------------------------
    direction = None
    if was_given("direction"):
        direction = _choice(given["direction"], "direction", HealthGoal.Direction, errors)
    elif existing is not None and "direction" not in given and not type_changed:
        direction = existing.direction
    elif goal_type is not None:
        direction = GOAL_TYPES[goal_type].default_direction
        if direction is None and target_value is not None:
            if baseline_value is None:
                errors.add(
                    "direction",
                    "Required while there is no reading to compare the target with.",
                )
            elif target_value < baseline_value:
                direction = DECREASE
            elif target_value > baseline_value:
                direction = INCREASE
            else:
                direction = "at_most"
    direction_in_play = any(
        f in given for f in ("direction", "target_value", "baseline_value", "metric_type")
    )
    if (
        (existing is None or direction_in_play)
        and direction in REACH
        and baseline_value is not None
        and target_value is not None
    ):
        if direction == INCREASE and not target_value > baseline_value:
            errors.add(
                "direction",
                "increase needs a target above the baseline (where you start); "
                "to stay at or above a level, use at_least.",
            )
        elif direction == DECREASE and not target_value < baseline_value:
            errors.add(
                "direction",
                "decrease needs a target below the baseline (where you start); "
                "to stay at or below a level, use at_most.",
            )

    # Priority, status, texts ----------------------------------------------------------------
    if was_given("priority"):
        priority = _choice(given["priority"], "priority", HealthGoal.Priority, errors)
    elif existing is not None and "priority" not in given:
        priority = existing.priority
    else:
        priority = HealthGoal.Priority.MEDIUM

    current_status = existing.status if existing is not None else HealthGoal.Status.ACTIVE
    status = current_status
    if was_given("status"):
        status = _choice(given["status"], "status", HealthGoal.Status, errors)
        if status == HealthGoal.Status.COMPLETED and current_status != status:
            errors.add(
                "status",
                "A goal is completed by itself when your data meets it; set active or abandoned.",
            )
        elif existing is None and status == HealthGoal.Status.ABANDONED:
            errors.add("status", "A new goal is active.")

    description = given.get("description") or ""
    if "description" not in given and existing is not None:
        description = existing.description
    if not isinstance(description, str):
        errors.add("description", "Must be a string.")
    elif len(description) > MAX_DESCRIPTION:
        errors.add("description", f"At most {MAX_DESCRIPTION} characters.")

    title = given.get("title")
    if title is not None and not isinstance(title, str):
        errors.add("title", "Must be a string.")
        title = None
    title = (title or "").strip()
    if len(title) > MAX_TITLE:
        errors.add("title", f"At most {MAX_TITLE} characters.")

    if errors:
        raise ValidationError(dict(errors))

    if not title:
        keep = existing is not None and "title" not in given
        if keep and not _existing_title_is_default(existing):
            title = existing.title
        else:
            title = default_title(
                measure=measure,
                direction=direction,
                target_value=target_value,
                period_days=period_days,
            )

    cleaned = {
        "goal_type": goal_type,
        "title": title,
        "description": description,
        "metric_type": metric_type,
        "target_value": target_value,
        "unit": measure.unit,
        "direction": direction,
        "period_days": period_days,
        "baseline_value": round(baseline_value, 2) if baseline_value is not None else None,
        "start_date": start_date,
        "target_date": target_date,
        "priority": priority,
        "status": status,
    }
    reopen = False
    if existing is not None and existing.status == HealthGoal.Status.COMPLETED:
        measuring_changed = any(cleaned[f] != getattr(existing, f) for f in MEASURING_FIELDS)
        if measuring_changed or status == HealthGoal.Status.ACTIVE:
            reopen = True
            cleaned["status"] = HealthGoal.Status.ACTIVE
    cleaned["reopen"] = reopen
    return cleaned
