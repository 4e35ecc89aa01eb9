"""Admin for care programs: scoped like every health-data admin (`PatientDataAdminMixin`):
superusers see all, admin clinicians their care-team patients' programs, read-only."""

from __future__ import annotations

from django.contrib import admin

from accounts.admin_access import PatientDataAdminMixin, ReadOnlyAdminMixin
from goals.care_programs import programs
from goals.care_programs.models import CareProgram, ProgramAdherence


class ProgramAdherenceInline(admin.TabularInline):
    """Shown only inside a program page, which `CareProgramAdmin` has already scoped."""

    model = ProgramAdherence
    fields = ["day", "score", "breakdown", "computed_at"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    ordering = ["-day"]
    can_delete = False

    def has_view_permission(self, request, obj=None) -> bool:
        return True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CareProgram)
class CareProgramAdmin(PatientDataAdminMixin, admin.ModelAdmin):
    date_hierarchy = "start_date"
    owner_field = "user"
    list_display = ["title", "user", "phase", "status", "start_date", "end_date", "created_by"]
    list_filter = ["status"]
    search_fields = ["title", "user__username", "user__email"]
    list_select_related = ["user", "created_by"]
    readonly_fields = [f.name for f in CareProgram._meta.fields]
    inlines = [ProgramAdherenceInline]
    show_full_result_count = False

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj):
        programs.program_delete(program=obj)


@admin.register(ProgramAdherence)
class ProgramAdherenceAdmin(ReadOnlyAdminMixin, PatientDataAdminMixin, admin.ModelAdmin):
    search_fields = ["program__title", "program__user__username"]
    date_hierarchy = "day"
    owner_field = "program__user"
    list_display = ["program", "day", "score", "computed_at"]
    list_filter = ["day"]
    list_select_related = ["program", "program__user"]
    readonly_fields = [f.name for f in ProgramAdherence._meta.fields]
    ordering = ["-day", "-id"]
    show_full_result_count = False


# The daily logs' admin (the clinician's verification queue) registers itself.
from goals.care_programs import log_admin  # noqa: E402, F401
