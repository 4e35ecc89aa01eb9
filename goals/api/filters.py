from __future__ import annotations

import django_filters

from goals.models import HealthGoal


class HealthGoalFilter(django_filters.FilterSet):
    status_filter = django_filters.ChoiceFilter(
        field_name="status", choices=HealthGoal.Status.choices, label="Only goals in this status"
    )

    class Meta:
        model = HealthGoal
        fields = ["status_filter"]
