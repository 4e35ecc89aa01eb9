"""A write of the owner's today is not an input of the recommendations yet (every rule reads
windows ending yesterday; today's weight is the exception): the cached answer stays, and it
is what computing now gives. A write before today drops it; the owner's midnight rolls it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.test import override_settings

from goals import services as goal_services
from goals.models import HealthGoal
from goals.signals import goals_changed
from insights import snapshot_builder
from insights.models import RecommendationState
from tests.insights.helpers import daily, low_steps, meal, measure, utc_today

pytestmark = pytest.mark.django_db


def get(client, user, query: str = "") -> dict:
    response = client.get(f"/api/v1/recommendations/{user.pk}" + (f"?{query}" if query else ""))
    assert response.status_code == 200, response.json()
    return response.json()


def fresh(client, user) -> list:
    return get(client, user, "use_cache=false")["recommendations"]


@pytest.fixture
def patient(user):
    low_steps(user)
    daily(user, "sleep", [300] * 4)
    for back in range(1, 5):
        meal(user, utc_today() - timedelta(days=back), calories=900)
    return user


@pytest.fixture
def cached(auth_client, patient) -> dict:
    get(auth_client, patient)
    body = get(auth_client, patient)
    assert body["cached"] is True
    return body


def test_a_meal_of_today_keeps_the_cached_answer_which_equals_a_fresh_one(
    auth_client, patient, cached, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        meal(patient, utc_today(), calories=4000, protein_g=1)
    after = get(auth_client, patient)
    assert after["cached"] is True and after == cached
    assert after["recommendations"] == fresh(auth_client, patient)


def test_a_meal_of_yesterday_drops_the_cached_answer(
    auth_client, patient, cached, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        meal(patient, utc_today() - timedelta(days=1), calories=4000, protein_g=1)
    after = get(auth_client, patient)
    assert after["cached"] is False
    assert after["generated_at"] != cached["generated_at"]  # computed again


def test_steps_of_today_keep_the_cached_answer_and_of_yesterday_drop_it(
    auth_client, patient, cached, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        measure(patient, "steps", 30000, utc_today(), hour=0)
    assert get(auth_client, patient) == cached
    assert cached["recommendations"] == fresh(auth_client, patient)
    with django_capture_on_commit_callbacks(execute=True):
        measure(patient, "steps", 30000, utc_today() - timedelta(days=1))
    after = get(auth_client, patient)
    assert after["cached"] is False and after["recommendations"] != cached["recommendations"]


def test_a_weight_of_today_drops_the_cached_answer(
    auth_client, patient, cached, django_capture_on_commit_callbacks
):
    patient.height_cm = 170
    with django_capture_on_commit_callbacks(execute=True):
        patient.save(update_fields=["height_cm"])
    before = get(auth_client, patient)
    with django_capture_on_commit_callbacks(execute=True):
        measure(patient, "weight", 120, utc_today(), hour=0)  # the BMI quotes today's weight
    after = get(auth_client, patient)
    assert after["cached"] is False
    assert "weight_management" in [r["type"] for r in after["recommendations"]]
    assert "weight_management" not in [r["type"] for r in before["recommendations"]]


# The roll is the cached entries' expiry at the owner's midnight: a cache whose clock the test
# moves (Redis keeps its own clock, which time_machine cannot move).
@override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}})
def test_the_cached_answer_rolls_at_the_owners_midnight(auth_client, patient):
    today = utc_today()
    late = datetime.combine(today, time(23, 59, 30), tzinfo=UTC)
    with time_machine.travel(late, tick=False):
        assert get(auth_client, patient)["cached"] is False
        assert get(auth_client, patient)["cached"] is True
    with time_machine.travel(late + timedelta(seconds=29), tick=False):
        assert get(auth_client, patient)["cached"] is True
    with time_machine.travel(late + timedelta(seconds=31), tick=False):
        assert get(auth_client, patient)["cached"] is False


def test_a_write_of_today_makes_the_stored_set_due_tomorrow(
    user, django_capture_on_commit_callbacks
):
    from insights import tasks

    tasks.nightly_recommendations.delay()  # no data in reach: never due again
    assert RecommendationState.objects.get(user=user).valid_until is None
    with django_capture_on_commit_callbacks(execute=True):
        meal(user, utc_today())
    state = RecommendationState.objects.get(user=user)
    assert state.valid_until == utc_today() + timedelta(days=1)
    assert state.data_changed_at is None  # nothing changed for today's windows
    assert list(snapshot_builder.users_due_for_recommendations()) == []
    tomorrow = utc_today() + timedelta(days=1)
    assert list(snapshot_builder.users_due_for_recommendations(today=tomorrow)) == [user.pk]


def test_progress_alone_keeps_the_cached_answer(
    auth_client, patient, cached, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        goal = goal_services.goal_create(user=patient, goal_type="steps", target_value=8000)
    assert get(auth_client, patient)["cached"] is False  # a new goal: an input
    assert get(auth_client, patient)["cached"] is True
    with django_capture_on_commit_callbacks(execute=True):
        goals_changed.send(
            sender=HealthGoal, user_id=patient.pk, goal_ids=frozenset({goal.pk}), progress_only=True
        )
    assert get(auth_client, patient)["cached"] is True
    with django_capture_on_commit_callbacks(execute=True):
        goals_changed.send(sender=HealthGoal, user_id=patient.pk, goal_ids=frozenset({goal.pk}))
    assert get(auth_client, patient)["cached"] is False


def test_a_progress_recompute_says_progress_only_unless_a_goal_completed(user):
    received = []

    def handler(sender, **kwargs):
        received.append(kwargs.get("progress_only", False))

    goals_changed.connect(handler, dispatch_uid="test-progress-only")
    try:
        measure(user, "weight", 80, utc_today() - timedelta(days=3))
        goal_services.goal_create(
            user=user, goal_type="weight", target_value=70, direction="decrease"
        )
        measure(user, "weight", 75, utc_today() - timedelta(days=2))
        received.clear()
        goal_services.goal_progress_recompute(user_id=user.pk)
        assert received == [True]  # current value and percent moved
        measure(user, "weight", 69, utc_today() - timedelta(days=1))
        received.clear()
        goal_services.goal_progress_recompute(user_id=user.pk)
        assert HealthGoal.objects.get(user=user).status == HealthGoal.Status.COMPLETED
        assert received == [False]  # an active goal fewer: what the rules read may change
    finally:
        goals_changed.disconnect(dispatch_uid="test-progress-only")
