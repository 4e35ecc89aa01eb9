"""The lifecycle in the admin: every job run with its counts and errors (superusers), the
last run and last failure of each kind above the list, and the archived months (scoped like
every health-data admin) with restore and replay actions. A "replay rollups" action on the
user admin covers the hot window."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Max
from django.utils import timezone

from accounts.admin_access import PatientDataAdminMixin
from healthtrack.lifecycle import archive, replay, services
from healthtrack.lifecycle.models import ArchivedMonth, RetentionJob


@admin.register(RetentionJob)
class RetentionJobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "status",
        "started_at",
        "finished_at",
        "rows_archived",
        "rows_deleted",
        "rows_restored",
        "bytes_written",
        "progress",
        "error_count",
    ]
    list_filter = ["kind", "status"]
    date_hierarchy = "started_at"
    search_fields = ["kind", "status"]
    readonly_fields = [f.name for f in RetentionJob._meta.fields] + ["progress"]
    change_list_template = "admin/lifecycle/retentionjob/change_list.html"

    @admin.display(description="errors")
    def error_count(self, obj: RetentionJob) -> int:
        return len(obj.errors)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the record of what the lifecycle did to the data

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "lifecycle_summary": job_summary()}
        return super().changelist_view(request, extra_context)


def job_summary() -> list[dict]:
    """Per kind: its last run and its last failure."""
    last = dict(RetentionJob.objects.values_list("kind").annotate(id=Max("id")).order_by())
    failed = dict(
        RetentionJob.objects.filter(status=RetentionJob.Status.FAILED)
        .values_list("kind")
        .annotate(id=Max("id"))
        .order_by()
    )
    rows = {j.pk: j for j in RetentionJob.objects.filter(pk__in=[*last.values(), *failed.values()])}
    return [
        {"kind": label, "last": rows.get(last.get(kind)), "failed": rows.get(failed.get(kind))}
        for kind, label in RetentionJob.Kind.choices
    ]


@admin.action(description="Restore the selected months into the hot table")
def restore_months(modeladmin, request, queryset):
    if not request.user.is_superuser:
        modeladmin.message_user(request, "Only superusers may restore.", messages.ERROR)
        return
    restored = failed = 0
    for archived in queryset.order_by("user_id", "year", "month"):
        month = (archived.year, archived.month)
        try:
            job = services.archive_restore(user_id=archived.user_id, first=month, last=month)
        except (archive.ArchiveVerificationError, OSError):
            failed += 1
            continue
        restored += job.rows_restored
    modeladmin.message_user(request, f"Restored {restored} row(s).", messages.SUCCESS)
    if failed:
        modeladmin.message_user(
            request, f"{failed} month(s) failed: see the retention jobs.", messages.ERROR
        )


@admin.action(description="Replay the rollups of the selected months (restored ones)")
def replay_months(modeladmin, request, queryset):
    if not request.user.is_superuser:
        modeladmin.message_user(request, "Only superusers may replay.", messages.ERROR)
        return
    jobs = []
    for archived in queryset.order_by("user_id", "year", "month"):
        start, end = archive.month_bounds(archived.year, archived.month)
        jobs.append(
            replay.replay_start(
                user_id=archived.user_id,
                first=start.date(),
                last=(end - timedelta(days=1)).date(),
            )
        )
    modeladmin.message_user(
        request,
        f"Queued {sum(j.chunks_total for j in jobs)} chunk(s) in {len(jobs)} replay job(s); "
        "progress under Retention jobs.",
        messages.SUCCESS,
    )


@admin.register(ArchivedMonth)
class ArchivedMonthAdmin(PatientDataAdminMixin, admin.ModelAdmin):
    owner_field = "user"
    list_display = ["user", "data_type", "year", "month", "rows", "size_bytes", "restored_at"]
    list_filter = ["data_type", "year", "restored_at"]
    list_select_related = ["user"]
    date_hierarchy = "archived_at"
    search_fields = ["user__username", "user__email", "data_type"]
    readonly_fields = [f.name for f in ArchivedMonth._meta.fields]
    actions = [restore_months, replay_months]

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # erasure and the "delete after" job delete the file with the row


@admin.action(description="Replay rollups of the hot window (raw samples still hot)")
def replay_hot_window(modeladmin, request, queryset):
    if not request.user.is_superuser:
        modeladmin.message_user(request, "Only superusers may replay.", messages.ERROR)
        return
    today = timezone.now().date()
    first = today - timedelta(days=settings.DATA_LIFECYCLE["raw_samples"]["hot"])
    jobs = [replay.replay_start(user_id=u.pk, first=first, last=today) for u in queryset]
    modeladmin.message_user(
        request,
        f"Queued {sum(j.chunks_total for j in jobs)} chunk(s) in {len(jobs)} replay job(s); "
        "progress under Retention jobs.",
        messages.SUCCESS,
    )


def _add_user_actions() -> None:
    """The user admin belongs to accounts, which may not import this package."""
    try:
        user_admin = admin.site.get_model_admin(get_user_model())
    except admin.sites.NotRegistered:
        return
    if replay_hot_window not in (user_admin.actions or ()):
        user_admin.actions = [*(user_admin.actions or ()), replay_hot_window]


_add_user_actions()
