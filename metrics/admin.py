from django.contrib import admin

from accounts import access
from metrics.models import DailyRollup, Device, HealthMetric, HourlyRollup


class _ScopedAdmin(admin.ModelAdmin):
    """Superusers see everything; other staff what `accounts.access` lets them read."""

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return access.readable(qs, request.user)


@admin.register(Device)
class DeviceAdmin(_ScopedAdmin):
    list_display = ["name", "device_type", "user", "priority", "last_sync_at", "created_at"]
    list_filter = ["device_type", "last_sync_at"]
    search_fields = ["name", "identifier", "user__username", "user__email"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    readonly_fields = ["last_sync_at", "created_at"]


@admin.register(HealthMetric)
class HealthMetricAdmin(_ScopedAdmin):
    """Read-only: changes go through `metrics.services` so the rollups stay right."""

    list_display = ["metric_type", "value", "unit", "recorded_at", "user", "device", "source_app"]
    list_filter = ["metric_type", "device__device_type", "recorded_at"]
    search_fields = ["user__username", "user__email", "external_id", "source_app"]
    list_select_related = ["user", "device"]
    date_hierarchy = "recorded_at"
    raw_id_fields = ["user", "device"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class _RollupAdmin(_ScopedAdmin):
    list_select_related = ["user"]
    list_filter = ["metric_type"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(HourlyRollup)
class HourlyRollupAdmin(_RollupAdmin):
    list_display = [
        "metric_type",
        "period_start",
        "user",
        "value",
        "min_value",
        "max_value",
        "count",
    ]
    date_hierarchy = "period_start"


@admin.register(DailyRollup)
class DailyRollupAdmin(_RollupAdmin):
    list_display = ["metric_type", "day", "user", "value", "min_value", "max_value", "count"]
    date_hierarchy = "day"
