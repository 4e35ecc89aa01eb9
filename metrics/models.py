"""Measurements, the devices they come from, and their hourly and daily rollups."""

from __future__ import annotations

from datetime import datetime

from auditlog.registry import auditlog
from django.conf import settings
from django.db import models
from django.db.models import Q

from healthtrack.core.models import IDEMPOTENCY_KEY_MAX_LENGTH
from metrics.fields import OptionalEncryptedTextField
from metrics.registry import METRIC_TYPE_CHOICES

# Samples without a device rank with manual entries when overlapping sums are de-duplicated.
NO_DEVICE_PRIORITY = 10


class Device(models.Model):
    class Type(models.TextChoices):
        APPLE_WATCH = "apple_watch", "Apple Watch"
        IPHONE = "iphone", "iPhone"
        IPAD = "ipad", "iPad"
        THIRD_PARTY_WEARABLE = "third_party_wearable", "Third-party wearable"
        THIRD_PARTY_SCALE = "third_party_scale", "Third-party scale"
        MANUAL_ENTRY = "manual_entry", "Manual entry"
        OTHER = "other", "Other"

    DEFAULT_PRIORITIES = {
        Type.APPLE_WATCH: 100,
        Type.IPHONE: 80,
        Type.IPAD: 70,
        Type.THIRD_PARTY_WEARABLE: 50,
        Type.THIRD_PARTY_SCALE: 40,
        Type.MANUAL_ENTRY: 10,
        Type.OTHER: 30,
    }

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="devices"
    )
    device_type = models.CharField(max_length=32, choices=Type.choices)
    name = models.CharField(max_length=100)
    identifier = models.CharField(
        max_length=255, help_text="The device's own id (serial, vendor id); unique per user."
    )
    priority = models.PositiveSmallIntegerField(
        help_text="Higher wins when overlapping summed samples from two devices are de-duplicated."
    )
    last_sync_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "identifier"], name="device_unique_identifier")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_device_type_display()})"

    @classmethod
    def default_priority(cls, device_type: str) -> int:
        return cls.DEFAULT_PRIORITIES.get(device_type, cls.DEFAULT_PRIORITIES[cls.Type.OTHER])


class HealthMetricQuerySet(models.QuerySet):
    def for_user(self, user) -> HealthMetricQuerySet:
        return self.filter(user_id=getattr(user, "pk", user))

    def of_type(self, *codes: str) -> HealthMetricQuerySet:
        if len(codes) == 1:
            return self.filter(metric_type=codes[0])
        return self.filter(metric_type__in=codes)

    def between(self, start: datetime | None, end: datetime | None) -> HealthMetricQuerySet:
        """Samples whose `recorded_at` is in [start, end); either bound may be None."""
        qs = self
        if start is not None:
            qs = qs.filter(recorded_at__gte=start)
        if end is not None:
            qs = qs.filter(recorded_at__lt=end)
        return qs

    def newest_first(self) -> HealthMetricQuerySet:
        return self.order_by("-recorded_at", "-id")

    # What a list of measurements shows (the API's HealthMetricSerializer reads these names).
    ROW_COLUMNS = (
        "id",
        "metric_type",
        "value",
        "unit",
        "recorded_at",
        "end_at",
        "device_id",
        "source_app",
        "external_id",
        "metadata",
        "notes",
        "created_at",
    )

    def as_rows(self) -> models.QuerySet:
        """Named rows of ROW_COLUMNS instead of model instances (issue 15: building a model
        per row was a tenth of a list request's CPU); field conversions (the encrypted
        notes, the JSON metadata) apply as for instances."""
        return self.values_list(*self.ROW_COLUMNS, named=True)


class HealthMetric(models.Model):
    # The user and device references are checked on PostgreSQL by triggers, once per statement
    # (migration 0004_references_checked_per_statement), not by foreign-key constraints that
    # checked each row at commit (10 ms of a 1,440-sample sync): same guarantee, no row
    # refers to a user or device that does not exist.
    # No single-column index: the composite indexes below start with the user.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="health_metrics",
        db_index=False,
        db_constraint=False,
    )
    metric_type = models.CharField(max_length=32, choices=METRIC_TYPE_CHOICES)
    value = models.FloatField(help_text="In the type's canonical unit.")
    unit = models.CharField(max_length=16, help_text="The canonical unit of the type.")
    recorded_at = models.DateTimeField(help_text="Start of the sample (aware, UTC).")
    end_at = models.DateTimeField(null=True, blank=True)
    device = models.ForeignKey(
        Device,
        null=True,
        blank=True,
        on_delete=models.RESTRICT,
        related_name="metrics",
        db_constraint=False,
    )
    source_app = models.CharField(max_length=100, blank=True, default="")
    external_id = models.CharField(max_length=255, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    # Encrypted at rest; excluded from the audit log.
    notes = OptionalEncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = HealthMetricQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(
                fields=["user", "metric_type", "-recorded_at"], name="metric_user_type_time"
            ),
            models.Index(fields=["user", "-recorded_at"], name="metric_user_time"),
        ]
        constraints = [
            # The client's sample id is unique per user and source: the device when there is
            # one, else the source app.
            models.UniqueConstraint(
                fields=["user", "device", "external_id"],
                condition=Q(device__isnull=False) & ~Q(external_id=""),
                name="metric_unique_external_id_per_device",
            ),
            models.UniqueConstraint(
                fields=["user", "source_app", "external_id"],
                condition=Q(device__isnull=True) & ~Q(external_id=""),
                name="metric_unique_external_id_per_app",
            ),
            models.CheckConstraint(
                condition=Q(end_at__isnull=True) | Q(end_at__gte=models.F("recorded_at")),
                name="metric_end_not_before_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric_type} at {self.recorded_at:%Y-%m-%d %H:%M}"


class RollupQuerySet(models.QuerySet):
    def for_user(self, user) -> RollupQuerySet:
        return self.filter(user_id=getattr(user, "pk", user))

    def of_type(self, code: str) -> RollupQuerySet:
        return self.filter(metric_type=code)


class _Rollup(models.Model):
    """A period's aggregate: `value` is the de-duplicated sum, the average or the latest
    sample's value (per the type's aggregation); min, max and count are over raw samples."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    metric_type = models.CharField(max_length=32, choices=METRIC_TYPE_CHOICES)
    value = models.FloatField()
    min_value = models.FloatField()
    max_value = models.FloatField()
    count = models.PositiveIntegerField()

    objects = RollupQuerySet.as_manager()

    class Meta:
        abstract = True


class HourlyRollup(_Rollup):
    period_start = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "metric_type", "period_start"], name="hourly_rollup_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.metric_type} {self.period_start:%Y-%m-%d %H:00}"


class DailyRollup(_Rollup):
    day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "metric_type", "day"], name="daily_rollup_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.metric_type} {self.day}"


class PeriodRollup(_Rollup):
    """A week (ISO, Monday first) or calendar month in the owner's time zone, kept by
    `metrics.period_rollups` from the hourly rollups whenever the daily rollups change."""

    class Period(models.TextChoices):
        WEEK = "week", "Week"
        MONTH = "month", "Month"

    period = models.CharField(max_length=8, choices=Period.choices)
    # The local date the period starts on, in `time_zone` (the owner's when it was computed).
    start = models.DateField()
    time_zone = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "metric_type", "period", "start"], name="period_rollup_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.metric_type} {self.period} of {self.start}"


class IdempotencyRecord(models.Model):
    """The first response to a device sync, replayed for a retry with the same key (24 h)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=IDEMPOTENCY_KEY_MAX_LENGTH)
    request_hash = models.CharField(max_length=64)
    response = models.JSONField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_unique_key")
        ]

    def __str__(self) -> str:
        return f"sync {self.key[:16]} at {self.created_at:%Y-%m-%d %H:%M}"


auditlog.register(HealthMetric, exclude_fields=["notes"])
auditlog.register(Device, exclude_fields=["last_sync_at"])
