"""One definition of each figure, read by every surface: the cases of issue 16 (day one
steps against a goal, "Behind" at 99 %, sleep "no data" beside last night's card, a partial
day scored, a member's empty state over their chart, fractional steps)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.sites import site

from goals import services as goal_services
from goals.care_programs import programs
from goals.progress import evaluate, goal_status
from healthtrack.core import days
from metrics.models import DailyRollup, HealthMetric
from tests.accounts.family_factories import make_dependent
from tests.goals.factories import days_ago, measure, today
from tests.metrics.factories import HealthMetricFactory

pytestmark = pytest.mark.django_db


def test_day_one_steps_read_the_same_so_far_on_card_goal_card_and_goals_page(page_client, user):
    measure(user, "steps", 6500, today(), hour=9)
    goal_services.goal_create(user=user, goal_type="steps", target_value=8000)

    panels = page_client.get("/dashboard/").context["panels"]
    assert panels.cards["steps"].progress_percent == 81
    [goal] = panels.goals
    assert (goal.progress_percent, goal.status_text) == (81, "In progress today")
    assert "6,500 steps so far today" in goal.text
    body = page_client.get("/goals/").content.decode()
    assert "81% so far today (6,500 steps)" in body
    assert "Progress 0%" not in body and "Not enough data yet" not in body


def test_a_habit_at_99_percent_is_not_behind():
    result = evaluate(
        direction="at_least",
        target=2000,
        baseline=None,
        latest=False,
        current=None,
        window_values={days_ago(1): 1980.0},
        period_days=7,
        start_date=days_ago(1),
        target_date=None,
        today=today(),
    )
    assert result.on_track is True and not result.met
    judged = goal_status(
        on_track=result.on_track,
        progress_percent=result.progress_percent,
        direction="at_least",
        target=2000,
    )
    assert (judged.text, judged.percent) == ("Almost there", 99)
    far = goal_status(on_track=False, progress_percent=80, direction="at_least", target=2000)
    assert far.text == "Behind"


def test_water_goal_at_99_percent_reads_almost_there_on_dashboard_and_goals_page(page_client, user):
    from nutrition import services as nutrition_services
    from tests.goals.factories import at

    nutrition_services.nutrition_log_create(
        user=user, meal_type="snack", logged_at=at(days_ago(1), 10), water_ml=1980
    )
    goal_services.goal_create(
        user=user, goal_type="water", target_value=2000, start_date=days_ago(1)
    )
    [goal] = page_client.get("/dashboard/").context["panels"].goals
    assert goal.status_text == "Almost there" and goal.progress_percent == 99
    body = page_client.get("/goals/").content.decode()
    assert "Almost there" in body and "Behind" not in body


def test_program_sleep_is_last_night_like_the_sleep_card(page_client, user):
    measure(user, "sleep", 401, days_ago(1), hour=23)  # 23:00 last night, 6 h 41 min
    program = programs.program_create(
        user=user,
        created_by=user,
        title="Rest",
        config={"sleep": {"minutes": {"min": 420}}},
        start_date=days_ago(2),
    )
    [today_entry] = programs.adherence_between(program, today(), today())
    assert today_entry["breakdown"]["minutes"]["value"] == 401
    assert today_entry["in_progress"] is True
    body = page_client.get("/dashboard/").content.decode()
    assert "6 h 41 min" in body
    assert "no data (target at least 7.0 h)" not in body
    # Stated as the card states it, not as 6.7 h beside "6 h 41 min".
    assert "6 h 41 min (target at least 7.0 h)" in body


def test_only_today_is_in_progress():
    assert days.is_in_progress(days.today())
    assert not days.is_in_progress(days.today() - timedelta(days=1))
    assert days.finished_days(days.today(), days.today()) is None


def test_a_members_dashboard_with_a_week_of_steps_does_not_say_no_readings(page_client, user):
    child = make_dependent(user, first_name="Ada")
    for n in range(1, 7):
        measure(child, "steps", 3000 + n, days_ago(n))
    body = page_client.get(f"/dashboard/?member={child.pk}").content.decode()
    assert "No readings yet" not in body
    assert "Nothing recorded today yet" in body
    empty = page_client.get("/dashboard/").content.decode()
    assert "No readings yet" in empty


def test_fractional_steps_are_whole_in_the_summary_and_the_admin(auth_client, user):
    DailyRollup.objects.create(
        user=user,
        metric_type="steps",
        day=days_ago(1),
        value=5161.8099999999995,
        min_value=100,
        max_value=3000,
        count=3,
    )
    HealthMetricFactory(
        user=user,
        metric_type="steps",
        value=5161.81,
        unit="count",
        recorded_at=days.day_start(days_ago(1)) + timedelta(hours=10),
    )
    body = auth_client.get("/api/v1/health-metrics/summary?days=7").json()
    steps = body["metrics"]["steps"]
    assert steps["series"][0]["value"] == 5162 and steps["average"] == 5162
    assert steps["latest"]["value"] == 5162
    row = HealthMetric.objects.get(user=user)
    assert site._registry[HealthMetric].reading(row) == "5,162 steps"
