from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
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
