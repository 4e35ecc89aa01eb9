from __future__ import annotations

from rest_framework import serializers

from goals.care_programs.models import ProgramLog
from healthtrack.core.api.strict import StrictFieldsMixin
from nutrition.api.serializers import AwareDateTimeField


class ProgramLogInputSerializer(StrictFieldsMixin, serializers.Serializer):
    program_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    log_type = serializers.ChoiceField(choices=ProgramLog.LogType.choices)
    # Checked against the log type's schema by goals.care_programs.validation.clean_payload.
    payload = serializers.JSONField()
    timestamp = AwareDateTimeField()
    device_id = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="Data from this device."
    )


class ImpactSerializer(serializers.Serializer):
    points = serializers.IntegerField()
    reason = serializers.CharField()


class ProgramLogCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ProgramLog.Status.choices)
    adherence_impact = ImpactSerializer()


class ProgramLogSerializer(serializers.ModelSerializer):
    payload = serializers.JSONField()
    adherence_impact = ImpactSerializer()
    program_id = serializers.IntegerField()

    class Meta:
        model = ProgramLog
        fields = [
            "id",
            "program_id",
            "log_type",
            "payload",
            "logged_at",
            "source",
            "status",
            "adherence_impact",
            "linked_metric",
            "linked_meal",
            "reviewed_at",
        ]
        read_only_fields = fields


class ReviewInputSerializer(StrictFieldsMixin, serializers.Serializer):
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
