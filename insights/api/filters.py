from __future__ import annotations

import django_filters

from insights.models import HealthInsight


class HealthInsightFilter(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(
        method="filter_unread", label="true: only unread; false: only read"
    )
    severity = django_filters.ChoiceFilter(choices=HealthInsight.Severity.choices)
    kind = django_filters.ChoiceFilter(choices=HealthInsight.Kind.choices)
    include_history = django_filters.BooleanFilter(
        method="filter_history",
        label="true: also recommendations replaced by a newer set (acknowledged history)",
    )

    class Meta:
        model = HealthInsight
        fields = ["unread", "severity", "kind", "include_history"]

    def filter_unread(self, queryset, name, value):
        return queryset.filter(is_read=not value)

    def filter_history(self, queryset, name, value):
        return queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("include_history"):
            queryset = self.unfiltered(queryset)
        return queryset

    @staticmethod
    def unfiltered(queryset):
        """The rows when no filter is given: current ones only (the default above)."""
        return queryset.current()

    @classmethod
    def named_in(cls, params) -> bool:
        """Does the query name a filter (as `healthtrack.core.api.filtering` decides)? When
        it does not, the FilterSet's answer is `unfiltered(queryset)`, without its form."""
        return any(key.startswith(name) for key in params for name in cls.base_filters)
