from __future__ import annotations

from rest_framework import serializers

from goals.care_programs.models import CareProgram
from healthtrack.core.api.strict import StrictFieldsMixin


class CareProgramSerializer(serializers.ModelSerializer):
    today_score = serializers.SerializerMethodField()

    class Meta:
        model = CareProgram
        fields = [
            "id",
            "user",
            "title",
            "start_date",
            "end_date",
            "phase",
            "status",
            "config",
            "created_by",
            "created_at",
            "updated_at",
            "today_score",
        ]
        read_only_fields = fields

    def get_today_score(self, program: CareProgram) -> int | None:
        return self.context.get("today_scores", {}).get(program.pk)


class CareProgramInputSerializer(StrictFieldsMixin, serializers.Serializer):
    title = serializers.CharField(max_length=200)
    start_date = serializers.DateField(required=False)
    end_date = serializers.DateField(required=False)
    phase = serializers.CharField(max_length=50, required=False, allow_blank=True)
    status = serializers.ChoiceField(choices=CareProgram.Status.choices, required=False)
    # Validated against the schema in goals.care_programs.validation (clean_program_config).
    config = serializers.JSONField()


class AdherenceQuerySerializer(serializers.Serializer):
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)

    def validate(self, attrs):
        start, end = attrs.get("start"), attrs.get("end")
        if start and end and end < start:
            raise serializers.ValidationError({"end": ["Must not be before start."]})
        return attrs


class AdherenceDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    score = serializers.IntegerField(allow_null=True, min_value=0, max_value=100)
    breakdown = serializers.JSONField(allow_null=True)


class HistoryQuerySerializer(serializers.Serializer):
    cursor = serializers.CharField(required=False, max_length=200)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=200, default=50)
