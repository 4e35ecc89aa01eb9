from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import F

from accounts import access
from insights import services
from insights.models import HealthAlert, HealthInsight


class _ScopedAdmin(admin.ModelAdmin):
    """Superusers see everything; other staff only the people `accounts.access` lets them
    read."""

    list_select_related = ["user", "author", "reviewed_by"]
    search_fields = ["title", "insight_type", "user__username", "user__email"]
    date_hierarchy = "created_at"
    readonly_fields = ["generation", "superseded_at", "dedupe_key", "created_at"]
    raw_id_fields = ["user", "author", "reviewed_by"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return access.readable(queryset, request.user)


@admin.register(HealthInsight)
class HealthInsightAdmin(_ScopedAdmin):
    list_display = [
        "created_at",
        "user",
        "kind",
        "insight_type",
        "severity",
        "rank",
        "title",
        "is_read",
        "acknowledged_at",
        "superseded_at",
    ]
    list_filter = [
        "kind",
        "severity",
        "insight_type",
        "is_read",
        ("superseded_at", admin.EmptyFieldListFilter),
    ]


@admin.register(HealthAlert)
class HealthAlertAdmin(_ScopedAdmin):
    """Alerts only: unreviewed first, newest first; "mark reviewed" records who and when."""

    list_display = [
        "created_at",
        "user",
        "insight_type",
        "severity",
        "title",
        "reviewed_at",
        "reviewed_by",
    ]
    list_filter = [
        ("reviewed_at", admin.EmptyFieldListFilter),
        "severity",
        "insight_type",
    ]
    ordering = [F("reviewed_at").asc(nulls_first=True), "-created_at", "-id"]
    actions = ["mark_reviewed"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(kind=HealthInsight.Kind.ALERT)

    @admin.action(description="Mark selected alerts reviewed")
    def mark_reviewed(self, request, queryset):
        count = services.alerts_mark_reviewed(alerts=queryset, reviewer=request.user)
        self.message_user(request, f"{count} alert(s) marked reviewed.", messages.SUCCESS)
