"""Concurrent writers on PostgreSQL (SQLite serialises every write transaction anyway)."""

from __future__ import annotations

import pytest
from django.db import connection

from insights import services
from insights.models import HealthInsight
from tests.healthtrack.concurrency import together
from tests.insights.test_services import T0, T1, crisis, rec

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


def test_concurrent_recomputations_leave_one_whole_set(user):
    one = [rec("low_steps")]
    two = [rec("activity_change"), rec("low_water_intake")]
    errors = together(
        lambda: services.insights_replace_generated(
            user_id=user.pk, recommendations=one, generated_at=T0
        ),
        lambda: services.insights_replace_generated(
            user_id=user.pk, recommendations=two, generated_at=T1
        ),
    )
    assert errors == []
    rows = HealthInsight.objects.for_user(user.pk).recommendations().current()
    assert {r.insight_type for r in rows} in (
        {"low_steps"},
        {"activity_change", "low_water_intake"},
    )
    assert len({r.generation for r in rows}) == 1


def test_concurrent_records_of_the_same_alert_store_one(user):
    errors = together(*[lambda: services.alert_record(user_id=user.pk, alert=crisis())] * 3)
    assert errors == []
    assert HealthInsight.objects.alerts().count() == 1
