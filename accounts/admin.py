from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

# Care teams, share grants and the audit trails are registered from their own module.
from accounts import admin_care  # noqa: F401
from accounts.admin_access import PatientDataAdminMixin
from accounts.models import User


@admin.register(User)
class UserAdmin(PatientDataAdminMixin, DjangoUserAdmin):
    """Superusers manage every account; admin clinicians see their patients' profiles
    (decrypted) read-only; other staff see nothing (accounts.admin_access)."""

    owner_field = None
    list_display = ["username", "email", "role", "is_staff", "is_active", "date_joined"]
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
