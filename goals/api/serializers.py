"""Explicit input and output shapes of the goals API.

The input serializer only parses types (choices, finite numbers, dates); the rules (units that
fit the metric, plausible targets, dates, directions, status changes) live in
`goals.validation` and run in the service, so every door refuses the same things.
Computed fields (`current_value`, `progress_percent`, `on_track`, `completed_at`, ...) are
output only: sent in a request body they are ignored, like `id` and `user`.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from goals.measures import MEASURE_CHOICES
from goals.models import MAX_PERIOD_DAYS, HealthGoal
from goals.validation import MAX_DESCRIPTION, MAX_TITLE
from healthtrack.core.api.strict import StrictFieldsMixin


class FiniteFloatField(serializers.FloatField):
    """A finite JSON number (or numeric string); booleans are not numbers."""

    default_error_messages = {"invalid": "A finite number is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


def _optional(field_class, **kwargs):
    return field_class(required=False, allow_null=True, **kwargs)


class HealthGoalInputSerializer(StrictFieldsMixin, serializers.Serializer):
    """POST and PUT body (PATCH: any subset). Null or left out means the default; on PUT, left
    out optional fields take their defaults too (`start_date`: the day the goal was created;
    `status` is kept)."""

    goal_type = serializers.ChoiceField(choices=HealthGoal.GoalType.choices)
    title = _optional(
        serializers.CharField,
        allow_blank=True,
        max_length=MAX_TITLE,
        help_text="Default: generated from the target, e.g. 'Steps at least 8,000 a day'.",
    )
    description = _optional(
        serializers.CharField, allow_blank=True, max_length=MAX_DESCRIPTION, trim_whitespace=False
    )
    metric_type = _optional(
        serializers.ChoiceField,
        choices=MEASURE_CHOICES,
        help_text="A metric type code (GET /api/v1/metric-types/) or a nutrient (calories, "
        "protein_g, carbs_g, fat_g, fiber_g, sugar_g, sodium_mg, water_ml). Default: the goal "
        "type's (steps, weight, sleep, exercise, water_ml, calories, resting_heart_rate).",
    )
    target_value = FiniteFloatField(help_text="In `unit`; stored in the canonical unit.")
    unit = _optional(
        serializers.CharField,
        allow_blank=True,
        max_length=16,
        help_text="Unit of target_value and baseline_value; one the metric accepts "
        "(default: its canonical unit).",
    )
    direction = _optional(
        serializers.ChoiceField,
        choices=HealthGoal.Direction.choices,
        help_text="Default per goal type (at_least; calories and heart rate at_most; weight: "
        "decrease when the target is below the latest weight, else increase).",
    )
    period_days = _optional(
        serializers.IntegerField,
        min_value=1,
        max_value=MAX_PERIOD_DAYS,
        help_text="Daily-average goals: how many complete days are averaged (default 7).",
    )
    baseline_value = _optional(
        FiniteFloatField, help_text="Where you start, in `unit`. Default: read from your data."
    )
    start_date = _optional(serializers.DateField, help_text="Default: today (UTC).")
    target_date = _optional(serializers.DateField)
    priority = _optional(serializers.ChoiceField, choices=HealthGoal.Priority.choices)
    status = serializers.ChoiceField(
        choices=HealthGoal.Status.choices,
        required=False,
        help_text="active or abandoned; completed is set by the data, never by hand.",
    )


#: PUT replaces the goal: these optional fields, when left out, go back to their defaults.
PUT_DEFAULTS = {
    "title": None,
    "description": "",
    "metric_type": None,
    "unit": None,
    "direction": None,
    "period_days": None,
    "baseline_value": None,
    "start_date": None,
    "target_date": None,
    "priority": None,
}


class HealthGoalSerializer(serializers.ModelSerializer):
    reading = serializers.SerializerMethodField(
        help_text="How current_value is read: `latest` (the newest reading, e.g. weight) or "
        "`daily_average` (the mean daily figure over the last period_days complete days)."
    )

    class Meta:
        model = HealthGoal
        fields = [
            "id",
            "user",
            "goal_type",
            "title",
            "description",
            "metric_type",
            "target_value",
            "unit",
            "direction",
            "period_days",
            "reading",
            "baseline_value",
            "start_date",
            "target_date",
            "priority",
            "status",
            "current_value",
            "progress_percent",
            "on_track",
            "progress_updated_at",
            "completed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=["latest", "daily_average"]))
    def get_reading(self, goal: HealthGoal) -> str:
        return goal.reading
