from __future__ import annotations

from django.contrib import admin

from accounts import access
from nutrition import services
from nutrition.models import Food, NutritionLog, NutritionTargets


@admin.register(Food)
class FoodAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "category",
        "calories",
        "protein_g",
        "carbs_g",
        "fat_g",
        "fiber_g",
        "sugar_g",
        "sodium_mg",
    ]
    list_filter = ["category"]
    search_fields = ["name"]


@admin.register(NutritionLog)
class NutritionLogAdmin(admin.ModelAdmin):
    """Diaries are the patients' own record: staff may look (as accounts.access allows) and
    delete, not rewrite. Deletes go through the service so goals and insights hear of them."""

    list_display = ["logged_at", "user", "meal_type", "food", "grams", "calories", "water_ml"]
    list_filter = ["meal_type", "logged_at", "food__category"]
    search_fields = ["user__username", "user__email", "food__name"]
    date_hierarchy = "logged_at"
    list_select_related = ["user", "food"]
    ordering = ["-logged_at", "-id"]
    readonly_fields = [f.name for f in NutritionLog._meta.fields]

    def get_queryset(self, request):
        return access.readable(super().get_queryset(request), request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or access.can_write(request.user, obj.user_id))

    def delete_model(self, request, obj):
        services.nutrition_log_delete(log=obj)

    def delete_queryset(self, request, queryset):
        for log in access.writable(queryset, request.user):
            services.nutrition_log_delete(log=log)


@admin.register(NutritionTargets)
class NutritionTargetsAdmin(admin.ModelAdmin):
    list_display = ["user", "calories", "protein_g", "water_ml", "updated_at"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]

    def get_queryset(self, request):
        return access.readable(super().get_queryset(request), request.user)
