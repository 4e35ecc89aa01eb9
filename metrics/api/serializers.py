"""Input and output shapes of the metrics API.

Input serializers declare every field (for the OpenAPI schema and the browsable API) but
validate through `metrics.validation`, the same code device sync runs per sample, so a
sample is judged the same way whichever door it comes through.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from rest_framework import serializers

from healthtrack.core.api.strict import StrictFieldsMixin, refuse_unknown_fields
from metrics.models import Device, HealthMetric
from metrics.registry import METRIC_TYPE_CHOICES
from metrics.services import MAX_SYNC_SAMPLES
from metrics.validation import MAX_TEXT, clean_measurement


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- errors (documentation only) -----------------------------------------------------------


class DetailErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


# --- metric types --------------------------------------------------------------------------


class UnitConversionSerializer(serializers.Serializer):
    factor = serializers.FloatField(help_text="canonical = value * factor + offset")
    offset = serializers.FloatField()


class MetricTypeSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    unit = serializers.CharField(help_text="Canonical unit: what is stored and returned.")
    aggregation = serializers.ChoiceField(choices=["sum", "average", "latest"])
    category = serializers.ChoiceField(choices=["activity", "vitals", "body", "sleep"])
    min_value = serializers.FloatField(help_text="Plausible range per sample, canonical unit.")
    max_value = serializers.FloatField()
    loinc = serializers.CharField()
    daily_loinc = serializers.CharField(help_text="LOINC of the daily total, when different.")
    units = serializers.DictField(
        child=UnitConversionSerializer(), help_text="Accepted input units and their conversion."
    )

    def to_representation(self, instance) -> dict[str, Any]:
        return {
            "code": instance.code,
            "name": instance.name,
            "unit": instance.unit,
            "aggregation": instance.aggregation,
            "category": instance.category,
            "min_value": instance.min_value,
            "max_value": instance.max_value,
            "loinc": instance.loinc,
            "daily_loinc": instance.daily_loinc,
            "units": {
                unit: {"factor": conv.factor, "offset": conv.offset}
                for unit, conv in instance.units.items()
            },
        }


# --- measurements --------------------------------------------------------------------------


class HealthMetricSerializer(serializers.Serializer):
    """A stored measurement; `value` is in the type's canonical `unit`."""

    id = serializers.IntegerField()
    metric_type = serializers.ChoiceField(choices=METRIC_TYPE_CHOICES)
    value = serializers.FloatField()
    unit = serializers.CharField()
    recorded_at = serializers.DateTimeField()
    end_at = serializers.DateTimeField(allow_null=True)
    device = serializers.IntegerField(allow_null=True, help_text="Id of the source device.")
    source_app = serializers.CharField()
    external_id = serializers.CharField()
    metadata = serializers.DictField()
    notes = serializers.CharField()
    created_at = serializers.DateTimeField()

    def to_representation(self, m: HealthMetric) -> dict[str, Any]:
        return reading(m)


def reading(m: HealthMetric) -> dict[str, Any]:
    """`HealthMetricSerializer`'s representation, written out by hand: list pages carry up to
    1,000 rows, and a POST answers with it without building a serializer. `m` is a
    measurement or a row of `HealthMetricQuerySet.as_rows()` (the lists)."""
    return {
        "id": m.id,
        "metric_type": m.metric_type,
        "value": m.value,
        "unit": m.unit,
        "recorded_at": iso(m.recorded_at),
        "end_at": iso(m.end_at),
        "device": m.device_id,
        "source_app": m.source_app,
        "external_id": m.external_id,
        "metadata": m.metadata,
        "notes": m.notes,
        "created_at": iso(m.created_at),
    }


class HealthMetricInputSerializer(StrictFieldsMixin, serializers.Serializer):
    """One measurement as a client sends it. `unit` is optional (the canonical unit is
    assumed); the value is converted to the canonical unit and checked against the type's
    plausible range. Timestamps need a timezone; `recorded_at` may be at most 1 hour in
    the future; `end_at`, when given, is not before `recorded_at` and at most 24 h after."""

    metric_type = serializers.ChoiceField(choices=METRIC_TYPE_CHOICES)
    value = serializers.FloatField()
    unit = serializers.CharField(required=False, allow_null=True)
    recorded_at = serializers.DateTimeField()
    end_at = serializers.DateTimeField(required=False, allow_null=True)
    device = serializers.IntegerField(
        required=False, allow_null=True, help_text="Id of one of your devices."
    )
    source_app = serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_TEXT["source_app"]
    )
    external_id = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=MAX_TEXT["external_id"],
        help_text="Your sample id; unique per user and source (device, else source_app). "
        "Sending a known one updates that measurement in place.",
    )
    metadata = serializers.DictField(required=False)
    notes = serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_TEXT["notes"], help_text="Encrypted."
    )

    def run_validation(self, data=serializers.empty):
        # StrictFieldsMixin's check and Serializer's run, without building `self.fields` (a
        # deep copy of the declared fields, per request and per synced sample): every field
        # is checked by `clean_measurement`, and the serializer has no validators.
        refuse_unknown_fields(data, INPUT_FIELDS)
        is_empty, data = self.validate_empty_values(data)
        if is_empty:
            return data
        return self.to_internal_value(data)

    def to_internal_value(self, data):
        cleaned, errors = clean_measurement(data, devices=self.context.get("devices", {}))
        if errors:
            raise serializers.ValidationError(errors.items)
        return cleaned


# The writable fields, in declaration order (the unknown-field message lists them).
INPUT_FIELDS = tuple(HealthMetricInputSerializer._declared_fields)


class DeviceSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    priority = serializers.IntegerField(
        min_value=0,
        max_value=1000,
        required=False,
        help_text="Defaults by type: apple_watch 100, iphone 80, ipad 70, "
        "third_party_wearable 50, third_party_scale 40, manual_entry 10, other 30.",
    )

    class Meta:
        model = Device
        fields = [
            "id",
            "device_type",
            "name",
            "identifier",
            "priority",
            "last_sync_at",
            "created_at",
        ]
        read_only_fields = ["id", "last_sync_at", "created_at"]
        # The per-user uniqueness of `identifier` is checked by the view (the user is not
        # an input field).
        validators: list = []


class DeviceUpdateSerializer(StrictFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    priority = serializers.IntegerField(min_value=0, max_value=1000, required=False)


class SyncRequestSerializer(StrictFieldsMixin, serializers.Serializer):
    samples = serializers.ListField(
        child=HealthMetricInputSerializer(),
        max_length=MAX_SYNC_SAMPLES,
        help_text=f"Up to {MAX_SYNC_SAMPLES} samples, each shaped like a single create "
        "(`device` is the one in the path).",
    )


class SyncErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the sample in `samples`.")
    field = serializers.CharField()
    message = serializers.CharField()


class SyncCountsSerializer(serializers.Serializer):
    synced = serializers.IntegerField(help_text="Stored: created + updated.")
    created = serializers.IntegerField()
    updated = serializers.IntegerField(help_text="Known external_id, changed in place.")
    duplicates = serializers.IntegerField(help_text="Already stored as sent; not written.")
    errors = serializers.IntegerField(help_text="Samples rejected.")


class SyncResponseSerializer(serializers.Serializer):
    counts = SyncCountsSerializer()
    errors = SyncErrorSerializer(many=True)


# --- summary and aggregates ----------------------------------------------------------------


class SeriesPointSerializer(serializers.Serializer):
    date = serializers.DateField()
    value = serializers.FloatField()
    in_progress = serializers.BooleanField(
        help_text="True for today: a partial day, its figure so far (never a finished day's)."
    )


class TodaySerializer(serializers.Serializer):
    date = serializers.DateField()
    value = serializers.FloatField(help_text="Today's figure so far.")
    in_progress = serializers.BooleanField(help_text="Always true: today is a partial day.")


class LatestSerializer(serializers.Serializer):
    recorded_at = serializers.DateTimeField()
    value = serializers.FloatField()


class TypeSummarySerializer(serializers.Serializer):
    name = serializers.CharField()
    unit = serializers.CharField()
    aggregation = serializers.CharField()
    average = serializers.FloatField(
        allow_null=True,
        help_text="The `days`-day average: the mean of the daily figures of the finished days "
        "finished_start..finished_end that have data (today never counts). Null without any.",
    )
    min = serializers.FloatField(
        allow_null=True,
        help_text="Over finished days: the lowest daily total (summed types) or reading.",
    )
    max = serializers.FloatField(
        allow_null=True,
        help_text="Over finished days: the highest daily total (summed types) or reading.",
    )
    count = serializers.IntegerField(help_text="Samples in the window (today included).")
    days_with_data = serializers.IntegerField(help_text="Days of the window, today included.")
    finished_days_with_data = serializers.IntegerField(
        help_text="Finished days (finished_start..finished_end) with data: the days averaged."
    )
    today = TodaySerializer(
        allow_null=True, help_text="Today so far (in progress); null without data today."
    )
    latest = LatestSerializer(allow_null=True)
    series = SeriesPointSerializer(many=True)


class SummarySerializer(serializers.Serializer):
    days = serializers.IntegerField()
    start = serializers.DateField(help_text="First day of the window (series, count).")
    end = serializers.DateField(help_text="Last day of the window: today.")
    finished_start = serializers.DateField(help_text="First finished day average/min/max cover.")
    finished_end = serializers.DateField(help_text="Last finished day they cover: yesterday.")
    metrics = serializers.DictField(child=TypeSummarySerializer(), help_text="Keyed by type.")


class SummaryQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=365, default=30)
    user_id = serializers.IntegerField(required=False, help_text="Default: yourself.")


class AggregatesQuerySerializer(serializers.Serializer):
    metric_type = serializers.ChoiceField(choices=METRIC_TYPE_CHOICES)
    period = serializers.ChoiceField(choices=["day", "hour", "week", "month"], default="day")
    start = serializers.DateTimeField(
        required=False,
        help_text="Default: 30 days (day), 48 hours (hour), 12 weeks (week) or 365 days (month) "
        "before end. A bare date (YYYY-MM-DD) is that day's start.",
    )
    end = serializers.DateTimeField(
        required=False,
        help_text="Default: now. A bare date (YYYY-MM-DD) is the whole day: period=hour with "
        "start=D&end=D gives that day's hours.",
    )
    user_id = serializers.IntegerField(required=False, help_text="Default: yourself.")

    def validate(self, attrs):
        start, end = attrs.get("start"), attrs.get("end")
        if start and end and end < start:
            raise serializers.ValidationError({"end": ["Must not be before start."]})
        # Which bounds were given as bare dates (whole days) rather than instants.
        attrs["bare_dates"] = {
            name for name in ("start", "end") if _is_bare_date(self.initial_data.get(name))
        }
        return attrs


def _is_bare_date(value) -> bool:
    return isinstance(value, str) and bool(BARE_DATE.fullmatch(value.strip()))


BARE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class AggregateSerializer(serializers.Serializer):
    period_start = serializers.DateTimeField(
        help_text="UTC for hour and day; local midnight in the owner's time zone (with its "
        "offset) for week and month."
    )
    value = serializers.FloatField(help_text="Sum (de-duplicated), average or latest.")
    min_value = serializers.FloatField()
    max_value = serializers.FloatField()
    count = serializers.IntegerField()
    in_progress = serializers.BooleanField(
        help_text="True for the hour, day, week or month now in progress: its figures are so "
        "far (a partial period), never a finished one's."
    )


class AggregatesSerializer(serializers.Serializer):
    metric_type = serializers.CharField()
    unit = serializers.CharField()
    aggregation = serializers.CharField()
    period = serializers.CharField()
    time_zone = serializers.CharField(
        required=False, help_text="week and month: the owner's time zone the periods are cut in."
    )
    results = AggregateSerializer(many=True)
