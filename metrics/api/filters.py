from __future__ import annotations

import django_filters

from metrics.models import HealthMetric
from metrics.registry import METRIC_TYPE_CHOICES

_TYPE_CODES = frozenset(code for code, _ in METRIC_TYPE_CHOICES)


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

    @classmethod
    def single_type(cls, params) -> str | None:
        """The metric type when `params` filter by exactly one valid `metric_type` and by
        nothing else (a page of one type, the mix's most frequent filter): the FilterSet's
        answer is then `filter(metric_type=code)`, without building and validating its form
        (a fifth of such a page's CPU on a miss, issue 15). None: run the FilterSet."""
        codes = params.getlist("metric_type")
        if len(codes) != 1 or codes[0] not in _TYPE_CODES:
            return None
        others = [name for name in cls.base_filters if name != "metric_type"]
        for key in params:
            if key != "metric_type" and any(
                key.startswith(name) for name in ("metric_type", *others)
            ):
                return None
        return codes[0]

    def get_form_class(self):
        # The filters' form fields do not depend on the request: build the form class once
        # per FilterSet class (django-filter builds one per request; a Form deep-copies its
        # class's fields on construction, so the instances still share nothing).
        form_class = type(self).__dict__.get("_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            type(self)._form_class = form_class
        return form_class
