"""A page filtered to exactly one metric type is filtered without django-filter's form (issue
15): the same rows as the FilterSet gives, and every other filter, an unknown type or a
repeated `metric_type` still goes through the FilterSet (its 400s included)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.http import QueryDict
from django.utils import timezone

from metrics.api.filters import HealthMetricFilter
from metrics.models import HealthMetric
from metrics.services import metric_create

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("metric_type=steps", "steps"),
        ("metric_type=heart_rate&limit=50", "heart_rate"),
        ("metric_type=steps&cursor=abc&member=3", "steps"),
        ("metric_type=Steps", None),
        ("metric_type=nonsense", None),
        ("metric_type=", None),
        ("metric_type=steps&metric_type=weight", None),
        ("metric_type=steps&since=2026-01-01T00:00:00Z", None),
        ("metric_type=steps&until_x=1", None),
        ("metric_type=steps&source=x", None),
        ("metric_type=steps&device=1", None),
        ("limit=50", None),
    ],
)
def test_single_type_is_named_only_for_one_valid_type_and_nothing_else(query, expected):
    assert HealthMetricFilter.single_type(QueryDict(query)) == expected


@pytest.fixture
def readings(user):
    now = timezone.now()
    for i, (metric_type, unit, value) in enumerate(
        [("steps", "count", 500), ("heart_rate", "bpm", 70), ("weight", "kg", 80)] * 3
    ):
        metric_create(
            user=user,
            metric_type=metric_type,
            unit=unit,
            value=value,
            recorded_at=now - timedelta(hours=i),
        )


@pytest.mark.parametrize("metric_type", ["steps", "heart_rate", "weight", "sleep"])
def test_a_one_type_page_has_the_filtersets_rows(auth_client, user, readings, metric_type):
    response = auth_client.get(f"/api/v1/health-metrics?metric_type={metric_type}&limit=50")
    assert response.status_code == 200
    expected = HealthMetricFilter(
        QueryDict(f"metric_type={metric_type}"), queryset=HealthMetric.objects.filter(user=user)
    ).qs.order_by("-recorded_at", "-id")
    assert [row["id"] for row in response.json()["results"]] == [m.pk for m in expected]


def test_other_filters_and_bad_types_still_go_through_the_filterset(auth_client, readings):
    bad = auth_client.get("/api/v1/health-metrics?metric_type=nonsense")
    assert bad.status_code == 400 and "metric_type" in bad.json()
    since = (timezone.now() - timedelta(hours=3, minutes=30)).isoformat()
    page = auth_client.get("/api/v1/health-metrics", {"metric_type": "steps", "since": since})
    assert page.status_code == 200
    assert [row["metric_type"] for row in page.json()["results"]] == ["steps", "steps"]
