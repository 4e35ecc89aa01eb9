"""The dashboard's quick-log forms. Each collects one number; the amounts' rules are the
owning app's (nutrition.validation, metrics.validation), applied by its services."""

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
    minutes = forms.FloatField(
        label="Workout (minutes)", error_messages={"required": "Give the workout's minutes."}
    )


class QuickFoodForm(_QuickForm):
    calories = forms.FloatField(
        label="Energy (kcal)", error_messages={"required": "Give the food's energy in kcal."}
    )
    description = forms.CharField(label="What", required=False, max_length=200)
