from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from goals.api.serializers import FiniteFloatField  # booleans are not amounts
from healthtrack.core.api.strict import StrictFieldsMixin
from insights.models import HealthInsight


class HealthInsightSerializer(serializers.ModelSerializer):
    """An insight as the API shows it (`type` is the stable rule, alert or note code)."""

    type = serializers.CharField(source="insight_type", read_only=True)
    user_id = serializers.IntegerField(read_only=True)
    acknowledged = serializers.BooleanField(source="is_acknowledged", read_only=True)
    author_id = serializers.IntegerField(read_only=True, allow_null=True)
    author_name = serializers.SerializerMethodField()
    reviewed_by_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = HealthInsight
        fields = [
            "id",
            "user_id",
            "kind",
            "type",
            "severity",
            "rank",
            "score",
            "title",
            "message",
            "actions",
            "related_metric",
            "data",
            "is_read",
            "acknowledged",
            "acknowledged_at",
            "reviewed_at",
            "reviewed_by_id",
            "author_id",
            "author_name",
            "superseded_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_author_name(self, insight: HealthInsight) -> str | None:
        if insight.author_id is None:
            return None
        author = insight.author
        return author.get_full_name() or author.username


class InsightMarkSerializer(StrictFieldsMixin, serializers.Serializer):
    """PATCH body: only these two flags may change (any other key is an unknown field)."""

    is_read = serializers.BooleanField(required=False)
    acknowledged = serializers.BooleanField(required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError({"detail": "Give is_read or acknowledged."})
        return attrs


class ClinicianNoteSerializer(StrictFieldsMixin, serializers.Serializer):
    """POST body: a clinician's note for a patient in their care."""

    user_id = serializers.IntegerField(min_value=1, help_text="The patient's id.")
    title = serializers.CharField(max_length=200)
    message = serializers.CharField(max_length=5000)
    severity = serializers.ChoiceField(
        choices=HealthInsight.Severity.choices, default=HealthInsight.Severity.LOW
    )
    related_metric = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default=""
    )


# --- recommendations ------------------------------------------------------------------------


class RecommendationsQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(
        min_value=1, max_value=365, default=30, help_text="Window in days (1-365)."
    )
    use_cache = serializers.BooleanField(
        default=True, help_text="false: compute now (and refresh the cache)."
    )


class RecommendationSerializer(serializers.Serializer):
    """One recommendation (documentation of the answer; the view returns it as computed)."""

    type = serializers.CharField()
    rank = serializers.IntegerField()
    title = serializers.CharField()
    severity = serializers.ChoiceField(choices=HealthInsight.Severity.choices)
    score = serializers.FloatField()
    reasoning = serializers.CharField()
    actions = serializers.ListField(child=serializers.CharField())
    related_metric = serializers.CharField()
    data = serializers.DictField()


class RecommendationsSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    days = serializers.IntegerField()
    generated_at = serializers.DateTimeField()
    cached = serializers.BooleanField()
    recommendations = RecommendationSerializer(many=True)


class CacheStatsSerializer(serializers.Serializer):
    hits = serializers.IntegerField()
    misses = serializers.IntegerField()
    hit_ratio = serializers.FloatField(allow_null=True)


# --- quick advice ---------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.DATETIME)
class _WhenField(serializers.Field):
    """An ISO 8601 date-time with its UTC offset (kept: it gives the user's local clock)."""

    def to_representation(self, value):
        return value.isoformat()

    def to_internal_value(self, data):
        if not isinstance(data, str) or len(data) > 64:
            raise serializers.ValidationError("Not a valid ISO 8601 date-time.")
        try:
            value = datetime.fromisoformat(data.strip())
        except ValueError:
            raise serializers.ValidationError("Not a valid ISO 8601 date-time.") from None
        if value.tzinfo is None or value.utcoffset() is None:
            raise serializers.ValidationError(
                "Give a timezone (for example Z or +02:00); naive times are refused."
            )
        now = timezone.now()
        if value > now + timedelta(hours=1):
            raise serializers.ValidationError("More than an hour in the future.")
        if value < now - timedelta(hours=24):
            raise serializers.ValidationError(
                "Quick logs are for the last 24 hours; use the diary or metrics API for older "
                "entries."
            )
        return value


class _QuickLogSerializer(StrictFieldsMixin, serializers.Serializer):
    time = _WhenField(
        required=False,
        help_text="When (ISO 8601 with offset; default now). Its offset is used for clock "
        "times in the advice.",
    )


class WaterAdviceSerializer(_QuickLogSerializer):
    amount_liters = FiniteFloatField(min_value=0.01, max_value=10.0)


class GymAdviceSerializer(_QuickLogSerializer):
    activity = serializers.RegexField(
        r"^[^\W\d_]+(?:[ '-][^\W\d_]+)*$",
        max_length=40,
        error_messages={"invalid": "Letters, spaces, hyphens and apostrophes only."},
        help_text="For example running, cycling, yoga.",
    )
    duration_minutes = serializers.IntegerField(min_value=1, max_value=1440)


class FoodAdviceSerializer(_QuickLogSerializer):
    meal = serializers.ChoiceField(choices=["breakfast", "lunch", "dinner", "snack", "drink"])
    food = serializers.CharField(max_length=200, help_text="What you ate, in your words.")
    grams = FiniteFloatField(
        required=False,
        min_value=0.1,
        max_value=5000,
        help_text="Portion of the matched catalogue food (default 100 g).",
    )
    calories = FiniteFloatField(
        required=False,
        min_value=0,
        max_value=10000,
        help_text="Give it to log your own entry (the catalogue is then not used); required "
        "when no catalogue food matches the text.",
    )


class AdviceEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["nutrition_log", "health_metric"])
    food = serializers.CharField(required=False, allow_null=True)
    grams = serializers.FloatField(required=False, allow_null=True)
    calories = serializers.FloatField(required=False, allow_null=True)
    water_ml = serializers.FloatField(required=False)
    minutes = serializers.IntegerField(required=False)


class AdviceSerializer(serializers.Serializer):
    message = serializers.CharField(help_text="At most 25 words.")
    entry = AdviceEntrySerializer(help_text="What was logged.")
