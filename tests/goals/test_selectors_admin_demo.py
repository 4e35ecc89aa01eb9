"""The reads other apps use (the active weight goal, the cached dashboard list), the admin, the
audit log and the demo goals."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from accounts import care
from accounts.models import AccessLog
from goals import demo, services
from goals.dashboard_goals import goals_for_dashboard
from goals.models import HealthGoal
from metrics import demo as metrics_demo
from nutrition import demo as nutrition_demo
from tests.accounts.factories import ClinicianFactory, UserFactory
from tests.goals.factories import HealthGoalFactory, days_ago, measure, today

pytestmark = pytest.mark.django_db


# --- reads ----------------------------------------------------------------------------------


def active_weight_goal(user) -> dict | None:
    """The active weight goal as insights reads it (`insights.snapshot_builder.weight_goals`)."""
    return (
        HealthGoal.objects.for_user(user)
        .active()
        .measuring(["weight"])
        .by_priority()
        .values("target_value", "direction", "start_date", "target_date")
        .first()
    )


def test_active_weight_goal_has_the_insights_snapshot_shape(user):
    assert active_weight_goal(user) is None
    measure(user, "weight", 80, days_ago(1))
    target_date = today() + timedelta(days=90)
    services.goal_create(user=user, goal_type="weight", target_value=75, target_date=target_date)
    assert active_weight_goal(user) == {
        "target_value": 75.0,
        "direction": "decrease",
        "start_date": today(),
        "target_date": target_date,
    }


def test_active_weight_goal_prefers_the_higher_priority_and_skips_inactive_ones(user):
    HealthGoalFactory(
        user=user,
        goal_type="weight",
        metric_type="weight",
        unit="kg",
        target_value=60,
        direction="decrease",
        priority="low",
    )
    HealthGoalFactory(
        user=user,
        goal_type="weight",
        metric_type="weight",
        unit="kg",
        target_value=50,
        direction="decrease",
        priority="high",
        status="abandoned",
    )
    HealthGoalFactory(
        user=user,
        goal_type="weight",
        metric_type="weight",
        unit="kg",
        target_value=65,
        direction="decrease",
        priority="high",
    )
    HealthGoalFactory(user=UserFactory(), goal_type="weight", metric_type="weight", unit="kg",
                      target_value=40, direction="decrease", priority="high")  # fmt: skip
    assert active_weight_goal(user)["target_value"] == 65


def test_dashboard_lists_active_goals_by_priority_in_one_query(user, django_assert_num_queries):
    low = HealthGoalFactory(user=user, priority="low")
    high = HealthGoalFactory(user=user, priority="high")
    soon = HealthGoalFactory(user=user, priority="medium", target_date=today())
    later = HealthGoalFactory(user=user, priority="medium")
    HealthGoalFactory(user=user, status="completed")
    with django_assert_num_queries(1):
        goals = goals_for_dashboard(user.pk)
    assert [g["id"] for g in goals] == [high.pk, soon.pk, later.pk, low.pk]
    assert goals[0]["reading"] == "daily_average"
    assert "description" not in goals[0]  # no decrypted free text in the cache
    with django_assert_num_queries(0):
        assert goals_for_dashboard(user.pk) == goals  # cached


def test_dashboard_cache_is_cleared_when_progress_changes(user, django_capture_on_commit_callbacks):
    services.goal_create(user=user, goal_type="steps", target_value=8000)
    assert goals_for_dashboard(user.pk)[0]["current_value"] is None
    with django_capture_on_commit_callbacks(execute=True):
        measure(user, "steps", 9000, days_ago(1))
    assert goals_for_dashboard(user.pk)[0]["current_value"] == 9000


# --- audit log ------------------------------------------------------------------------------


def test_goal_changes_are_audit_logged_without_the_description_or_progress(user):
    goal = services.goal_create(
        user=user, goal_type="steps", target_value=8000, description="knee surgery in May"
    )
    services.goal_update(goal=goal, target_value=9000, description="after the knee surgery")
    entries = LogEntry.objects.get_for_object(goal)
    assert entries.count() == 2
    for entry in entries:
        assert "description" not in entry.changes_dict
        assert "current_value" not in entry.changes_dict
        assert "knee" not in str(entry.changes)
    assert "target_value" in entries.order_by("-timestamp", "-id").first().changes_dict


def test_progress_only_changes_write_no_audit_entry(user):
    measure(user, "steps", 5000, days_ago(2))
    goal = services.goal_create(user=user, goal_type="steps", target_value=8000)
    measure(user, "steps", 7000, days_ago(1))
    assert services.goal_progress_recompute(user_id=user.pk) == [goal.pk]
    assert LogEntry.objects.get_for_object(goal).count() == 1  # the creation only


def test_description_is_encrypted_at_rest(user):
    from django.db import connection

    goal = services.goal_create(
        user=user, goal_type="steps", target_value=8000, description="knee surgery"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT description FROM goals_healthgoal WHERE id = %s", [goal.pk])
        stored = cursor.fetchone()[0]
    stored = bytes(stored).decode() if not isinstance(stored, str) else stored
    assert "knee" not in stored


# --- admin ----------------------------------------------------------------------------------


def changelist() -> str:
    return reverse("admin:goals_healthgoal_changelist")


def change(goal) -> str:
    return reverse("admin:goals_healthgoal_change", args=[goal.pk])


def test_superuser_changelist_and_filters_load_in_constant_queries(
    client, user, django_assert_max_num_queries
):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    HealthGoalFactory.create_batch(5, user=user)
    with django_assert_max_num_queries(12):
        response = client.get(changelist())
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 5
    assert client.get(changelist(), {"status__exact": "active", "q": user.email}).status_code == 200


def test_superuser_deletes_through_the_service(client, user, django_capture_on_commit_callbacks):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    goal = HealthGoalFactory(user=user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:goals_healthgoal_delete", args=[goal.pk]), {"post": "yes"}
        )
    assert response.status_code == 302
    assert not HealthGoal.objects.exists()


def test_admin_clinician_sees_their_patients_goals_read_only_and_the_read_is_logged(
    client, user, other_user
):
    doctor = care.clinician_enable_admin(user=ClinicianFactory())
    care.care_team_add(clinician=doctor, patient=user)
    mine = HealthGoalFactory(user=user)
    theirs = HealthGoalFactory(user=other_user)
    client.force_login(doctor)
    response = client.get(changelist())
    assert list(response.context["cl"].result_list) == [mine]
    page = client.get(change(mine))
    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    assert not page.context["has_delete_permission"]
    assert AccessLog.objects.filter(actor=doctor, owner=user, via="admin").exists()
    assert client.get(change(theirs)).status_code == 302


def test_other_staff_see_no_goals(client, user):
    HealthGoalFactory(user=user)
    client.force_login(UserFactory(is_staff=True))
    assert client.get(changelist()).status_code == 403


# --- demo -----------------------------------------------------------------------------------


def test_demo_seeds_three_goals_with_progress_and_is_idempotent():
    patient = UserFactory()
    users = {"patient": patient}
    metrics_demo.seed(users=users, days=21, rng=random.Random(1))
    nutrition_demo.seed(users=users, days=21, rng=random.Random(1))
    created = demo.seed(users=users, days=21, rng=random.Random(1))
    assert len(created) == 3
    assert demo.seed(users=users, days=21, rng=random.Random(2)) == []
    goals = {g.goal_type: g for g in HealthGoal.objects.for_user(patient)}
    assert set(goals) == {"steps", "weight", "water"}

    steps, weight, water = goals["steps"], goals["weight"], goals["water"]
    assert (steps.target_value, steps.direction, steps.period_days) == (8000, "at_least", 7)
    assert (water.metric_type, water.target_value, water.unit) == ("water_ml", 2000, "ml")
    assert weight.direction == "decrease" and weight.target_date > today()
    latest = weight.current_value
    assert latest is not None and 2.5 <= latest - weight.target_value <= 6
    for goal in goals.values():
        assert goal.current_value is not None
        assert goal.progress_updated_at is not None
    assert active_weight_goal(patient)["target_value"] == weight.target_value


def test_demo_without_measurements_still_gives_three_goals():
    patient = UserFactory()
    assert len(demo.seed(users={"patient": patient}, days=0, rng=random.Random(1))) == 3
