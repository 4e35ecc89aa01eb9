"""Goals pages: list with progress and on-track state, create, edit, abandon; the dashboard's
goal bars and the steps card against a steps goal."""

from __future__ import annotations

import pytest

from goals.models import HealthGoal
from tests.goals.factories import HealthGoalFactory, days_ago, measure, measure_days, today

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/goals/", "/goals/new/", "/goals/new/steps/", "/goals/1/edit/"])
def test_logged_out_visitors_are_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_no_goals_says_what_to_do(page_client):
    body = page_client.get("/goals/").content.decode()
    assert "No goals yet" in body and 'href="/goals/new/"' in body


def test_choosing_a_goal_type_leads_to_its_form(page_client):
    body = page_client.get("/goals/new/").content.decode()
    for goal_type in ("steps", "weight", "sleep", "water", "custom"):
        assert f'href="/goals/new/{goal_type}/"' in body
    assert page_client.get("/goals/new/flying/").status_code == 404


def test_creating_a_steps_goal_shows_its_progress_from_the_data(page_client, user):
    measure_days(user, "steps", {1: 6000, 2: 7000, 3: 8000})
    response = page_client.post(
        "/goals/new/steps/",
        {"target_value": "10000", "unit": "count", "priority": "medium", "period_days": "7"},
        follow=True,
    )
    goal = HealthGoal.objects.get(user=user)
    assert (goal.metric_type, goal.direction, goal.target_value) == ("steps", "at_least", 10000)
    assert goal.current_value == 7000 and goal.baseline_value == 7000
    body = response.content.decode()
    assert "Goal “Steps at least 10,000 a day” set." in body
    assert f'value="{round(goal.progress_percent)}"' in body
    assert "7,000 steps" in body and "10,000 steps" in body and "Progress " in body
    expected = {None: "Not enough data yet", True: "On track", False: "Behind"}[goal.on_track]
    assert expected in body


def test_a_weight_goal_takes_pounds_and_works_out_its_direction(page_client, user):
    measure(user, "weight", 80, days_ago(1))
    page_client.post(
        "/goals/new/weight/", {"target_value": "165", "unit": "lb", "priority": "high"}
    )
    goal = HealthGoal.objects.get(user=user)
    assert goal.direction == "decrease" and goal.target_value == pytest.approx(74.84, abs=0.01)
    assert goal.baseline_value == 80


def test_refused_goals_keep_the_input_and_show_the_rules_message(page_client, user):
    response = page_client.post(
        "/goals/new/sleep/",
        {"target_value": "3000", "unit": "min", "priority": "low", "title": "Rest more"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["target_value"] == [
        "Outside the plausible range for sleep: 0 to 1,440 min."
    ]
    body = response.content.decode()
    assert 'value="3000"' in body and 'value="Rest more"' in body
    response = page_client.post(
        "/goals/new/steps/",
        {
            "target_value": "8000",
            "unit": "count",
            "priority": "low",
            "target_date": days_ago(3).isoformat(),
        },
    )
    assert response.context["form"].errors["target_date"] == ["Must not be before start_date."]
    assert not HealthGoal.objects.filter(user=user).exists()


def test_editing_a_goal_changes_its_target(page_client, user):
    goal = HealthGoalFactory(user=user)
    form = page_client.get(f"/goals/{goal.pk}/edit/").context["form"]
    assert form.initial["target_value"] == "8000"
    response = page_client.post(
        f"/goals/{goal.pk}/edit/",
        {
            "metric_type": "steps",
            "target_value": "9000",
            "unit": "count",
            "direction": "at_least",
            "period_days": "7",
            "priority": "high",
            "title": "Walk more",
        },
    )
    assert response.status_code == 302
    goal.refresh_from_db()
    assert (goal.target_value, goal.priority, goal.title) == (9000, "high", "Walk more")


def test_abandoning_a_goal_keeps_it_in_the_history(page_client, user):
    goal = HealthGoalFactory(user=user, title="Walk more")
    response = page_client.post(f"/goals/{goal.pk}/abandon/", follow=True)
    assert "Goal “Walk more” abandoned." in response.content.decode()
    goal.refresh_from_db()
    assert goal.status == "abandoned"
    assert response.context["done"][0]["goal"] == goal
    assert page_client.get(f"/goals/{goal.pk}/abandon/").status_code == 405


def test_someone_elses_goal_is_404(page_client, other_user):
    goal = HealthGoalFactory(user=other_user)
    assert page_client.get(f"/goals/{goal.pk}/edit/").status_code == 404
    assert page_client.post(f"/goals/{goal.pk}/edit/", {"target_value": "1"}).status_code == 404
    assert page_client.post(f"/goals/{goal.pk}/abandon/").status_code == 404
    goal.refresh_from_db()
    assert goal.status == "active" and goal.target_value == 8000
    assert goal.title not in page_client.get("/goals/").content.decode()


def test_the_dashboard_shows_each_goals_progress_bar_and_the_steps_card_against_it(
    page_client, user
):
    measure(user, "steps", 5000, today())
    HealthGoalFactory(
        user=user,
        title="Steps at least 10,000 a day",
        target_value=10000,
        current_value=6200,
        progress_percent=62,
        on_track=False,
    )
    response = page_client.get("/dashboard/")
    panels = response.context["panels"]
    [goal] = panels.goals
    assert (goal.progress_percent, goal.status_text) == (62, "Behind")
    assert goal.text == "6,200 steps (7-day average) of 10,000 steps · 5,000 steps so far today"
    card = panels.cards["steps"]
    assert (card.detail, card.progress_percent) == ("so far, of your 10,000 a day goal", 50)
    body = response.content.decode()
    assert 'value="62"' in body and "Behind" in body
