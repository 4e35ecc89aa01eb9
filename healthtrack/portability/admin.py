"""Import jobs in the admin (read-only, scoped like every health-data admin), and a
"purge now" action on the user admin for an erasure request."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model

from accounts.admin_access import PatientDataAdminMixin
from healthtrack.portability import services
from healthtrack.portability.models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(PatientDataAdminMixin, admin.ModelAdmin):
    owner_field = "user"
    list_display = [
        "id",
        "user",
        "kind",
        "status",
        "processed",
        "total",
        "error_count",
        "created_at",
    ]
    list_filter = ["kind", "status"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    search_fields = ["user__username", "user__email", "original_name"]
    readonly_fields = [f.name for f in ImportJob._meta.fields]

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.action(description="Purge selected deleted accounts now (every row of their data)")
def purge_accounts_now(modeladmin, request, queryset):
    """For an erasure request: only superusers, only accounts already deleted (so a live
    account cannot be purged by a slip of the checkbox)."""
    if not request.user.is_superuser:
        modeladmin.message_user(request, "Only superusers may purge accounts.", messages.ERROR)
        return
    live = queryset.filter(deleted_at__isnull=True).count()
    purged = 0
    for user in queryset.filter(deleted_at__isnull=False):
        services.account_purge(user=user, actor=request.user)
        purged += 1
    if purged:
        modeladmin.message_user(request, f"Purged {purged} account(s).", messages.SUCCESS)
    if live:
        modeladmin.message_user(
            request,
            f"{live} account(s) are not deleted and were left alone; delete them first.",
            messages.WARNING,
        )


def _add_purge_action() -> None:
    """The user admin belongs to accounts, which may not import this package: the action is
    attached here, where the apps are wired together."""
    try:
        user_admin = admin.site.get_model_admin(get_user_model())
    except admin.sites.NotRegistered:
        return
    if purge_accounts_now not in (user_admin.actions or ()):
        user_admin.actions = [*(user_admin.actions or ()), purge_accounts_now]


_add_purge_action()
