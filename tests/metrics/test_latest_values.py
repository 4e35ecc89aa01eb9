"""`metrics.latest.latest_values`: the summary's latest sample of every type, in one query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from metrics import latest, services

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def readings(user, other_user):
    for hours, kg in [(0, 80.0), (24, 79.5), (48, 79.0)]:
        services.metric_create(
            user=user, metric_type="weight", value=kg, recorded_at=T0 + timedelta(hours=hours)
        )
    for minutes, bpm in [(0, 61), (1, 64), (2, 70)]:
        services.metric_create(
            user=user,
            metric_type="heart_rate",
            value=bpm,
            recorded_at=T0 + timedelta(minutes=minutes),
        )
    services.metric_create(user=other_user, metric_type="weight", value=99, recorded_at=T0)
    return user


def test_latest_values_equal_latest_value_per_type(readings):
    codes = ["weight", "heart_rate", "sleep"]
    found = latest.latest_values(user_id=readings.pk, metric_types=codes)
    assert found == {
        code: latest.latest_value(user_id=readings.pk, metric_type=code)
        for code in ("weight", "heart_rate")
    }
    assert found["weight"] == (T0 + timedelta(hours=48), 79.0)


def test_latest_values_respect_the_bound(readings):
    found = latest.latest_values(
        user_id=readings.pk, metric_types=["weight", "heart_rate"], before=T0 + timedelta(hours=1)
    )
    assert found == {
        "weight": (T0, 80.0),
        "heart_rate": (T0 + timedelta(minutes=2), 70.0),
    }


def test_latest_values_never_return_another_persons_samples(readings, other_user):
    assert latest.latest_values(user_id=other_user.pk, metric_types=["weight", "steps"]) == {
        "weight": (T0, 99.0)
    }


@pytest.mark.skipif(
    not connection.features.supports_slicing_ordering_in_compound,
    reason="one query needs ordered, limited UNION parts (PostgreSQL)",
)
def test_latest_values_of_many_types_is_one_query(readings, django_assert_num_queries):
    with django_assert_num_queries(1):
        latest.latest_values(
            user_id=readings.pk, metric_types=["weight", "heart_rate", "steps", "sleep"]
        )


def test_summary_for_a_share_grant_viewer_keeps_the_grants_scope(readings, monkeypatch):
    # With a viewer, every type goes through latest_value with that viewer (its grant's
    # types and window), never through the unscoped batched query.
    seen = []

    def scoped(*, user_id, metric_type, before=None, viewer=None):
        seen.append((metric_type, viewer))
        return None

    monkeypatch.setattr(latest, "latest_value", scoped)
    viewer = object()
    found = latest.latest_values(
        user_id=readings.pk, metric_types=["weight", "heart_rate"], viewer=viewer
    )
    assert found == {}
    assert seen == [("weight", viewer), ("heart_rate", viewer)]
