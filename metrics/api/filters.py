from __future__ import annotations

import django_filters

from metrics.models import HealthMetric
from metrics.registry import METRIC_TYPE_CHOICES


class HealthMetricFilter(django_filters.FilterSet):
    metric_type = django_filters.ChoiceFilter(choices=METRIC_TYPE_CHOICES)
    since = django_filters.IsoDateTimeFilter(
        field_name="recorded_at", lookup_expr="gte", label="recorded_at on or after (ISO 8601)"
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="recorded_at", lookup_expr="lt", label="recorded_at before (ISO 8601)"
    )
    source = django_filters.CharFilter(field_name="source_app", label="source_app, exactly")
    # Bounded: a number beyond any row id overflowed SQLite (a 500 found by fuzzing).
    device = django_filters.NumberFilter(
        field_name="device_id", label="device id", min_value=1, max_value=2**63 - 1
    )

    class Meta:
        model = HealthMetric
        fields = ["metric_type", "since", "until", "source", "device"]

    def get_form_class(self):
        # The filters' form fields do not depend on the request: build the form class once
        # per FilterSet class (django-filter builds one per request; a Form deep-copies its
        # class's fields on construction, so the instances still share nothing).
        form_class = type(self).__dict__.get("_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            type(self)._form_class = form_class
        return form_class
