"""Forms of the nutrition diary pages. The rules are the model's (`nutrition.validation`,
through the ModelForm's model validation and again in `nutrition.services`); these forms add
only the time of day, since a diary page is about one (UTC) day."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo

from django import forms
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxLengthValidator
from django.utils import timezone

from nutrition.models import Food, NutritionLog
from nutrition.validation import AMOUNT_FIELDS

NUMBER = {"step": "any", "inputmode": "decimal", "min": "0"}
CUSTOM_FIELDS = ["meal_type", "description", *AMOUNT_FIELDS]
MAX_DESCRIPTION = 1000  # as the API (nutrition.api.serializers.NutritionLogInputSerializer)


def default_time(day: date, tz: tzinfo = UTC) -> time:
    """Now on today's page, noon on another day's (in the diary owner's zone `tz`)."""
    now = timezone.now().astimezone(tz)
    return now.time().replace(second=0, microsecond=0) if day == now.date() else time(12, 0)


def likely_meal(at: time) -> str:
    """The meal a time of day suggests, preselected on a new entry."""
    hour = at.hour + at.minute / 60
    if 5 <= hour < 10.5:
        return NutritionLog.MealType.BREAKFAST
    if 11 <= hour < 14.5:
        return NutritionLog.MealType.LUNCH
    if 17.5 <= hour < 21.5:
        return NutritionLog.MealType.DINNER
    return NutritionLog.MealType.SNACK


class _DiaryEntryForm(forms.ModelForm):
    """A diary entry on a given day: `time` gives `logged_at` on that day, both in the diary
    owner's zone `tz` (`healthtrack.core.days`)."""

    time = forms.TimeField(
        label="Time",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )

    def __init__(self, *args, day: date, tz: tzinfo = UTC, **kwargs):
        super().__init__(*args, **kwargs)
        self.day, self.tz = day, tz
        if self.instance.pk is not None:
            self.initial.setdefault("time", self.instance.logged_at.astimezone(tz).time())
        else:
            self.initial.setdefault("time", default_time(day, tz))
            self.initial.setdefault("meal_type", likely_meal(self.initial["time"]))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("time") is not None:
            # Set before the model's own validation (which checks logged_at) runs.
            self.instance.logged_at = datetime.combine(
                self.day, cleaned["time"], tzinfo=self.tz
            ).astimezone(UTC)
        return cleaned

    def service_fields(self) -> dict:
        data = {name: self.cleaned_data[name] for name in self._meta.fields}
        data["logged_at"] = self.instance.logged_at
        return data

    def _on_form(self, exc: ValidationError) -> ValidationError:
        """The model's errors keyed by this form's fields: `logged_at` is the time field,
        a field the form does not show becomes an error of the whole form."""
        if not hasattr(exc, "error_dict"):
            return exc
        mapped: dict[str, list] = {}
        for name, errors in exc.error_dict.items():
            field = "time" if name == "logged_at" else name
            if field not in self.fields:
                if self._implied_by_another_error(name, exc.error_dict):
                    continue
                field = NON_FIELD_ERRORS
            for error in errors:
                if error.message not in [e.message for e in mapped.get(field, [])]:
                    mapped.setdefault(field, []).append(error)
        return ValidationError(mapped)

    def _implied_by_another_error(self, name: str, errors: dict) -> bool:
        return False

    def _update_errors(self, errors: ValidationError) -> None:
        # The model validation (nutrition.validation) runs in ModelForm._post_clean.
        super()._update_errors(self._on_form(errors))

    def add_service_errors(self, exc: ValidationError) -> None:
        self.add_error(None, self._on_form(exc))


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

    def _implied_by_another_error(self, name: str, errors: dict) -> bool:
        # Without a valid portion there are no nutrients: the portion's error says it all.
        return name in ("calories", "water_ml") and ("grams" in errors or "grams" in self.errors)


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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The API's limit (NutritionLogInputSerializer): the encrypted text column has none.
        description = self.fields["description"]
        description.max_length = MAX_DESCRIPTION
        description.validators.append(MaxLengthValidator(MAX_DESCRIPTION))
        description.widget.attrs["maxlength"] = str(MAX_DESCRIPTION)


class WaterForm(forms.Form):
    amount_ml = forms.FloatField(widget=forms.HiddenInput)


class MealPhotoForm(forms.Form):
    """The file is checked by content in `nutrition.photos`, not here (not by name or type)."""

    photo = forms.FileField(
        label="Photo",
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/jpeg,image/png,image/webp,image/heic,image/heif"}
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit_mb = settings.MEAL_PHOTO_MAX_BYTES // (1024 * 1024)
        self.fields["photo"].help_text = (
            f"JPEG, PNG, WebP or HEIC, up to {limit_mb} MB. Its location and other "
            "metadata are removed before it is stored."
        )
