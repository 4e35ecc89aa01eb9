"""Admin for care-program daily logs: the clinician's verification queue. Scoped like every
health-data admin (`PatientDataAdminMixin`): an admin clinician sees their care-team patients'
logs only (superusers all), read-only, with "verify" and "reject" actions that apply only to
pending logs of the clinician's own care-team patients
(`goals.care_programs.program_logs.can_review`)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from accounts.admin_access import PatientDataAdminMixin
from goals.care_programs import program_logs
from goals.care_programs.models import ProgramLog

ADMIN_REJECT_NOTE = "Rejected from the clinician's verification queue."


@admin.register(ProgramLog)
class ProgramLogAdmin(PatientDataAdminMixin, admin.ModelAdmin):
    owner_field = "program__user"
    date_hierarchy = "logged_at"
    list_display = ["logged_at", "program", "log_type", "status", "points", "reason", "source"]
    list_filter = ["status", "log_type", "source"]
    search_fields = ["program__title", "program__user__username"]
    list_select_related = ["program", "program__user"]
    # The payload and the reviewer's note are encrypted health text: not shown in the list.
    readonly_fields = [
        "program",
        "log_type",
        "logged_at",
        "day",
        "source",
        "status",
        "points",
        "reason",
        "linked_metric",
        "linked_meal",
        "created_by",
        "created_at",
        "reviewed_by",
        "reviewed_at",
    ]
    exclude = ["payload_json", "review_note"]
    ordering = ["logged_at", "id"]
    show_full_result_count = False
    actions = ["verify_logs", "reject_logs"]

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a log leaves by rejection (its points with it), never by deletion

    def _review(self, request, queryset, write, done: str) -> None:
        count = skipped = 0
        for log in queryset.select_related("program"):
            if not program_logs.can_review(request.user, log.program.user_id):
                skipped += 1
                continue
            try:
                write(log=log, reviewer=request.user, note=ADMIN_REJECT_NOTE)
            except ValidationError:
                skipped += 1
                continue
            count += 1
        self.message_user(request, f"{count} log(s) {done}.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} log(s) skipped: not pending, or not of your care-team patients.",
                messages.WARNING,
            )

    @admin.action(description="Verify the selected pending logs")
    def verify_logs(self, request, queryset):
        self._review(request, queryset, _verify, "verified")

    @admin.action(description="Reject the selected pending logs")
    def reject_logs(self, request, queryset):
        self._review(request, queryset, program_logs.program_log_reject, "rejected")


def _verify(*, log, reviewer, note):
    return program_logs.program_log_verify(log=log, reviewer=reviewer, note="")
