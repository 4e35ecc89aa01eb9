"""Forms of the nutrition diary pages. The rules are the model's (`nutrition.validation`,
through the ModelForm's model validation and again in `nutrition.services`); these forms add
only the time of day, since a diary page is about one (UTC) day."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from nutrition.models import Food, NutritionLog
from nutrition.validation import AMOUNT_FIELDS

NUMBER = {"step": "any", "inputmode": "decimal", "min": "0"}
CUSTOM_FIELDS = ["meal_type", "description", *AMOUNT_FIELDS]


def default_time(day: date) -> time:
    """Now on today's page, noon on another day's."""
    now = timezone.now().astimezone(UTC)
    return now.time().replace(second=0, microsecond=0) if day == now.date() else time(12, 0)


class _DiaryEntryForm(forms.ModelForm):
    """A diary entry on a given day: `time` gives `logged_at` (UTC) on that day."""

    time = forms.TimeField(
        label="Time (UTC)",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )

    def __init__(self, *args, day: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.day = day
        if self.instance.pk is not None:
            self.initial.setdefault("time", self.instance.logged_at.astimezone(UTC).time())
        else:
            self.initial.setdefault("time", default_time(day))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("time") is not None:
            # Set before the model's own validation (which checks logged_at) runs.
            self.instance.logged_at = datetime.combine(self.day, cleaned["time"], tzinfo=UTC)
        return cleaned

    def service_fields(self) -> dict:
        data = {name: self.cleaned_data[name] for name in self._meta.fields}
        data["logged_at"] = self.instance.logged_at
        return data

    def add_service_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        for name, errors in exc.error_dict.items():
            field = "time" if name == "logged_at" else name
            self.add_error(field if field in self.fields else None, errors)


class FoodEntryForm(_DiaryEntryForm):
    """A portion of a catalogue food: its nutrients are the catalogue's, computed by the model."""

    class Meta:
        model = NutritionLog
        fields = ["meal_type", "grams"]
        labels = {"meal_type": "Meal", "grams": "Portion (g)"}
        help_texts = {"grams": "Weigh it, or guess: a medium apple is about 180 g."}
        widgets = {"grams": forms.NumberInput(attrs=NUMBER)}

    def __init__(self, *args, food: Food, **kwargs):
        super().__init__(*args, **kwargs)
        self.food = food
        self.instance.food = food
        self.fields["grams"].required = True

    def service_fields(self) -> dict:
        return {**super().service_fields(), "food": self.food}


class CustomEntryForm(_DiaryEntryForm):
    """Anything not in the catalogue, or a drink of water: the amounts as you know them."""

    class Meta:
        model = NutritionLog
        fields = CUSTOM_FIELDS
        labels = {
            "meal_type": "Meal",
            "description": "What was it?",
            "calories": "Energy (kcal)",
            "protein_g": "Protein (g)",
            "carbs_g": "Carbohydrate (g)",
            "fat_g": "Fat (g)",
            "fiber_g": "Fibre (g)",
            "sugar_g": "Sugars (g)",
            "sodium_mg": "Sodium (mg)",
            "water_ml": "Water (ml)",
        }
        help_texts = {
            "description": "Stored encrypted.",
            "calories": "Give the energy, the water, or both.",
        }
        widgets = {
            "description": forms.TextInput(),
            **{name: forms.NumberInput(attrs=NUMBER) for name in AMOUNT_FIELDS},
        }


class WaterForm(forms.Form):
    amount_ml = forms.FloatField(widget=forms.HiddenInput)
