from __future__ import annotations

from datetime import timedelta

import pytest

from insights import snapshot_builder
from insights.alert_readings import alert_readings, blood_pressure_averages
from insights.snapshot import RESTING_HEART_RATE, SLEEP, STEPS, WEIGHT
from metrics.models import DailyRollup
from nutrition.services import nutrition_targets_set
from tests.accounts.factories import UserFactory
from tests.insights.helpers import at, meal, measure, utc_today

pytestmark = pytest.mark.django_db


def test_snapshot_reads_rollups_nutrition_targets_and_profile(user):
    today = utc_today()
    yesterday = today - timedelta(days=1)
    measure(user, "steps", 3000, yesterday, hour=9)
    measure(user, "steps", 1000, yesterday, hour=15)  # summed in the daily rollup
    measure(user, "sleep", 400, yesterday)
    measure(user, "resting_heart_rate", 60, yesterday, hour=6)
    measure(user, "resting_heart_rate", 70, yesterday, hour=7)  # averaged
    measure(user, "weight", 80, today - timedelta(days=3))
    measure(user, "heart_rate", 90, yesterday, unit="bpm")  # not read by any rule
    meal(user, yesterday, calories=600, protein_g=30)
    meal(user, yesterday, calories=400, protein_g=10, water_ml=500)

    snapshot = snapshot_builder.build_snapshot(user=user, days=30)

    assert snapshot.today == today and snapshot.days == 30
    assert snapshot.daily[STEPS] == {yesterday: 4000}
    assert snapshot.daily[SLEEP] == {yesterday: 400}
    assert snapshot.daily[RESTING_HEART_RATE] == {yesterday: 65}
    assert snapshot.daily[WEIGHT] == {today - timedelta(days=3): 80}
    assert "heart_rate" not in snapshot.daily
    assert snapshot.nutrition_daily[yesterday]["calories"] == 1000
    assert snapshot.nutrition_daily[yesterday]["protein_g"] == 40
    assert snapshot.nutrition_daily[yesterday]["water_ml"] == 500
    assert snapshot.age == user.age_on(today)
    assert snapshot.sex == "female" and snapshot.height_cm == 170.0
    # Mifflin-St Jeor with the latest weight, the default activity factor 1.4
    bmr = 10 * 80 + 6.25 * 170 - 5 * snapshot.age - 161
    assert snapshot.targets == {"calories": round(bmr * 1.4), "protein_g": 64.0, "water_ml": 2000}
    assert snapshot.weight_goal is None


def test_snapshot_covers_at_least_35_days_whatever_the_window(user):
    today = utc_today()
    for back in (1, 35, 36):
        measure(user, "steps", 5000 + back, today - timedelta(days=back))
    snapshot = snapshot_builder.build_snapshot(user=user, days=7)
    assert sorted(snapshot.daily[STEPS]) == [today - timedelta(days=35), today - timedelta(days=1)]
    longer = snapshot_builder.build_snapshot(user=user, days=90)
    assert len(longer.daily[STEPS]) == 3


def test_snapshot_takes_an_older_weight_for_the_targets(user):
    measure(user, "weight", 70, utc_today() - timedelta(days=200))
    snapshot = snapshot_builder.build_snapshot(user=user, days=30)
    assert WEIGHT not in snapshot.daily
    assert snapshot.targets["protein_g"] == 56.0


def test_snapshot_uses_the_users_own_targets(user):
    nutrition_targets_set(user=user, calories=1800, protein_g=90, water_ml=2500)
    user.refresh_from_db()
    snapshot = snapshot_builder.build_snapshot(user=user)
    assert snapshot.targets == {"calories": 1800, "protein_g": 90, "water_ml": 2500}


def test_snapshot_costs_a_fixed_number_of_queries(django_assert_max_num_queries):
    user = UserFactory()
    today = utc_today()
    rows = [
        DailyRollup(
            user=user,
            metric_type=code,
            day=today - timedelta(days=back),
            value=1,
            min_value=1,
            max_value=1,
            count=1,
        )
        for code in (STEPS, SLEEP, RESTING_HEART_RATE, WEIGHT, "heart_rate")
        for back in range(60)
    ]
    DailyRollup.objects.bulk_create(rows)
    # rollups (all types at once), nutrition totals, the weight goal (the targets override is
    # cached on the user)
    with django_assert_max_num_queries(3):
        snapshot = snapshot_builder.build_snapshot(user=user)
    assert len(snapshot.daily[STEPS]) == 36  # the 35 days before today, and today


def test_stable_until_is_tomorrow_while_data_is_within_reach(user):
    today = utc_today()
    measure(user, "steps", 4000, today - timedelta(days=35))
    snapshot = snapshot_builder.build_snapshot(user=user, today=today)
    assert snapshot_builder.stable_until(snapshot) == today + timedelta(days=1)


def test_stable_until_is_none_once_all_data_is_out_of_reach(user):
    today = utc_today()
    measure(user, "steps", 4000, today - timedelta(days=36))
    meal(user, today - timedelta(days=40))
    snapshot = snapshot_builder.build_snapshot(user=user, today=today)
    assert snapshot_builder.stable_until(snapshot) is None


def test_todays_data_is_not_counted_but_makes_tomorrow_different(user):
    today = utc_today()
    measure(user, "steps", 100, today, hour=0)
    snapshot = snapshot_builder.build_snapshot(user=user)
    assert snapshot.series(STEPS) == {}
    assert snapshot_builder.stable_until(snapshot) == today + timedelta(days=1)


def test_alert_readings_are_the_span_inclusive(user):
    today = utc_today()
    measure(user, "blood_glucose", 300, today, hour=1)
    measure(user, "blood_glucose", 60, today, hour=2)
    measure(user, "steps", 100, today, hour=1)
    readings = alert_readings(user_id=user.pk, start=at(today, 1), end=at(today, 1))
    assert [(r.metric_type, r.value) for r in readings] == [("blood_glucose", 300)]


def test_blood_pressure_averages_weight_each_day_by_its_readings(user):
    today = utc_today()
    measure(user, "blood_pressure_systolic", 150, today - timedelta(days=1), hour=8)
    measure(user, "blood_pressure_systolic", 130, today - timedelta(days=1), hour=9)
    measure(user, "blood_pressure_systolic", 160, today - timedelta(days=2))
    measure(user, "blood_pressure_systolic", 200, today - timedelta(days=8))  # outside
    averages = blood_pressure_averages(user_id=user.pk, last_day=today - timedelta(days=1))
    assert averages["blood_pressure_systolic"].readings == 3
    assert averages["blood_pressure_systolic"].value == pytest.approx(440 / 3)
    assert "blood_pressure_diastolic" not in averages


def test_one_persons_snapshot_is_the_batchs_snapshot_of_them(user):
    """A recommendations miss builds one person's snapshot through plain statements (their
    diary totals, their weight goal, their own targets); the nightly batch through QuerySets:
    the same snapshot, in a zone whose local days are not UTC's, with several weight goals."""
    from goals.models import HealthGoal
    from tests.goals.factories import HealthGoalFactory

    user.time_zone = "America/New_York"
    user.save(update_fields=["time_zone"])
    other = UserFactory(time_zone="America/New_York")
    today = utc_today()
    for back in (1, 2, 9):
        day = today - timedelta(days=back)
        measure(user, "weight", 80 - back / 10, day, hour=3)  # 03:00 UTC: the day before there
        meal(user, day, calories=500 + back, protein_g=20)
        meal(user, day, calories=300, protein_g=10, water_ml=250)
    nutrition_targets_set(user=user, calories=1900, protein_g=None, water_ml=2400)
    goal = {"metric_type": WEIGHT, "goal_type": HealthGoal.GoalType.WEIGHT, "unit": "kg"}
    HealthGoalFactory(user=user, **goal, target_value=70, priority="low", target_date=None)
    HealthGoalFactory(user=user, **goal, target_value=72, priority="medium", target_date=None)
    HealthGoalFactory(
        user=user, **goal, target_value=74, priority="medium", target_date=today + timedelta(9)
    )
    HealthGoalFactory(user=user, **goal, target_value=60, status=HealthGoal.Status.ABANDONED)
    HealthGoalFactory(user=user, target_value=9000, priority="high")  # steps: not a weight goal

    one = snapshot_builder.build_snapshot(user=type(user).objects.get(pk=user.pk), days=30)
    users = (
        type(user).objects.select_related("nutrition_targets").filter(pk__in=[user.pk, other.pk])
    )
    batch = snapshot_builder.build_snapshots(users=users, days=30)[user.pk]

    assert one == batch
    assert one.weight_goal["target_value"] == 74  # medium, the nearest target date first
    assert one.targets["calories"] == 1900 and one.targets["water_ml"] == 2400
    assert sum(totals["calories"] for totals in one.nutrition_daily.values()) == 2412
