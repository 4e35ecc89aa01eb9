"""The dashboard's quick-log forms. They only parse types; the amounts' rules are the owning
apps' (nutrition.validation, metrics.validation), applied by the quick-log services."""

from __future__ import annotations

from django import forms


class _QuickForm(forms.Form):
    def error_text(self) -> str:
        return " ".join(str(e) for errors in self.errors.values() for e in errors)


class QuickWaterForm(_QuickForm):
    amount_ml = forms.FloatField(
        label="Water (ml)", error_messages={"required": "Choose how much water you drank."}
    )


class QuickGymForm(_QuickForm):
    activity = forms.CharField(label="Activity", required=False, max_length=100)
    minutes = forms.IntegerField(
        label="Minutes", error_messages={"required": "Give the workout's minutes."}
    )


class QuickFoodForm(_QuickForm):
    food = forms.CharField(
        label="What did you eat?",
        max_length=200,
        error_messages={"required": "Say what you ate, e.g. “an apple”."},
    )
    calories = forms.FloatField(label="Energy (kcal)", required=False)
