from __future__ import annotations

import django_filters

from healthtrack.core import days as calendar
from nutrition.models import NutritionLog


class NutritionLogFilter(django_filters.FilterSet):
    start = django_filters.DateFilter(
        method="filter_start", label="First day (YYYY-MM-DD, the person's local day), inclusive"
    )
    end = django_filters.DateFilter(
        method="filter_end", label="Last day (YYYY-MM-DD, the person's local day), inclusive"
    )
    meal_type = django_filters.ChoiceFilter(choices=NutritionLog.MealType.choices)

    class Meta:
        model = NutritionLog
        fields = ["start", "end", "meal_type"]

    def _in_owner_zone(self, queryset):
        """The rows are one person's (`OwnedRowsMixin`): their local days."""
        view = getattr(self.request, "parser_context", {}).get("view")
        owner = view.owner() if view is not None and hasattr(view, "owner") else None
        if owner is not None:
            queryset.zone = calendar.zone_of(owner)
        return queryset

    def filter_start(self, queryset, name, value):
        return self._in_owner_zone(queryset).on_days(start=value)

    def filter_end(self, queryset, name, value):
        return self._in_owner_zone(queryset).on_days(end=value)
