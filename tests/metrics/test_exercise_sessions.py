"""An exercise session (the quick log's gym entry) is one `exercise` measurement that ends when
the session ended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from metrics import services
from metrics.models import DailyRollup

pytestmark = pytest.mark.django_db

ENDED = datetime(2026, 3, 10, 18, 30, tzinfo=UTC)


def test_a_session_spans_its_minutes_up_to_its_end(user):
    metric = services.exercise_session_create(
        user=user, minutes=45, ended_at=ENDED, activity="rowing", source_app="Quick log"
    )

    metric.refresh_from_db()
    assert (metric.metric_type, metric.value, metric.unit) == ("exercise", 45, "min")
    assert metric.recorded_at == ENDED - timedelta(minutes=45)
    assert metric.end_at == ENDED
    assert metric.metadata == {"activity": "rowing"}
    assert metric.source_app == "Quick log"


def test_a_session_counts_in_the_day_s_rollup(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.exercise_session_create(
            user=user, minutes=30, ended_at=ENDED, activity="run", source_app="Quick log"
        )

    rollup = DailyRollup.objects.get(user=user, metric_type="exercise", day=ENDED.date())
    assert rollup.value == 30
