from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from accounts.models import User
from nutrition.models import NutritionTargets
from nutrition.targets import calculate_targets, daily_targets, latest_weight_kg, mifflin_st_jeor
from tests.metrics.factories import HealthMetricFactory


def person(**fields) -> User:
    """An unsaved user: the target maths needs no database."""
    return User(
        **{"sex": "female", "height_cm": 165.0, "date_of_birth": date(1996, 1, 15)} | fields
    )


def test_worked_example_woman_30_165cm_60kg():
    # BMR = 10*60 + 6.25*165 - 5*30 - 161 = 600 + 1031.25 - 150 - 161 = 1320.25 kcal
    # x 1.4 (lightly active) = 1848.35 -> 1848 kcal; protein 0.8 * 60 = 48 g; water 2,000 ml.
    targets = daily_targets(user=person(), weight_kg=60.0, on=date(2026, 6, 1))
    assert targets["basis"]["bmr"] == 1320.25
    assert targets["basis"]["activity_factor"] == 1.4
    assert targets["calories"] == 1848
    assert targets["protein_g"] == 48.0
    assert targets["water_ml"] == 2000
    assert targets["sources"] == {
        "calories": "mifflin_st_jeor",
        "protein_g": "0.8_g_per_kg",
        "water_ml": "default",
    }


@pytest.mark.parametrize(
    ("sex", "bmr", "calories"),
    [
        ("male", 1486.25, 2081),  # +5 instead of -161: 1486.25 x 1.4 = 2080.75
        ("other", 1403.25, 1965),  # mean of the two constants (-78): 1964.55
        ("unspecified", 1403.25, 1965),
    ],
)
def test_sex_constant(sex, bmr, calories):
    targets = daily_targets(user=person(sex=sex), weight_kg=60.0, on=date(2026, 6, 1))
    assert targets["basis"]["bmr"] == bmr
    assert targets["calories"] == calories


def test_age_is_taken_on_the_given_day():
    before = daily_targets(user=person(), weight_kg=60.0, on=date(2026, 1, 14))  # still 29
    after = daily_targets(user=person(), weight_kg=60.0, on=date(2026, 1, 15))  # 30
    assert before["basis"]["bmr"] - after["basis"]["bmr"] == 5


def test_activity_factor_is_a_setting(settings):
    settings.NUTRITION_ACTIVITY_FACTOR = 1.2
    targets = daily_targets(user=person(), weight_kg=60.0, on=date(2026, 6, 1))
    assert targets["calories"] == round(1320.25 * 1.2)


@pytest.mark.parametrize(
    ("fields", "weight", "missing"),
    [
        ({"date_of_birth": None}, 60.0, ["age"]),
        ({"height_cm": None}, 60.0, ["height_cm"]),
        ({}, None, ["weight_kg"]),
    ],
)
def test_no_calorie_target_without_age_sex_height_and_weight(fields, weight, missing):
    targets = daily_targets(user=person(**fields), weight_kg=weight, on=date(2026, 6, 1))
    assert targets["calories"] is None
    assert targets["sources"]["calories"] is None
    assert targets["basis"]["missing"] == missing
    assert targets["water_ml"] == 2000


def test_protein_needs_only_the_weight():
    targets = daily_targets(user=person(height_cm=None), weight_kg=72.5, on=date(2026, 6, 1))
    assert targets["protein_g"] == 58.0
    assert daily_targets(user=person(), weight_kg=None)["protein_g"] is None


def test_overrides_win_even_without_data():
    targets = calculate_targets(
        age=None,
        sex=None,
        height_cm=None,
        weight_kg=None,
        activity=1.4,
        calories_override=2200,
        protein_override=90.0,
        water_override=2500,
    )
    assert (targets["calories"], targets["protein_g"], targets["water_ml"]) == (2200, 90.0, 2500)
    assert set(targets["sources"].values()) == {"override"}


def test_mifflin_st_jeor_formula():
    assert mifflin_st_jeor(weight_kg=80, height_cm=180, age=40, sex="male") == 1730
    assert mifflin_st_jeor(weight_kg=80, height_cm=180, age=40, sex="female") == 1564


@pytest.mark.django_db
def test_saved_overrides_are_used(user):
    NutritionTargets.objects.create(user=user, calories=1700, protein_g=100)
    targets = daily_targets(user=user, weight_kg=60.0)
    assert (targets["calories"], targets["protein_g"], targets["water_ml"]) == (1700, 100, 2000)


@pytest.mark.django_db
def test_latest_weight_is_none_while_metrics_has_no_model(user):
    assert latest_weight_kg(user) is None


@pytest.mark.django_db
def test_latest_weight_reads_the_newest_weight_metric(user, other_user):
    at = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    weight = {"metric_type": "weight", "unit": "kg"}
    HealthMetricFactory(user=user, value=70.0, recorded_at=at, **weight)
    HealthMetricFactory(user=user, value=72.5, recorded_at=at + timedelta(days=2), **weight)
    HealthMetricFactory(user=user, value=71.0, recorded_at=at + timedelta(days=1), **weight)
    HealthMetricFactory(user=user, value=64.0, recorded_at=at + timedelta(days=3))  # heart rate
    HealthMetricFactory(user=other_user, value=99.0, recorded_at=at + timedelta(days=4), **weight)
    assert latest_weight_kg(user) == 72.5
    assert latest_weight_kg(other_user) == 99.0


def test_latest_weight_is_none_without_the_metrics_model(monkeypatch):
    def missing(app, name):
        raise LookupError(name)

    monkeypatch.setattr("nutrition.targets.apps.get_model", missing)
    assert latest_weight_kg(person(pk=7)) is None
