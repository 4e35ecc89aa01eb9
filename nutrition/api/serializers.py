"""Explicit input and output shapes of the nutrition API.

Input serializers only parse types (numbers, choices, aware times, catalogue ids); the diary's
rules (bounds, food + grams, calories-or-water) live in nutrition.validation and run in the
service through the model, so the API, the admin and the dashboard refuse the same things.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from healthtrack.core.api.strict import StrictFieldsMixin
from nutrition.models import Food, MealPhoto, NutritionLog, NutritionTargets
from nutrition.validation import AMOUNT_FIELDS, NUTRIENT_FIELDS

MAX_DAILY_RANGE_DAYS = 366
DEFAULT_DAILY_RANGE_DAYS = 7


class AmountField(serializers.FloatField):
    """A finite JSON number (or numeric string); booleans are not amounts."""

    default_error_messages = {"invalid": "A finite number is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with an offset or `Z`; a time without one is refused, never guessed."""

    default_error_messages = {"naive": "Give a time zone offset, e.g. 2026-01-31T08:00:00Z."}

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)


def _amount(**kwargs) -> AmountField:
    return AmountField(required=False, allow_null=True, default=None, **kwargs)


class NutritionLogInputSerializer(StrictFieldsMixin, serializers.Serializer):
    """POST / PUT body (PATCH: any subset). Omitted optional fields are empty on POST and PUT."""

    meal_type = serializers.ChoiceField(choices=NutritionLog.MealType.choices)
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=1000
    )
    calories = _amount(help_text="kcal; computed when `food` is given")
    protein_g = _amount()
    carbs_g = _amount()
    fat_g = _amount()
    fiber_g = _amount()
    sugar_g = _amount()
    sodium_mg = _amount()
    water_ml = _amount()
    logged_at = AwareDateTimeField()
    food = serializers.PrimaryKeyRelatedField(
        queryset=Food.objects.all(), required=False, allow_null=True, default=None
    )
    grams = _amount(help_text="portion of `food` in grams; its nutrients are computed from it")


class MealPhotoSerializer(serializers.ModelSerializer):
    """A diary entry's photo. The URLs are API endpoints that check, on every request, that
    the caller may read the entry (send the same JWT or session); nothing is public."""

    image_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField(
        help_text="null until the thumbnail task has run"
    )

    class Meta:
        model = MealPhoto
        fields = [
            "content_type",
            "width",
            "height",
            "size_bytes",
            "created_at",
            "image_url",
            "thumbnail_url",
        ]
        read_only_fields = fields

    def get_image_url(self, photo: MealPhoto) -> str:
        return photo_api_url(photo, "image")

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_thumbnail_url(self, photo: MealPhoto) -> str | None:
        return photo_api_url(photo, "thumbnail") if photo.has_thumbnail else None


def photo_api_url(photo: MealPhoto, kind: str) -> str:
    """The access-checked API path of a photo's image or thumbnail; `v` changes with the
    photo, so a replaced photo is not served from a browser's cache."""
    path = reverse(f"api-nutrition-log-photo-{kind}", args=[photo.log_id])
    return f"{path}?v={photo.pk}"


class MealPhotoUploadSerializer(StrictFieldsMixin, serializers.Serializer):
    photo = serializers.FileField(
        help_text="JPEG, PNG, WebP or HEIC, told by content; at most MEAL_PHOTO_MAX_BYTES"
    )


def _photo_data(log: NutritionLog) -> dict | None:
    try:
        photo = log.photo
    except ObjectDoesNotExist:
        return None
    return MealPhotoSerializer(photo).data


class NutritionLogSerializer(serializers.ModelSerializer):
    food_name = serializers.SerializerMethodField()
    photo = serializers.SerializerMethodField()

    class Meta:
        model = NutritionLog
        fields = [
            "id",
            "user",
            "meal_type",
            "description",
            *AMOUNT_FIELDS,
            "logged_at",
            "food",
            "food_name",
            "grams",
            "photo",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(MealPhotoSerializer(allow_null=True))
    def get_photo(self, log: NutritionLog) -> dict | None:
        return _photo_data(log)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_food_name(self, log: NutritionLog) -> str | None:
        return log.food.name if log.food_id is not None else None


def _iso(moment: datetime | None) -> str | None:
    """A DateTimeField's representation (ISO 8601, UTC as `Z`; the project's zone is UTC)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def log_data(log: NutritionLog) -> dict[str, Any]:
    """`NutritionLogSerializer(log).data`, written out: the same keys, order and values,
    without building a ModelSerializer's ~20 fields on every diary write, which cost more CPU
    than the write's statements (issue 15). `tests/nutrition/test_api_logs.py` holds the two
    equal."""
    return {
        "id": log.pk,
        "user": log.user_id,
        "meal_type": log.meal_type,
        "description": str(log.description),
        **{field: _float(getattr(log, field)) for field in AMOUNT_FIELDS},
        "logged_at": _iso(log.logged_at),
        "food": log.food_id,
        "food_name": log.food.name if log.food_id is not None else None,
        "grams": _float(log.grams),
        "photo": _photo_data(log),
        "created_at": _iso(log.created_at),
        "updated_at": _iso(log.updated_at),
    }


class Per100gSerializer(serializers.Serializer):
    calories = serializers.FloatField()
    protein_g = serializers.FloatField()
    carbs_g = serializers.FloatField()
    fat_g = serializers.FloatField()
    fiber_g = serializers.FloatField()
    sugar_g = serializers.FloatField()
    sodium_mg = serializers.FloatField()


class FoodSerializer(serializers.ModelSerializer):
    per_100g = serializers.SerializerMethodField()

    class Meta:
        model = Food
        fields = ["id", "name", "category", "per_100g"]
        read_only_fields = fields

    @extend_schema_field(Per100gSerializer)
    def get_per_100g(self, food: Food) -> dict:
        return {field: getattr(food, field) for field in NUTRIENT_FIELDS}


class DailyQuerySerializer(serializers.Serializer):
    start = serializers.DateField(
        required=False, help_text="first day (the person's local days), default end - 6"
    )
    end = serializers.DateField(
        required=False, help_text="last day (the person's local days), default their today"
    )
    user_id = serializers.IntegerField(
        required=False, help_text="whose diary (default: yours); others you may not read: 404"
    )

    def validate(self, attrs):
        if "end" in attrs:  # else the range is checked once the person's today is known
            days_asked(attrs, today=attrs["end"])
        return attrs


def days_asked(query: dict, *, today: date) -> tuple[date, date]:
    """(start, end) of a validated `DailyQuerySerializer` query: `end` defaults to `today`
    (the person's, `healthtrack.core.days`, which the view knows once it knows whose diary),
    `start` to the 7 days up to `end`. A range the API refuses is a 400 naming the field."""
    end = query.get("end") or today
    start = query.get("start") or end - timedelta(days=DEFAULT_DAILY_RANGE_DAYS - 1)
    if start > end:
        raise serializers.ValidationError({"start": ["Must be on or before end."]})
    if (end - start).days + 1 > MAX_DAILY_RANGE_DAYS:
        raise serializers.ValidationError(
            {"end": [f"At most {MAX_DAILY_RANGE_DAYS} days from start."]}
        )
    return start, end


class DayTotalsSerializer(serializers.Serializer):
    date = serializers.DateField()
    entries = serializers.IntegerField()
    calories = serializers.FloatField()
    protein_g = serializers.FloatField()
    carbs_g = serializers.FloatField()
    fat_g = serializers.FloatField()
    fiber_g = serializers.FloatField()
    sugar_g = serializers.FloatField()
    sodium_mg = serializers.FloatField()
    water_ml = serializers.FloatField()


class TargetSourcesSerializer(serializers.Serializer):
    calories = serializers.CharField(allow_null=True, help_text="override | mifflin_st_jeor")
    protein_g = serializers.CharField(allow_null=True, help_text="override | 0.8_g_per_kg")
    water_ml = serializers.CharField(help_text="override | default")


class TargetBasisSerializer(serializers.Serializer):
    bmr = serializers.FloatField(allow_null=True)
    activity_factor = serializers.FloatField()
    weight_kg = serializers.FloatField(allow_null=True)
    missing = serializers.ListField(child=serializers.CharField())


class TargetsSerializer(serializers.Serializer):
    calories = serializers.FloatField(allow_null=True)
    protein_g = serializers.FloatField(allow_null=True)
    water_ml = serializers.FloatField()
    sources = TargetSourcesSerializer()
    basis = TargetBasisSerializer()


class DailyTotalsSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    start = serializers.DateField()
    end = serializers.DateField()
    targets = TargetsSerializer()
    days = DayTotalsSerializer(many=True)


class NutritionTargetsSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A user's own targets (null = calculated); `effective` is what applies today."""

    effective = serializers.SerializerMethodField()

    class Meta:
        model = NutritionTargets
        fields = ["calories", "protein_g", "water_ml", "effective"]

    @extend_schema_field(TargetsSerializer)
    def get_effective(self, targets: NutritionTargets) -> dict:
        return self.context["effective"]


def _float(value) -> float | None:
    return None if value is None else float(value)


def daily_totals_data(body: dict) -> dict:
    """`DailyTotalsSerializer(body).data`, built directly: the same keys in the same order and
    the same values (the fields' `to_representation`: floats, ISO dates, None kept), without
    deep-copying the serializer's ~40 field objects on every diary read, which cost more CPU
    than the read's SQL (issue 15). `tests/nutrition/test_api_daily.py` holds the two equal,
    byte for byte once rendered."""
    targets = body["targets"]
    sources, basis = targets["sources"], targets["basis"]
    return {
        "user_id": int(body["user_id"]),
        "start": body["start"].isoformat(),
        "end": body["end"].isoformat(),
        "targets": {
            "calories": _float(targets["calories"]),
            "protein_g": _float(targets["protein_g"]),
            "water_ml": _float(targets["water_ml"]),
            "sources": {
                name: None if sources[name] is None else str(sources[name])
                for name in ("calories", "protein_g", "water_ml")
            },
            "basis": {
                "bmr": _float(basis["bmr"]),
                "activity_factor": _float(basis["activity_factor"]),
                "weight_kg": _float(basis["weight_kg"]),
                "missing": [str(name) for name in basis["missing"]],
            },
        },
        "days": [
            {
                "date": day["date"].isoformat(),
                "entries": int(day["entries"]),
                **{field: _float(day[field]) for field in AMOUNT_FIELDS},
            }
            for day in body["days"]
        ],
    }
