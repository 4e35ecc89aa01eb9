"""Admin for care teams, share grants and the two audit trails (read log, change log)."""

from __future__ import annotations

import auditlog.admin  # noqa: F401  (registers auditlog's LogEntryAdmin, replaced below)
from auditlog.admin import LogEntryAdmin as AuditlogLogEntryAdmin
from auditlog.models import LogEntry
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from accounts import care, sharing
from accounts.admin_access import PatientDataAdminMixin, ReadOnlyAdminMixin
from accounts.models import AccessLog, CareTeam, ShareGrant


class ActiveFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"
    ended_field = "ended_at"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("ended", "Ended")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(**{f"{self.ended_field}__isnull": True})
        if self.value() == "ended":
            return queryset.filter(**{f"{self.ended_field}__isnull": False})
        return queryset


class CareTeamForm(forms.ModelForm):
    class Meta:
        model = CareTeam
        fields = ["clinician", "patient"]

    def clean(self):
        cleaned = super().clean()
        clinician, patient = cleaned.get("clinician"), cleaned.get("patient")
        if clinician and patient:
            if clinician.role != clinician.Role.CLINICIAN or not clinician.is_active:
                raise ValidationError({"clinician": "Choose an active clinician."})
            if clinician.pk == patient.pk:
                raise ValidationError({"patient": "A clinician cannot be their own patient."})
            if CareTeam.objects.active().filter(clinician=clinician, patient=patient).exists():
                raise ValidationError("This clinician already cares for this patient.")
        return cleaned


@admin.register(CareTeam)
class CareTeamAdmin(PatientDataAdminMixin, admin.ModelAdmin):
    owner_field = "patient"
    form = CareTeamForm
    list_display = ["clinician", "patient", "source", "started_at", "ended_at", "is_active"]
    list_filter = [ActiveFilter, "source", "started_at"]
    search_fields = [
        "clinician__username",
        "clinician__email",
        "clinician__last_name",
        "patient__username",
        "patient__email",
        "patient__last_name",
    ]
    date_hierarchy = "started_at"
    list_select_related = ["clinician", "patient"]
    autocomplete_fields = ["clinician", "patient"]
    actions = ["end_memberships"]
    readonly_fields = [
        "clinician",
        "patient",
        "source",
        "started_at",
        "ended_at",
        "created_by",
        "ended_by",
    ]

    @admin.display(boolean=True, description="active")
    def is_active(self, obj: CareTeam) -> bool:
        return obj.is_active

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ["clinician", "patient"]

    def save_model(self, request, obj, form, change):
        if change:
            return
        membership = care.care_team_add(
            clinician=obj.clinician,
            patient=obj.patient,
            source=CareTeam.Source.ADMIN,
            created_by=request.user,
        )
        obj.pk = membership.pk
        obj._state.adding = False

    @admin.action(description="End the selected memberships", permissions=["change"])
    def end_memberships(self, request, queryset):
        ended = 0
        for membership in queryset.filter(ended_at__isnull=True):
            care.care_team_end(membership=membership, ended_by=request.user)
            ended += 1
        self.message_user(request, f"{ended} membership(s) ended.", messages.SUCCESS)


@admin.register(ShareGrant)
class ShareGrantAdmin(PatientDataAdminMixin, admin.ModelAdmin):
    owner_field = "owner"
    list_display = [
        "owner",
        "kind",
        "grantee",
        "label",
        "date_from",
        "date_to",
        "expires_at",
        "status",
        "created_at",
    ]
    list_filter = ["kind", ("revoked_at", admin.EmptyFieldListFilter), "expires_at"]
    search_fields = [
        "owner__username",
        "owner__email",
        "grantee__username",
        "grantee__email",
        "label",
    ]
    date_hierarchy = "created_at"
    list_select_related = ["owner", "grantee"]
    # Never shown, not even hashed: token_hash, code_hash.
    fields = [
        "owner",
        "kind",
        "grantee",
        "label",
        "metric_types",
        "date_from",
        "date_to",
        "expires_at",
        "created_at",
        "revoked_at",
    ]
    readonly_fields = fields
    actions = ["revoke_grants"]

    def has_add_permission(self, request, *args) -> bool:
        return False  # patients create grants (and receive the link code once)

    @admin.action(description="Revoke the selected share grants", permissions=["change"])
    def revoke_grants(self, request, queryset):
        revoked = 0
        for grant in queryset.filter(revoked_at__isnull=True):
            sharing.share_grant_revoke(grant=grant)
            revoked += 1
        self.message_user(request, f"{revoked} share grant(s) revoked.", messages.SUCCESS)


class SuperuserViewMixin:
    """Visible to superusers only."""

    def has_module_permission(self, request) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_view_permission(self, request, obj=None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)


@admin.register(AccessLog)
class AccessLogAdmin(SuperuserViewMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "at",
        "actor_label",
        "owner",
        "via",
        "endpoint",
        "object_type",
        "object_id",
        "ip",
        "request_id",
    ]
    list_filter = ["via", "at"]
    search_fields = ["actor_label", "owner__username", "owner__email", "endpoint", "request_id"]
    date_hierarchy = "at"
    list_select_related = ["owner"]


if admin.site.is_registered(LogEntry):
    admin.site.unregister(LogEntry)


@admin.register(LogEntry)
class LogEntryAdmin(SuperuserViewMixin, ReadOnlyAdminMixin, AuditlogLogEntryAdmin):
    """auditlog's admin, append-only: no add, change or delete, superusers included."""
