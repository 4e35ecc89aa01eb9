"""The goals list writes each goal exactly as `HealthGoalSerializer` does, with its progress
as stored (the numbers the dashboard shows), for the owner and a care-team clinician alike."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from goals.api.serializers import HealthGoalSerializer
from goals.models import HealthGoal
from tests.goals.factories import HealthGoalFactory, days_ago, today

pytestmark = pytest.mark.django_db

URL = "/api/v1/health-goals"


@pytest.fixture
def goals(user):
    done = timezone.now() - timedelta(days=1)
    return [
        HealthGoalFactory(user=user),
        HealthGoalFactory(
            user=user,
            goal_type=HealthGoal.GoalType.WEIGHT,
            metric_type="weight",
            unit="kg",
            target_value=72.5,
            baseline_value=80.25,
            direction=HealthGoal.Direction.DECREASE,
            start_date=days_ago(30),
            target_date=today() + timedelta(days=60),
            priority=HealthGoal.Priority.HIGH,
            description="",
            current_value=77.1,
            progress_percent=40.6,
            on_track=True,
            progress_updated_at=done,
        ),
        HealthGoalFactory(
            user=user,
            status=HealthGoal.Status.COMPLETED,
            current_value=8123.0,
            progress_percent=100.0,
            on_track=True,
            completed_at=done,
            progress_updated_at=done,
        ),
    ]


def _as_serialized(rows) -> list[dict]:
    return json.loads(JSONRenderer().render(HealthGoalSerializer(rows, many=True).data))


def test_list_rows_are_what_the_serializer_writes(auth_client, user, goals):
    rows = HealthGoal.objects.filter(user=user).order_by("-created_at", "-id")
    body = auth_client.get(URL).json()
    assert body["results"] == _as_serialized(rows)
    assert [item["reading"] for item in body["results"]] == [goal.reading for goal in rows]
    assert {item["progress_percent"] for item in body["results"]} == {0.0, 40.6, 100.0}


def test_a_clinicians_view_of_the_patient_list_is_the_same(
    auth_client, clinician_client, user, goals, care_team
):
    mine = auth_client.get(f"{URL}/user/{user.pk}").json()
    assert clinician_client.get(f"{URL}/user/{user.pk}").json() == mine
    assert len(mine["results"]) == 3


def test_pages_and_filters_write_the_same_rows(auth_client, user, goals):
    first = auth_client.get(URL, {"page_size": 2}).json()
    second = auth_client.get(first["next"]).json()
    rows = HealthGoal.objects.filter(user=user).order_by("-created_at", "-id")
    assert first["results"] + second["results"] == _as_serialized(rows)
    active = auth_client.get(URL, {"status_filter": "active"}).json()["results"]
    assert active == _as_serialized(rows.filter(status="active"))
