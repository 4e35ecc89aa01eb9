from __future__ import annotations

from django.contrib import admin

from accounts.admin_access import PatientDataAdminMixin
from goals import services
from goals.models import HealthGoal


@admin.register(HealthGoal)
class HealthGoalAdmin(PatientDataAdminMixin, admin.ModelAdmin):
    """Goals are the patient's own and their progress is computed: staff look (as
    `accounts.access` allows: superusers all, admin clinicians their patients, read-only);
    superusers may delete, through the service so the dashboard and insights hear of it."""

    owner_field = "user"
    list_display = [
        "title",
        "user",
        "goal_type",
        "metric_type",
        "direction",
        "target_value",
        "unit",
        "current_value",
        "progress_percent",
        "on_track",
        "status",
        "priority",
        "target_date",
    ]
    list_filter = ["status", "goal_type", "direction", "priority", "on_track"]
    search_fields = ["title", "user__username", "user__email"]
    date_hierarchy = "start_date"
    list_select_related = ["user"]
    ordering = ["-created_at", "-id"]
    readonly_fields = [f.name for f in HealthGoal._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj):
        services.goal_delete(goal=obj)

    def delete_queryset(self, request, queryset):
        for goal in queryset:
            services.goal_delete(goal=goal)


from goals.care_programs import admin as care_program_admin  # noqa: E402, F401  (care programs register their admin)
