"""Nutrition in the admin, scoped by `accounts.admin_access`: superusers see every diary,
admin clinicians their care-team patients' read-only, other staff none. Diaries are the
patients' own record: nobody rewrites them here; a superuser's deletes go through the service so
goals and insights hear of them."""

from __future__ import annotations

from django.contrib import admin

from accounts import access
from accounts.admin_access import PatientDataAdminMixin
from nutrition import services
from nutrition.models import Food, NutritionLog, NutritionTargets
from nutrition.validation import NUTRIENT_FIELDS


@admin.register(Food)
class FoodAdmin(admin.ModelAdmin):
    """The catalogue (reference data, no one's health data): superusers edit it, admin
    clinicians may look it up."""

    list_display = ["name", "category", *NUTRIENT_FIELDS]
    list_filter = ["category"]
    search_fields = ["name"]

    def has_module_permission(self, request) -> bool:
        return super().has_module_permission(request) or access.admin_can_view(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return super().has_view_permission(request, obj) or access.admin_can_view(request.user)


@admin.register(NutritionLog)
class NutritionLogAdmin(PatientDataAdminMixin, admin.ModelAdmin):
    owner_field = "user"
    list_display = ["logged_at", "user", "meal_type", "food", "grams", "calories", "water_ml"]
    list_filter = ["meal_type", "logged_at", "food__category"]
    search_fields = ["user__username", "user__email", "user__last_name", "food__name"]
    date_hierarchy = "logged_at"
    list_select_related = ["user", "food"]
    ordering = ["-logged_at", "-id"]
    readonly_fields = [f.name for f in NutritionLog._meta.fields]

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj):
        services.nutrition_log_delete(log=obj)

    def delete_queryset(self, request, queryset):
        for log in queryset:
            services.nutrition_log_delete(log=log)


@admin.register(NutritionTargets)
class NutritionTargetsAdmin(PatientDataAdminMixin, admin.ModelAdmin):
    owner_field = "user"
    list_display = ["user", "calories", "protein_g", "water_ml", "updated_at"]
    list_filter = ["updated_at"]
    search_fields = ["user__username", "user__email", "user__last_name"]
    date_hierarchy = "updated_at"
    list_select_related = ["user"]
    raw_id_fields = ["user"]

    def has_add_permission(self, request, *args) -> bool:
        return False  # each person sets their own (API, dashboard)

    def get_readonly_fields(self, request, obj=None):
        return ["user", "updated_at"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        services.nutrition_targets_set(
            user=obj.user,
            calories=obj.calories,
            protein_g=obj.protein_g,
            water_ml=obj.water_ml,
        )
