"""Input and output shapes of the import and export API."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from healthtrack.core.api.strict import StrictFieldsMixin
from healthtrack.portability.models import ImportJob


class ImportUploadSerializer(StrictFieldsMixin, serializers.Serializer):
    """multipart/form-data body of `POST /api/v1/imports/`."""

    file = serializers.FileField(
        help_text="export.zip / export.xml (Apple Health), a CSV (see the templates) or a "
        "HealthTrack JSON export (or its ZIP export); at most IMPORT_MAX_UPLOAD_MB (default "
        "512 MB)."
    )
    kind = serializers.ChoiceField(
        choices=ImportJob.Kind.choices,
        required=False,
        help_text="Told from the file's content when absent.",
    )


class ImportErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(
        allow_null=True, help_text="Line of the file (CSV: the header is line 1); null for the file"
    )
    field = serializers.CharField()
    message = serializers.CharField(help_text="Names the rule, never the value.")


class ImportSummarySerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Already stored (a re-import adds nothing).")
    rows_with_errors = serializers.IntegerField()
    skipped = serializers.DictField(child=serializers.IntegerField())
    unknown_types = serializers.DictField(
        child=serializers.IntegerField(), help_text="Apple Health record types not imported."
    )


class ImportJobSerializer(serializers.ModelSerializer):
    errors = ImportErrorSerializer(many=True, read_only=True)
    summary = serializers.SerializerMethodField(help_text="Counts, once the job has finished.")

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "kind",
            "status",
            "total",
            "processed",
            "errors",
            "error_count",
            "summary",
            "original_name",
            "size",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ImportSummarySerializer(allow_null=True))
    def get_summary(self, job: ImportJob) -> dict | None:
        return job.summary or None


class ExportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(
        choices=[
            ("json", "JSON, one record per line in each array"),
            ("zip", "ZIP: the JSON export and the meal photos (photos/<diary entry id>.<ext>)"),
            ("csv", "ZIP of CSV files, one per table"),
            ("fhir", "FHIR R4 Bundle (collection) of Observations"),
        ],
        default="json",
    )
    user_id = serializers.IntegerField(
        required=False,
        help_text="Whose data (default: yours, or `?member=<id>`): yours or a family member's "
        "you manage; others 404.",
    )


class ReportQuerySerializer(serializers.Serializer):
    start = serializers.DateField(
        required=False, help_text="First day, the person's local day (default end - 29)"
    )
    end = serializers.DateField(
        required=False, help_text="Last day, the person's local day (default their today)"
    )
    user_id = serializers.IntegerField(
        required=False,
        help_text="Whose report (default: yours); a care-team clinician may ask for a patient.",
    )

    def validate(self, attrs):
        from healthtrack.portability.report import MAX_DAYS, period

        # The view passes the person's today (`healthtrack.core.days`) once it knows whose report.
        start, end = period(attrs.get("start"), attrs.get("end"), self.context.get("today"))
        if start > end:
            raise serializers.ValidationError({"start": ["Must be on or before end."]})
        if (end - start).days + 1 > MAX_DAYS:
            raise serializers.ValidationError({"end": [f"At most {MAX_DAYS} days from start."]})
        return {**attrs, "start": start, "end": end}
