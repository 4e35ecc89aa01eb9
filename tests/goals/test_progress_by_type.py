"""Goal progress for each goal type and direction, computed from real data (written through
the metrics and nutrition services, so it comes from the rollups and daily totals)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from goals import services
from goals.models import HealthGoal
from tests.goals.factories import days_ago, log_food, measure, measure_days, today

pytestmark = pytest.mark.django_db


def refreshed(goal: HealthGoal) -> HealthGoal:
    services.goal_progress_recompute(user_id=goal.user_id)
    goal.refresh_from_db()
    return goal


# --- steps: daily average, at_least (the default) ------------------------------------------


def test_steps_goal_defaults_to_a_seven_day_daily_average_at_least(user):
    measure_days(user, "steps", {1: 6000, 2: 7000, 3: 8000})
    goal = services.goal_create(user=user, goal_type="steps", target_value=10_000)
    assert (goal.metric_type, goal.unit, goal.direction, goal.period_days) == (
        "steps",
        "count",
        "at_least",
        7,
    )
    assert goal.reading == "daily_average"
    assert goal.title == "Steps at least 10,000 a day"
    # Days with data only: (6000 + 7000 + 8000) / 3, not / 7.
    assert goal.current_value == 7000
    assert goal.baseline_value == 7000
    assert goal.progress_percent == 70.0  # a habit: 7,000 of 10,000 a day, even at the baseline
    assert goal.on_track is False
    assert goal.status == "active"


def test_steps_today_is_not_counted_in_the_average(user):
    measure_days(user, "steps", {1: 8000})
    measure(user, "steps", 500, today(), hour=0)
    goal = services.goal_create(user=user, goal_type="steps", target_value=8000)
    assert goal.current_value == 8000


def test_steps_outside_the_period_are_not_counted(user):
    measure_days(user, "steps", {1: 9000, 8: 1000})
    goal = services.goal_create(user=user, goal_type="steps", target_value=8000, period_days=7)
    assert goal.current_value == 9000


def test_steps_keep_goal_without_target_date_is_met_but_never_completes(user):
    measure_days(user, "steps", dict.fromkeys(range(1, 8), 9000))
    goal = services.goal_create(user=user, goal_type="steps", target_value=8000)
    assert (goal.current_value, goal.progress_percent, goal.on_track) == (9000, 100, True)
    assert goal.status == "active"


def test_steps_keep_goal_completes_at_its_target_date_when_held_every_day(user):
    goal = services.goal_create(
        user=user,
        goal_type="steps",
        target_value=8000,
        start_date=days_ago(20),
        target_date=today(),
        baseline_value=5000,
    )
    measure_days(user, "steps", dict.fromkeys(range(1, 7), 9000))  # six of the seven days
    assert refreshed(goal).status == "active"  # a day without data: not held over the period
    measure(user, "steps", 8500, days_ago(7))
    goal = refreshed(goal)
    assert goal.status == "completed"
    assert goal.completed_at is not None
    assert goal.progress_percent == 100


def test_steps_keep_goal_does_not_complete_before_its_target_date(user):
    measure_days(user, "steps", dict.fromkeys(range(1, 8), 9000))
    goal = services.goal_create(
        user=user, goal_type="steps", target_value=8000, target_date=today() + timedelta(days=5)
    )
    assert goal.status == "active"
    assert goal.on_track is True


# --- weight: the latest value counts --------------------------------------------------------


def test_weight_decrease_uses_the_latest_value_not_a_sum_or_average(user):
    measure(user, "weight", 80.0, days_ago(10))
    goal = services.goal_create(
        user=user, goal_type="weight", target_value=75, start_date=days_ago(10)
    )
    assert goal.direction == "decrease"  # target below the latest weight
    assert goal.reading == "latest"
    assert goal.baseline_value == 80.0
    measure(user, "weight", 79.0, days_ago(5))
    measure(user, "weight", 77.0, days_ago(1), hour=7)
    measure(user, "weight", 77.5, days_ago(1), hour=6)  # earlier the same morning
    goal = refreshed(goal)
    assert goal.current_value == 77.0
    assert goal.progress_percent == 60.0  # (80 - 77) / (80 - 75)
    assert goal.status == "active"


def test_weight_decrease_completes_when_the_latest_weighing_reaches_the_target(user):
    measure(user, "weight", 80.0, days_ago(10))
    goal = services.goal_create(
        user=user, goal_type="weight", target_value=75, start_date=days_ago(10)
    )
    measure(user, "weight", 74.8, today(), hour=0)
    goal = refreshed(goal)
    assert goal.status == "completed"
    assert (goal.current_value, goal.progress_percent, goal.on_track) == (74.8, 100, True)


def test_weight_goal_in_pounds_is_stored_in_kilograms(user):
    measure(user, "weight", 90.0, days_ago(3))
    goal = services.goal_create(user=user, goal_type="weight", target_value=176.37, unit="lb")
    assert goal.unit == "kg"
    assert goal.target_value == pytest.approx(80.0, abs=0.01)
    assert goal.direction == "decrease"


def test_weight_increase_is_behind_a_linear_plan(user):
    measure(user, "weight", 50.0, days_ago(10))
    goal = services.goal_create(
        user=user,
        goal_type="weight",
        target_value=55,
        start_date=days_ago(10),
        target_date=today() + timedelta(days=10),
    )
    assert goal.direction == "increase"
    measure(user, "weight", 52.0, days_ago(1))
    goal = refreshed(goal)
    assert goal.progress_percent == 40.0
    assert goal.on_track is False  # halfway through the time, 40 % of the way
    measure(user, "weight", 53.0, today(), hour=0)
    goal = refreshed(goal)
    assert (goal.progress_percent, goal.on_track) == (60.0, True)


def test_completed_goals_stay_completed_when_the_data_moves_back(user):
    measure(user, "weight", 80.0, days_ago(3))
    goal = services.goal_create(user=user, goal_type="weight", target_value=78)
    measure(user, "weight", 77.9, days_ago(1))
    assert refreshed(goal).status == "completed"
    measure(user, "weight", 81.0, today(), hour=0)
    goal = refreshed(goal)
    assert goal.status == "completed"
    assert goal.current_value == 77.9  # frozen at completion


# --- sleep: hours in, minutes stored --------------------------------------------------------


def test_sleep_goal_in_hours_is_stored_in_minutes_and_averaged(user):
    measure_days(user, "sleep", {1: 360, 2: 390})
    goal = services.goal_create(user=user, goal_type="sleep", target_value=7, unit="h")
    assert (goal.target_value, goal.unit, goal.direction) == (420.0, "min", "at_least")
    assert goal.current_value == 375.0
    measure_days(user, "sleep", {3: 480, 4: 480})
    goal = refreshed(goal)
    assert goal.current_value == 427.5
    assert goal.progress_percent == 100
    assert goal.on_track is True


# --- exercise: increase ("reach") -----------------------------------------------------------


def test_exercise_increase_progresses_from_the_baseline_and_completes(user):
    goal = services.goal_create(
        user=user, goal_type="exercise", target_value=30, direction="increase", baseline_value=20
    )
    assert goal.current_value is None
    assert goal.on_track is None
    measure_days(user, "exercise", {1: 25})
    goal = refreshed(goal)
    assert (goal.current_value, goal.progress_percent) == (25, 50.0)
    assert goal.on_track is None  # no target date to be on track against
    measure_days(user, "exercise", {2: 40})
    goal = refreshed(goal)
    assert goal.current_value == 32.5
    assert goal.status == "completed"


# --- water and calories: nutrition daily totals ---------------------------------------------


def test_water_goal_reads_the_daily_water_totals(user):
    log_food(user, days_ago(1), water_ml=1000)
    log_food(user, days_ago(1), water_ml=500)
    log_food(user, days_ago(2), water_ml=1200)
    log_food(user, days_ago(2), calories=600)  # a meal without water: not a water figure
    goal = services.goal_create(user=user, goal_type="water", target_value=2, unit="L")
    assert (goal.metric_type, goal.target_value, goal.unit) == ("water_ml", 2000.0, "ml")
    assert goal.direction == "at_least"
    assert goal.current_value == 1350.0  # (1500 + 1200) / 2 days
    assert goal.title == "Water at least 2,000 ml a day"


def test_water_days_without_water_are_not_zeros(user):
    log_food(user, days_ago(1), water_ml=2500)
    log_food(user, days_ago(2), calories=800)
    goal = services.goal_create(user=user, goal_type="water", target_value=2000)
    assert goal.current_value == 2500
    assert goal.progress_percent == 100


def test_calories_at_most_from_the_baseline(user):
    for n in (1, 2):
        log_food(user, days_ago(n), calories=2400)
    goal = services.goal_create(
        user=user, goal_type="calories", target_value=2000, baseline_value=2600
    )
    assert goal.direction == "at_most"
    assert goal.current_value == 2400
    assert goal.progress_percent == pytest.approx(83.3)  # 2,000 / 2,400: a habit's ratio
    assert goal.on_track is False


def test_calories_keep_goal_completes_when_held_through_the_target_date(user):
    for n in range(1, 4):
        log_food(user, days_ago(n), calories=1900)
    goal = services.goal_create(
        user=user,
        goal_type="calories",
        target_value=2000,
        period_days=3,
        start_date=days_ago(10),
        target_date=today(),
    )
    assert goal.status == "completed"


# --- heart rate: resting heart rate, decrease -----------------------------------------------


def test_heart_rate_goal_defaults_to_resting_heart_rate_and_completes_on_decrease(user):
    measure_days(user, "resting_heart_rate", {3: 75, 4: 75})
    goal = services.goal_create(
        user=user, goal_type="heart_rate", target_value=65, direction="decrease"
    )
    assert (goal.metric_type, goal.unit, goal.baseline_value) == ("resting_heart_rate", "bpm", 75)
    measure_days(user, "resting_heart_rate", {1: 70, 2: 70})
    goal = refreshed(goal)
    assert goal.current_value == 72.5
    assert goal.progress_percent == 25.0
    measure_days(user, "resting_heart_rate", {5: 55, 6: 50, 7: 50})
    goal = refreshed(goal)
    assert goal.current_value == 63.57  # (70 + 70 + 75 + 75 + 55 + 50 + 50) / 7
    assert goal.title == "Resting heart rate down to 65 bpm on average"
    assert goal.status == "completed"


# --- custom: any metric or nutrient ---------------------------------------------------------


def test_custom_goal_on_a_nutrient(user):
    log_food(user, days_ago(1), calories=500, protein_g=40)
    log_food(user, days_ago(1), calories=500, protein_g=20)
    goal = services.goal_create(
        user=user, goal_type="custom", metric_type="protein_g", target_value=80, title="Protein"
    )
    assert (goal.direction, goal.unit, goal.current_value) == ("at_least", "g", 60.0)
    assert goal.progress_percent == 75.0  # 60 of 80 g, though the baseline is where we are


def test_custom_goal_on_a_metric_in_another_unit(user):
    measure_days(user, "blood_glucose", {1: 126.1})
    goal = services.goal_create(
        user=user,
        goal_type="custom",
        metric_type="blood_glucose",
        target_value=6.0,
        unit="mmol/L",
        direction="at_most",
    )
    assert goal.unit == "mg/dL"
    assert goal.target_value == pytest.approx(108.1, abs=0.01)
    assert goal.on_track is False


# --- baseline captured from the first data --------------------------------------------------


def test_a_goal_set_before_any_data_takes_its_baseline_from_the_first_data(user):
    goal = services.goal_create(
        user=user, goal_type="weight", target_value=70, direction="decrease"
    )
    assert (goal.baseline_value, goal.current_value, goal.progress_percent) == (None, None, 0)
    measure(user, "weight", 76.0, days_ago(2))
    goal = refreshed(goal)
    assert goal.baseline_value == 76.0
    assert goal.progress_percent == 0
    measure(user, "weight", 73.0, days_ago(1))
    assert refreshed(goal).progress_percent == 50.0


def test_abandoned_goals_are_not_recomputed(user):
    goal = services.goal_create(user=user, goal_type="steps", target_value=8000)
    services.goal_abandon(goal=goal)
    measure_days(user, "steps", {1: 9000})
    goal = refreshed(goal)
    assert (goal.status, goal.current_value) == ("abandoned", None)


def test_recompute_is_idempotent(user):
    measure_days(user, "steps", {1: 9000})
    goal = services.goal_create(user=user, goal_type="steps", target_value=10_000)
    measure_days(user, "steps", {2: 10_000})
    assert services.goal_progress_recompute(user_id=user.pk) == [goal.pk]
    assert services.goal_progress_recompute(user_id=user.pk) == []


def test_reopening_a_completed_goal_by_raising_its_target(user):
    measure_days(user, "exercise", {1: 40})
    goal = services.goal_create(
        user=user, goal_type="exercise", target_value=45, direction="increase", baseline_value=30
    )
    measure_days(user, "exercise", {2: 60})
    assert refreshed(goal).status == "completed"
    goal = services.goal_update(goal=goal, target_value=60)
    assert (goal.status, goal.completed_at, goal.progress_percent) == ("active", None, 66.7)
