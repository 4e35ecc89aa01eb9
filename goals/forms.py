"""The goal form of the goals pages. It only collects input: every rule (units that fit,
plausible targets, dates, directions) is `goals.validation`'s, run by `goals.services`, and
its errors are shown on the fields."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from goals.measures import GOAL_TYPES, MEASURE_CHOICES, MEASURES, Measure, get_measure
from goals.models import HealthGoal
from metrics.figures import round_half_up

UNIT_LABELS = {"count": "steps", "min": "minutes", "h": "hours"}
# Units whose figures read best as whole numbers (7,246 steps, 2,029 ml).
WHOLE_UNITS = frozenset({"count", "ml", "kcal", "mg", "min", "m", "bpm"})
GOAL_TYPE_HELP = {
    "steps": "Walk a number of steps a day, on average.",
    "weight": "Reach a weight, or stay under one.",
    "sleep": "Sleep a number of hours a night, on average.",
    "exercise": "Exercise minutes, active energy or distance a day.",
    "water": "Drink an amount of water a day.",
    "calories": "Keep your daily energy intake under a limit.",
    "heart_rate": "Bring your resting heart rate down.",
    "custom": "Any other measurement or nutrient.",
}


def unit_label(unit: str) -> str:
    return UNIT_LABELS.get(unit, unit)


def format_amount(measure: Measure, value: float | None) -> str:
    """A goal figure as people read it: "7,450 steps", "7 h 30 min", "72.5 kg"."""
    if value is None:
        return "—"
    if measure.unit == "min" and measure.code == "sleep":
        hours, minutes = divmod(round(value), 60)
        return f"{hours} h {minutes:02d} min"
    decimals = 0 if measure.unit in WHOLE_UNITS else 1
    # The shared rounding rule (half away from zero), so a goal states the figure the cards,
    # the report and the API state.
    amount = f"{round_half_up(value, decimals):,.{decimals}f}".removesuffix(".0")
    return f"{amount} {unit_label(measure.unit)}"


class GoalForm(forms.Form):
    """One goal of a fixed goal type (chosen on the page before)."""

    metric_type = forms.ChoiceField(label="What to measure", required=False)
    target_value = forms.CharField(
        label="Target",
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    unit = forms.ChoiceField(label="Unit", required=False)
    direction = forms.ChoiceField(
        label="Aim",
        required=False,
        choices=[("", "The usual for this goal")] + list(HealthGoal.Direction.choices),
    )
    period_days = forms.IntegerField(
        label="Averaged over (days)",
        required=False,
        help_text="Daily figures are averaged over this many complete days. Default 7.",
        widget=forms.NumberInput(attrs={"min": "1", "max": "365"}),
    )
    target_date = forms.DateField(
        label="Reach it by",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="Leave empty for a habit with no end date.",
    )
    priority = forms.ChoiceField(
        label="Priority", choices=HealthGoal.Priority.choices, initial="medium"
    )
    title = forms.CharField(
        label="Name",
        required=False,
        max_length=200,
        help_text="Leave empty for a name made from the target, e.g. “Steps at least 8,000 a day”.",
    )
    description = forms.CharField(
        label="Why it matters to you",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Stored encrypted.",
    )

    def __init__(self, *args, goal_type: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.goal_type = goal_type
        rule = GOAL_TYPES[goal_type]
        codes = rule.metrics or tuple(MEASURES)
        self.fields["metric_type"].choices = [(c, n) for c, n in MEASURE_CHOICES if c in codes]
        self.fields["metric_type"].initial = rule.default_metric
        if len(codes) == 1:
            self.fields["metric_type"].widget = forms.HiddenInput()
        units: list[str] = []
        for code in codes:
            units += [u for u in get_measure(code).units if u not in units]
        if goal_type == "custom":
            self.fields["unit"].choices = [("", "Its usual unit")]
            self.fields["unit"].widget = forms.HiddenInput()
        else:
            self.fields["unit"].choices = [(u, unit_label(u)) for u in units]
            self.fields["unit"].initial = get_measure(rule.default_metric).unit
            if len(units) == 1:
                self.fields["unit"].widget = forms.HiddenInput()
        if get_measure(rule.default_metric or "steps").is_latest:
            del self.fields["period_days"]

    @classmethod
    def for_goal(cls, goal: HealthGoal, **kwargs) -> GoalForm:
        initial = {
            "metric_type": goal.metric_type,
            "target_value": f"{goal.target_value:g}",
            "unit": goal.unit,
            "direction": goal.direction,
            "period_days": goal.period_days,
            "target_date": goal.target_date,
            "priority": goal.priority,
            "title": goal.title,
            "description": goal.description,
        }
        return cls(initial=initial, goal_type=goal.goal_type, **kwargs)

    def service_fields(self) -> dict:
        data = self.cleaned_data
        fields = {
            "metric_type": data.get("metric_type") or None,
            "target_value": data["target_value"],
            "unit": data.get("unit") or None,
            "direction": data.get("direction") or None,
            "target_date": data.get("target_date"),
            "priority": data["priority"],
            "title": data.get("title") or "",
            "description": data.get("description") or "",
        }
        if "period_days" in self.fields:
            fields["period_days"] = data.get("period_days")
        return fields

    def add_service_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        for name, errors in exc.error_dict.items():
            field = name if name in self.fields and not self.fields[name].widget.is_hidden else None
            self.add_error(field, errors)
