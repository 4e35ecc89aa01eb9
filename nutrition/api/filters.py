from __future__ import annotations

import django_filters

from nutrition.models import NutritionLog


class NutritionLogFilter(django_filters.FilterSet):
    start = django_filters.DateFilter(
        method="filter_start", label="First UTC day (YYYY-MM-DD), inclusive"
    )
    end = django_filters.DateFilter(
        method="filter_end", label="Last UTC day (YYYY-MM-DD), inclusive"
    )
    meal_type = django_filters.ChoiceFilter(choices=NutritionLog.MealType.choices)

    class Meta:
        model = NutritionLog
        fields = ["start", "end", "meal_type"]

    def filter_start(self, queryset, name, value):
        return queryset.on_days(start=value)

    def filter_end(self, queryset, name, value):
        return queryset.on_days(end=value)
