from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.urls import reverse
from django.utils.html import format_html
from oauth2_provider.models import AccessToken, Grant, IDToken, RefreshToken

# Care teams, share grants and the audit trails are registered from their own module.
from accounts import access, admin_care, care  # noqa: F401
from accounts.admin_access import PatientDataAdminMixin
from accounts.models import User

# django-oauth-toolkit registers its models in its own admin.py (loaded first): apps stay, with
# accounts.admin_oauth's admin (settings OAUTH2_PROVIDER); tokens and codes are secrets and
# are revoked by the patient, so their admins go.
for _model in (AccessToken, Grant, IDToken, RefreshToken):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(User)
class UserAdmin(PatientDataAdminMixin, DjangoUserAdmin):
    """Superusers manage every account; admin clinicians see their patients' profiles
    (decrypted) read-only; other staff see nothing (accounts.admin_access)."""

    owner_field = None
    list_display = [
        "username",
        "email",
        "role",
        "is_staff",
        "is_active",
        "date_joined",
        "patient_page",
    ]
    list_select_related: list[str] = []  # no relation shown: one query for the rows
    actions = ["recompute_recommendations"]
    list_filter = ["role", "is_staff", "is_active", "sex"]
    search_fields = ["username", "email", "first_name", "last_name"]
    date_hierarchy = "date_joined"
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (
            "Health profile",
            {
                "fields": (
                    "role",
                    "date_of_birth",
                    "sex",
                    "height_cm",
                    "medical_history",
                    "deleted_at",
                )
            },
        ),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "role", "password1", "password2"),
            },
        ),
    )

    def get_fieldsets(self, request, obj=None):
        if obj is not None and not request.user.is_superuser:
            # No password hash, permissions or groups for clinicians.
            return (
                (None, {"fields": ("username", "email", "first_name", "last_name")}),
                self.fieldsets[-1],
            )
        return super().get_fieldsets(request, obj)

    @admin.display(description="patient page")
    def patient_page(self, obj: User) -> str:
        if obj.role != User.Role.PATIENT:
            return "–"
        return format_html('<a href="{}">Open</a>', reverse("admin:patient_page", args=[obj.pk]))

    def has_recompute_permission(self, request) -> bool:
        return access.admin_can_view(request.user)

    @admin.action(
        description="Recompute recommendations for the selected patients",
        permissions=["recompute"],
    )
    def recompute_recommendations(self, request, queryset):
        # `queryset` is already scoped: a clinician's holds their care-team patients and
        # themself, and a clinician is not their own patient.
        if not request.user.is_superuser:
            queryset = queryset.exclude(pk=request.user.pk)
        queued = care.recommendations_recompute_queue(
            user_ids=queryset.values_list("pk", flat=True)
        )
        self.message_user(
            request, f"Recomputing recommendations for {queued} patient(s).", messages.SUCCESS
        )
