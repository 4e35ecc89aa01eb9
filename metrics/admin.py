"""Measurements, devices and rollups in the admin, scoped by `accounts.admin_access`:
superusers see everything, admin clinicians their care-team patients' rows read-only, other
staff nothing. Measurements and rollups are read-only for everyone (writes go through
`metrics.services` so the rollups stay right); a superuser's device edits go through it too."""

from __future__ import annotations

from django.contrib import admin

from accounts.admin_access import PatientDataAdminMixin, ReadOnlyAdminMixin
from metrics import services
from metrics.figures import formatted
from metrics.models import DailyRollup, Device, HealthMetric, HourlyRollup, IdempotencyRecord
from metrics.registry import METRIC_TYPES

USER_SEARCH = ["user__username", "user__email", "user__last_name"]


def _stated(obj) -> str:
    """A row's value as every page states it (`metrics.figures`), with its unit in words."""
    mtype = METRIC_TYPES.get(obj.metric_type)
    if mtype is None:
        return f"{obj.value:g}"
    return f"{formatted(obj.metric_type, obj.value)} {mtype.unit_label}"


@admin.register(Device)
class DeviceAdmin(PatientDataAdminMixin, admin.ModelAdmin):
    owner_field = "user"
    list_display = ["name", "device_type", "user", "priority", "last_sync_at", "created_at"]
    list_filter = ["device_type", "last_sync_at"]
    search_fields = ["name", "identifier", *USER_SEARCH]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    readonly_fields = ["last_sync_at", "created_at"]

    def has_add_permission(self, request, *args) -> bool:
        return False  # devices register themselves through the API

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return ["user", "device_type", "identifier", "last_sync_at", "created_at"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        # Through the service, from the stored row (the form has already set the new values
        # on `obj`): a new priority recomputes the rollups it changes.
        services.device_update(
            device=Device.objects.get(pk=obj.pk),
            name=form.cleaned_data["name"],
            priority=form.cleaned_data["priority"],
        )


@admin.register(HealthMetric)
class HealthMetricAdmin(ReadOnlyAdminMixin, PatientDataAdminMixin, admin.ModelAdmin):
    owner_field = "user"
    list_display = ["metric_type", "reading", "recorded_at", "user", "device", "source_app"]
    list_filter = ["metric_type", "device__device_type", "recorded_at"]
    search_fields = [*USER_SEARCH, "external_id", "source_app"]
    list_select_related = ["user", "device"]
    date_hierarchy = "recorded_at"
    raw_id_fields = ["user", "device"]
    show_full_result_count = False

    @admin.display(description="Reading", ordering="value")
    def reading(self, obj: HealthMetric) -> str:
        return _stated(obj)


class _RollupAdmin(ReadOnlyAdminMixin, PatientDataAdminMixin, admin.ModelAdmin):
    owner_field = "user"
    list_select_related = ["user"]
    list_filter = ["metric_type"]
    search_fields = USER_SEARCH
    raw_id_fields = ["user"]
    show_full_result_count = False

    @admin.display(description="Value", ordering="value")
    def figure(self, obj) -> str:
        """The period's figure as every page states it (whole steps, units in words)."""
        return _stated(obj)


@admin.register(HourlyRollup)
class HourlyRollupAdmin(_RollupAdmin):
    list_display = [
        "metric_type",
        "period_start",
        "user",
        "figure",
        "min_value",
        "max_value",
        "count",
    ]
    date_hierarchy = "period_start"


@admin.register(DailyRollup)
class DailyRollupAdmin(_RollupAdmin):
    list_display = ["metric_type", "day", "user", "figure", "min_value", "max_value", "count"]
    date_hierarchy = "day"


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdminMixin, PatientDataAdminMixin, admin.ModelAdmin):
    """Stored first responses of device syncs (counts and error positions, no values)."""

    owner_field = "user"
    list_display = ["created_at", "user", "key"]
    search_fields = [*USER_SEARCH, "key"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    fields = ["user", "key", "created_at"]
