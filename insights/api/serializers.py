from __future__ import annotations

from rest_framework import serializers

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


class InsightMarkSerializer(serializers.Serializer):
    """PATCH body: only these two flags may change."""

    ALLOWED = ("is_read", "acknowledged")

    is_read = serializers.BooleanField(required=False)
    acknowledged = serializers.BooleanField(required=False)

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.ALLOWED))
        if unknown:
            raise serializers.ValidationError(
                {name: ["Only is_read and acknowledged can be changed."] for name in unknown}
            )
        if not attrs:
            raise serializers.ValidationError({"detail": "Give is_read or acknowledged."})
        return attrs


class ClinicianNoteSerializer(serializers.Serializer):
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
