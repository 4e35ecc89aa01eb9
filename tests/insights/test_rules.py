"""Each rule at, just below and just above its threshold, plus "not enough data".

Pure tests: snapshots are built in memory; no database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from insights import rules
from insights.snapshot import RESTING_HEART_RATE, SLEEP, STEPS, WEIGHT
from tests.insights.factories import TODAY, constant, days_back, linear, series, snapshot

# --- low_steps ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "average, fires",
    [(5000, False), (4999, True), (5001, False)],
    ids=["at", "just-below", "just-above"],
)
def test_low_steps_fires_only_below_5000_a_day(average, fires):
    result = rules.low_steps(snapshot(daily={STEPS: constant(average)}))
    assert (result is not None) is fires


def test_low_steps_quotes_the_users_average_and_the_bar():
    result = rules.low_steps(snapshot(daily={STEPS: constant(4210, 28)}))
    assert result.type == "low_steps"
    assert result.severity == "medium"
    assert "4,210 steps a day" in result.reasoning
    assert "28 days with data" in result.reasoning
    assert "5,000 steps a day" in result.reasoning
    assert result.related_metric == "steps"
    assert result.data["average_steps"] == 4210
    assert result.data["threshold"] == 5000
    assert result.actions
    assert result.score == pytest.approx(0.158)


def test_low_steps_averages_only_days_with_data():
    # Missing days are not zeros: 3 days of 6,000 steps in 30 are an average of 6,000.
    assert rules.low_steps(snapshot(daily={STEPS: constant(6000, 3)})) is None


@pytest.mark.parametrize("average, severity", [(2499, "high"), (2500, "medium"), (2501, "medium")])
def test_low_steps_is_high_severity_below_half_the_bar(average, severity):
    assert rules.low_steps(snapshot(daily={STEPS: constant(average)})).severity == severity


@pytest.mark.parametrize(
    "age, average, fires",
    [
        (65, 4000, False),
        (65, 3999, True),
        (65, 4001, False),
        (65, 4500, False),
        (64, 4500, True),
        (None, 4500, True),
    ],
)
def test_low_steps_uses_the_lower_bar_from_age_65(age, average, fires):
    result = rules.low_steps(snapshot(age=age, daily={STEPS: constant(average)}))
    assert (result is not None) is fires


def test_low_steps_says_when_the_senior_bar_applies():
    result = rules.low_steps(snapshot(age=70, daily={STEPS: constant(3000)}))
    assert "aged 65 and over is 4,000 steps a day" in result.reasoning
    assert result.data["senior_bar"] is True


@pytest.mark.parametrize("days, fires", [(2, False), (3, True)])
def test_low_steps_needs_three_days_of_data(days, fires):
    result = rules.low_steps(snapshot(daily={STEPS: constant(1000, days)}))
    assert (result is not None) is fires


def test_low_steps_ignores_today_and_days_before_the_window():
    daily = {STEPS: {TODAY: 100, **constant(100, 5, end=31), **constant(6000, 3)}}
    assert rules.low_steps(snapshot(daily=daily)) is None


def test_low_steps_reads_the_threshold_from_settings_at_call_time(settings):
    daily = {STEPS: constant(5500)}
    assert rules.low_steps(snapshot(daily=daily)) is None
    settings.INSIGHTS_THRESHOLDS = {**settings.INSIGHTS_THRESHOLDS, "steps_daily_min": 6000}
    assert rules.low_steps(snapshot(daily=daily)).data["threshold"] == 6000


# --- insufficient_sleep ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "minutes, fires", [(420, False), (419, True), (421, False)], ids=["at", "below", "above"]
)
def test_insufficient_sleep_fires_below_7_hours_for_adults(minutes, fires):
    result = rules.insufficient_sleep(snapshot(daily={SLEEP: constant(minutes)}))
    assert (result is not None) is fires


@pytest.mark.parametrize(
    "age, minutes, fires",
    [(17, 480, False), (17, 479, True), (17, 481, False), (17, 450, True), (18, 450, False)],
)
def test_insufficient_sleep_asks_8_hours_under_18(age, minutes, fires):
    result = rules.insufficient_sleep(snapshot(age=age, daily={SLEEP: constant(minutes)}))
    assert (result is not None) is fires


@pytest.mark.parametrize("minutes, severity", [(299, "high"), (300, "medium"), (301, "medium")])
def test_insufficient_sleep_is_high_severity_below_5_hours(minutes, severity):
    result = rules.insufficient_sleep(snapshot(daily={SLEEP: constant(minutes)}))
    assert result.severity == severity


def test_insufficient_sleep_quotes_hours_and_the_threshold():
    result = rules.insufficient_sleep(snapshot(daily={SLEEP: constant(395, 12)}))
    assert "6 h 35 min a night" in result.reasoning
    assert "12 days with data" in result.reasoning
    assert "minimum for adults is 7 hours" in result.reasoning
    assert result.data["threshold_minutes"] == 420


def test_insufficient_sleep_for_a_teenager_names_the_8_hour_bar():
    result = rules.insufficient_sleep(snapshot(age=15, daily={SLEEP: constant(450)}))
    assert "minimum for under 18 is 8 hours" in result.reasoning


def test_insufficient_sleep_never_shows_a_short_average_as_the_bar():
    result = rules.insufficient_sleep(snapshot(daily={SLEEP: constant(419.8)}))
    assert "6 h 59 min" in result.reasoning


@pytest.mark.parametrize("days, fires", [(2, False), (3, True)])
def test_insufficient_sleep_needs_three_nights(days, fires):
    result = rules.insufficient_sleep(snapshot(daily={SLEEP: constant(200, days)}))
    assert (result is not None) is fires


# --- elevated_resting_heart_rate ------------------------------------------------------------


@pytest.mark.parametrize(
    "bpm, fires", [(85, False), (84.9, False), (85.1, True)], ids=["at", "below", "above"]
)
def test_elevated_resting_heart_rate_fires_above_85(bpm, fires):
    result = rules.elevated_resting_heart_rate(snapshot(daily={RESTING_HEART_RATE: constant(bpm)}))
    assert (result is not None) is fires


@pytest.mark.parametrize("bpm, severity", [(100, "medium"), (100.1, "high"), (99.9, "medium")])
def test_elevated_resting_heart_rate_is_high_severity_above_100(bpm, severity):
    result = rules.elevated_resting_heart_rate(snapshot(daily={RESTING_HEART_RATE: constant(bpm)}))
    assert result.severity == severity


def test_elevated_resting_heart_rate_quotes_average_and_threshold():
    result = rules.elevated_resting_heart_rate(
        snapshot(daily={RESTING_HEART_RATE: series([88, 90, 92])})
    )
    assert "averaged 90.0 bpm" in result.reasoning
    assert "Above 85 bpm" in result.reasoning
    assert result.data["average_bpm"] == 90.0


@pytest.mark.parametrize("days, fires", [(2, False), (3, True)])
def test_elevated_resting_heart_rate_needs_three_days(days, fires):
    result = rules.elevated_resting_heart_rate(
        snapshot(daily={RESTING_HEART_RATE: constant(95, days)})
    )
    assert (result is not None) is fires


# --- weight_management: BMI -----------------------------------------------------------------
# Height 200 cm: BMI = weight / 4.


@pytest.mark.parametrize(
    "weight, fires",
    [
        (100.0, True),  # BMI 25.0: overweight starts at 25 (WHO)
        (99.6, False),  # 24.9
        (100.4, True),  # 25.1
        (74.0, False),  # 18.5: healthy
        (73.6, True),  # 18.4
        (74.4, False),  # 18.6
    ],
)
def test_weight_management_fires_for_bmi_outside_18_5_to_25(weight, fires):
    result = rules.weight_management(snapshot(height_cm=200, daily={WEIGHT: constant(weight, 1)}))
    assert (result is not None) is fires


@pytest.mark.parametrize(
    "weight, severity",
    [(120.0, "high"), (119.6, "medium"), (68.0, "medium"), (67.6, "high")],
    ids=["bmi-30", "bmi-29.9", "bmi-17", "bmi-16.9"],
)
def test_weight_management_is_high_severity_from_bmi_30_or_below_17(weight, severity):
    result = rules.weight_management(snapshot(height_cm=200, daily={WEIGHT: constant(weight, 1)}))
    assert result.severity == severity


def test_weight_management_quotes_weight_height_bmi_and_range():
    result = rules.weight_management(
        snapshot(height_cm=170, daily={WEIGHT: {**constant(60, 3, end=5), **constant(82, 1)}})
    )
    assert "82.0 kg on 30 March 2026" in result.reasoning
    assert "height of 170 cm" in result.reasoning
    assert "BMI of 28.4, above the healthy range of 18.5 to under 25" in result.reasoning
    assert result.data["bmi"] == 28.4


def test_weight_management_uses_the_latest_weight():
    daily = {WEIGHT: {**constant(120, 3, end=10), **constant(90, 1)}}
    assert rules.weight_management(snapshot(height_cm=200, daily=daily)) is None


def test_weight_management_needs_a_height_and_a_weight_in_the_window():
    assert rules.weight_management(snapshot(height_cm=None, daily={WEIGHT: constant(150)})) is None
    assert rules.weight_management(snapshot(height_cm=170)) is None
    old = {WEIGHT: constant(150, 3, end=40)}
    assert rules.weight_management(snapshot(height_cm=170, daily=old)) is None


# --- weight_management: trend against a weight goal -----------------------------------------

LOSE_TO_75 = {"target_value": 75.0, "direction": "decrease"}
GAIN_TO_70 = {"target_value": 70.0, "direction": "increase"}


def _trend(kg_per_week: float, goal: dict, start: float = 80.0, days: int = 15):
    return rules.weight_management(
        snapshot(weight_goal=goal, daily={WEIGHT: linear(start, kg_per_week / 7, days)})
    )


@pytest.mark.parametrize(
    "kg_per_week, fires", [(0.2, False), (0.19, False), (0.21, True), (-0.5, False)]
)
def test_weight_trend_away_from_a_loss_goal_fires_above_0_2_kg_a_week(kg_per_week, fires):
    assert (_trend(kg_per_week, LOSE_TO_75) is not None) is fires


@pytest.mark.parametrize(
    "kg_per_week, fires", [(-0.2, False), (-0.19, False), (-0.21, True), (0.5, False)]
)
def test_weight_trend_away_from_a_gain_goal_fires_when_falling(kg_per_week, fires):
    assert (_trend(kg_per_week, GAIN_TO_70, start=60.0) is not None) is fires


def test_weight_trend_quotes_the_change_the_trend_and_the_goal():
    result = _trend(0.7, LOSE_TO_75)
    assert result.severity == "medium"
    assert "from 80.0 kg on 16 March 2026 to 81.4 kg on 30 March 2026" in result.reasoning
    assert "+0.70 kg a week" in result.reasoning
    assert "getting down to 75.0 kg" in result.reasoning
    assert "faster than 0.2 kg a week" in result.reasoning
    assert result.data["trend_kg_per_week"] == 0.7


def test_weight_trend_is_silent_once_the_goal_is_met():
    assert _trend(0.7, {"target_value": 75.0, "direction": "at_most"}, start=70.0) is None


def test_weight_trend_is_silent_without_an_active_weight_goal():
    assert _trend(0.7, None) is None
    assert _trend(0.7, {"target_value": 75.0, "direction": "sideways"}) is None


@pytest.mark.parametrize(
    "weighed_days, span_days, fires", [(2, 14, False), (3, 6, False), (3, 7, True)]
)
def test_weight_trend_needs_three_weighings_over_seven_days(weighed_days, span_days, fires):
    last = TODAY - timedelta(days=1)
    days = [last - timedelta(days=span_days), *days_back(weighed_days - 1)]
    weights = {day: 80 + i for i, day in enumerate(days)}
    assert (max(days) - min(days)).days == span_days
    result = rules.weight_management(snapshot(weight_goal=LOSE_TO_75, daily={WEIGHT: weights}))
    assert (result is not None) is fires


def test_weight_management_combines_bmi_and_trend_in_one_recommendation():
    result = rules.weight_management(
        snapshot(height_cm=170, weight_goal=LOSE_TO_75, daily={WEIGHT: linear(80, 0.1, 15)})
    )
    assert "BMI of" in result.reasoning
    assert "away from your goal" in result.reasoning
    assert {"bmi", "trend_kg_per_week"} <= set(result.data)


# --- poor_nutrition -------------------------------------------------------------------------


def _meals(calories: float, protein: float = 100.0, days: int = 5, **extra) -> dict:
    return {day: {"calories": calories, "protein_g": protein, **extra} for day in days_back(days)}


@pytest.mark.parametrize(
    "calories, fires",
    [(1600, False), (1598, True), (1602, False), (2400, False), (2402, True), (2398, False)],
    ids=["80%", "79.9%", "80.1%", "120%", "120.1%", "119.9%"],
)
def test_poor_nutrition_fires_for_calories_outside_80_to_120_percent(calories, fires):
    result = rules.poor_nutrition(
        snapshot(targets={"calories": 2000}, nutrition_daily=_meals(calories))
    )
    assert (result is not None) is fires


def test_poor_nutrition_quotes_calories_target_and_band():
    result = rules.poor_nutrition(
        snapshot(targets={"calories": 2000}, nutrition_daily=_meals(1500))
    )
    assert result.severity == "medium"
    assert "average of 1,500 kcal, 75 % of your 2,000 kcal target" in result.reasoning
    assert "between 80 % and 120 %" in result.reasoning
    assert result.data["calories_percent_of_target"] == 75.0


@pytest.mark.parametrize("protein, fires", [(56.0, False), (55.9, True), (56.1, False)])
def test_poor_nutrition_fires_for_protein_under_0_8_g_per_kg(protein, fires):
    result = rules.poor_nutrition(
        snapshot(
            targets={"calories": 2000},
            daily={WEIGHT: constant(70, 1)},
            nutrition_daily=_meals(2000, protein),
        )
    )
    assert (result is not None) is fires
    if fires:
        assert "0.8 g per kg of body weight, 56 g a day at 70.0 kg" in result.reasoning


def test_poor_nutrition_falls_back_to_the_protein_target_without_a_weight():
    result = rules.poor_nutrition(
        snapshot(targets={"protein_g": 60}, nutrition_daily=_meals(2000, 59))
    )
    assert "your target of 60 g a day" in result.reasoning


def test_poor_nutrition_is_silent_without_any_target_or_weight():
    assert rules.poor_nutrition(snapshot(nutrition_daily=_meals(500, 1))) is None


@pytest.mark.parametrize("days, fires", [(2, False), (3, True)])
def test_poor_nutrition_needs_three_days_with_a_logged_meal(days, fires):
    drinks_only = {day: {"calories": 0, "water_ml": 500} for day in days_back(5, end=10)}
    result = rules.poor_nutrition(
        snapshot(
            targets={"calories": 2000}, nutrition_daily={**drinks_only, **_meals(900, days=days)}
        )
    )
    assert (result is not None) is fires


# --- low_water_intake -----------------------------------------------------------------------


def _water(ml: float, days: int = 5) -> dict:
    return {day: {"calories": 1800, "water_ml": ml} for day in days_back(days)}


@pytest.mark.parametrize(
    "ml, fires", [(2000, False), (1999, True), (2001, False)], ids=["at", "below", "above"]
)
def test_low_water_intake_fires_below_2000_ml(ml, fires):
    result = rules.low_water_intake(snapshot(nutrition_daily=_water(ml)))
    assert (result is not None) is fires


def test_low_water_intake_quotes_average_and_target():
    result = rules.low_water_intake(snapshot(nutrition_daily=_water(1200, 4)))
    assert result.severity == "low"
    assert "On the 4 days you logged water you drank an average of 1,200 ml" in result.reasoning
    assert "target is 2,000 ml" in result.reasoning
    assert "Add about 3 glasses" in result.actions[0]


def test_low_water_intake_uses_the_users_own_target():
    result = rules.low_water_intake(
        snapshot(targets={"water_ml": 2500}, nutrition_daily=_water(2400))
    )
    assert result.data["threshold_ml"] == 2500


@pytest.mark.parametrize("days, fires", [(2, False), (3, True)])
def test_low_water_intake_needs_three_days_with_water_logged(days, fires):
    food_only = {day: {"calories": 2000, "water_ml": 0} for day in days_back(10, end=10)}
    result = rules.low_water_intake(snapshot(nutrition_daily={**food_only, **_water(800, days)}))
    assert (result is not None) is fires


# --- resting_heart_rate_trend ---------------------------------------------------------------


@pytest.mark.parametrize(
    "per_day, fires",
    [(0.5, False), (0.49, False), (0.51, True), (-0.5, False), (-0.51, True)],
)
def test_resting_heart_rate_trend_fires_above_half_a_bpm_a_day(per_day, fires):
    result = rules.resting_heart_rate_trend(
        snapshot(daily={RESTING_HEART_RATE: linear(60, per_day, 20)})
    )
    assert (result is not None) is fires


def test_rising_resting_heart_rate_is_medium_and_quotes_slope_and_threshold():
    result = rules.resting_heart_rate_trend(
        snapshot(daily={RESTING_HEART_RATE: linear(60, 0.8, 11)})
    )
    assert result.severity == "medium"
    assert result.data["direction"] == "rising"
    assert "rose by about 0.80 bpm a day over the last 30 days" in result.reasoning
    assert "60 bpm on 20 March 2026, 68 bpm on 30 March 2026" in result.reasoning
    assert "faster than 0.5 bpm a day" in result.reasoning


def test_falling_resting_heart_rate_is_low_severity_good_news():
    result = rules.resting_heart_rate_trend(
        snapshot(daily={RESTING_HEART_RATE: linear(70, -0.6, 10)})
    )
    assert result.severity == "low"
    assert result.data["direction"] == "falling"
    assert "improving fitness" in result.reasoning


def test_resting_heart_rate_trend_uses_real_dates_across_gaps():
    # Every other day, +1.2 bpm per reading = +0.6 bpm a day.
    points = series([60 + 1.2 * i for i in range(8)], every=2)
    result = rules.resting_heart_rate_trend(snapshot(daily={RESTING_HEART_RATE: points}))
    assert result.data["slope_bpm_per_day"] == 0.6


@pytest.mark.parametrize("days, fires", [(6, False), (7, True)])
def test_resting_heart_rate_trend_needs_seven_days(days, fires):
    result = rules.resting_heart_rate_trend(
        snapshot(daily={RESTING_HEART_RATE: linear(60, 1, days)})
    )
    assert (result is not None) is fires


def test_resting_heart_rate_trend_looks_at_30_days_only():
    old = linear(40, 2, 20, end=31)  # steep, but before the window
    flat = constant(62, 10)
    assert (
        rules.resting_heart_rate_trend(
            snapshot(days=90, daily={RESTING_HEART_RATE: {**old, **flat}})
        )
        is None
    )


# --- activity_change ------------------------------------------------------------------------


def _weeks(this_week: float, before: float = 5000, week_days: int = 7, before_days: int = 28):
    return {STEPS: {**constant(before, before_days, end=8), **constant(this_week, week_days)}}


@pytest.mark.parametrize(
    "daily_this_week, fires",
    [(6000, False), (5990, False), (6010, True), (4000, False), (4010, False), (3990, True)],
    ids=["+20%", "+19.8%", "+20.2%", "-20%", "-19.8%", "-20.2%"],
)
def test_activity_change_fires_beyond_20_percent_either_way(daily_this_week, fires):
    result = rules.activity_change(snapshot(daily=_weeks(daily_this_week)))
    assert (result is not None) is fires


def test_activity_change_praises_more_steps():
    result = rules.activity_change(snapshot(daily=_weeks(6500)))
    assert result.severity == "low"
    assert result.title.startswith("Great job")
    assert "45,500 steps in the last 7 days, 30 % more" in result.reasoning
    assert "weekly average of 35,000" in result.reasoning
    assert "more than 20 %" in result.reasoning
    assert result.data["change_percent"] == 30.0


def test_activity_change_nudges_fewer_steps():
    result = rules.activity_change(snapshot(daily=_weeks(3000)))
    assert result.severity == "medium"
    assert "40 % fewer" in result.reasoning
    assert result.data["direction"] == "down"


def test_activity_change_does_not_read_missing_days_as_zero():
    assert rules.activity_change(snapshot(daily=_weeks(5000, week_days=4))) is None


@pytest.mark.parametrize(
    "week_days, before_days, fires", [(3, 28, False), (4, 28, True), (7, 13, False), (7, 14, True)]
)
def test_activity_change_needs_enough_days_in_both_periods(week_days, before_days, fires):
    daily = _weeks(9000, week_days=week_days, before_days=before_days)
    assert (rules.activity_change(snapshot(daily=daily)) is not None) is fires


def test_activity_change_is_silent_when_there_were_no_steps_before():
    assert rules.activity_change(snapshot(daily=_weeks(5000, before=0))) is None


# --- common ---------------------------------------------------------------------------------


def test_an_empty_snapshot_makes_every_rule_silent():
    empty = snapshot()
    assert [rule(empty, None) for rule in rules.RULES] == [None] * len(rules.RULES)


def test_slope_per_day_is_the_least_squares_slope():
    assert rules.slope_per_day(series([1, 2, 4, 5])) == pytest.approx(1.4)
    assert rules.slope_per_day(series([3])) == 0.0


def test_rule_order_and_type_order_agree():
    assert [rule.__name__ for rule in rules.RULES] == list(rules.TYPE_ORDER)
