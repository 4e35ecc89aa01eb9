"""Insights in the admin, scoped by `accounts.admin_access`: superusers see everything, admin
clinicians their care-team patients' insights read-only, other staff nothing.

The alerts list is never cached (every admin view is `never_cache`) and reads the table on
each request, so a new alert shows on the next page load. Reviewing an alert is a clinician's
job: the "mark reviewed" action is open to superusers and to admin clinicians for the alerts
they can see (their patients'), although clinicians change nothing else here."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Case, IntegerField, Value, When
from django.urls import reverse
from django.utils.html import format_html

from accounts import access
from accounts.admin_access import PatientDataAdminMixin
from insights import handling, services
from insights.labels import insight_type_choices
from insights.models import AlertAction, HealthAlert, HealthInsight


class InsightTypeFilter(admin.SimpleListFilter):
    """The insight type by its label, not its code."""

    title = "type"
    parameter_name = "insight_type"

    def lookups(self, request, model_admin):
        return insight_type_choices()

    def queryset(self, request, queryset):
        return queryset.filter(insight_type=self.value()) if self.value() else queryset


class AlertActionInline(admin.TabularInline):
    """The alert's handling trail (who, when, what, note): read-only for everyone."""

    model = AlertAction
    fk_name = "alert"
    extra = 0
    can_delete = False
    fields = ["at", "actor_label", "action", "note", "snoozed_until", "escalated_to"]
    readonly_fields = fields
    verbose_name = "decision"
    verbose_name_plural = "handling trail"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return access.admin_can_view(request.user)


class _InsightAdmin(PatientDataAdminMixin, admin.ModelAdmin):
    owner_field = "user"
    list_select_related = ["user", "author", "reviewed_by"]
    search_fields = ["title", "insight_type", "user__username", "user__email", "user__last_name"]
    date_hierarchy = "created_at"
    # Alert handling changes only through insights.handling (each change is a trail row).
    readonly_fields = [
        "generation",
        "superseded_at",
        "dedupe_key",
        "created_at",
        "alert_status",
        "snoozed_until",
        "assigned_to",
    ]
    raw_id_fields = ["user", "author", "reviewed_by"]

    @admin.display(description="patient", ordering="user__username")
    def patient(self, obj: HealthInsight) -> str:
        url = reverse("admin:patient_page", args=[obj.user_id])
        return format_html('<a href="{}">{}</a>', url, obj.user)

    @admin.display(description="type", ordering="insight_type")
    def type_label(self, obj: HealthInsight) -> str:
        return obj.type_label


@admin.register(HealthInsight)
class HealthInsightAdmin(_InsightAdmin):
    list_display = [
        "created_at",
        "patient",
        "kind",
        "type_label",
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
        InsightTypeFilter,
        "is_read",
        ("superseded_at", admin.EmptyFieldListFilter),
    ]


@admin.register(HealthAlert)
class HealthAlertAdmin(_InsightAdmin):
    """Alerts only: unreviewed first, then newest first; "mark reviewed" records who and
    when."""

    list_display = [
        "created_at",
        "patient",
        "type_label",
        "severity",
        "title",
        "alert_status",
        "overdue",
        "assigned_to",
        "reviewed_at",
        "reviewed_by",
        "handle",
    ]
    list_filter = [
        "alert_status",
        ("reviewed_at", admin.EmptyFieldListFilter),
        "severity",
        InsightTypeFilter,
    ]
    list_select_related = ["user", "author", "reviewed_by", "assigned_to"]
    inlines = [AlertActionInline]

    @admin.display(boolean=True, description="overdue")
    def overdue(self, obj: HealthInsight) -> bool:
        return handling.is_overdue(obj)

    @admin.display(description="decision")
    def handle(self, obj: HealthInsight) -> str:
        url = reverse("admin:alert_page", args=[obj.pk])
        return format_html('<a href="{}">Handle</a>', url)

    ordering = [
        Case(
            When(reviewed_at__isnull=True, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        ).asc(),
        "-created_at",
        "-id",
    ]
    actions = ["mark_reviewed"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(kind=HealthInsight.Kind.ALERT)

    def has_review_permission(self, request) -> bool:
        return access.admin_can_view(request.user)

    @admin.action(description="Mark selected alerts reviewed", permissions=["review"])
    def mark_reviewed(self, request, queryset):
        # `queryset` is this admin's: a clinician's holds their patients' alerts only.
        count = services.alerts_mark_reviewed(alerts=queryset, reviewer=request.user)
        self.message_user(request, f"{count} alert(s) marked reviewed.", messages.SUCCESS)
