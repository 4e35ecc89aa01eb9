from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from oauth2_provider.models import AccessToken, Grant, IDToken, RefreshToken

# Care teams, share grants and the audit trails are registered from their own module.
from accounts import access, admin_care, care, credentials, otp  # noqa: F401
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
    actions = ["recompute_recommendations", "issue_otp_enrolment_links"]
    list_filter = ["role", "is_staff", "is_active", "sex"]
    search_fields = ["username", "email", "first_name", "last_name"]

    def user_change_password(self, request, id, form_url=""):
        # A password set here ends every old credential too (accounts.credentials).
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 302:
                credentials.password_changed(
                    user=User.objects.get(pk=id),
                    how="set by an administrator",
                    base_url=request.build_absolute_uri("/"),
                )
        return response

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

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if not request.user.is_superuser:
            # A clinician's list is their patients: not themself.
            qs = qs.exclude(pk=request.user.pk)
        return qs

    def has_enrol_permission(self, request) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    @admin.action(
        description="Issue a one-time two-factor enrolment link (24 h) to the selected staff",
        permissions=["enrol"],
    )
    def issue_otp_enrolment_links(self, request, queryset):
        """Shows each link once, on the page this action returns (never in a message or log)."""
        issued, refused = [], []
        for user in queryset.order_by("username"):
            try:
                token, link = otp.otp_enrol_link_issue(user=user, issued_by=request.user)
            except ValidationError as exc:
                refused.append((user, " ".join(exc.messages)))
                continue
            issued.append((user, request.build_absolute_uri(otp.enrol_link_path(token)), link))
        context = {
            **self.admin_site.each_context(request),
            "title": "Two-factor enrolment links",
            "issued": issued,
            "refused": refused,
        }
        return TemplateResponse(request, "admin/otp_links_issued.html", context)

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
