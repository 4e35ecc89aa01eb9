"""The quick-advice message builders and the catalogue matching rule (pure functions)."""

from __future__ import annotations

from datetime import time

from hypothesis import given
from hypothesis import strategies as st

from insights import advice
from insights.advice import MAX_WORDS, word_count

# --- water ----------------------------------------------------------------------------------


def test_water_left_paced_by_glasses_until_a_clock_time():
    message = advice.water_message(total_ml=1200, target_ml=2000, local_time=time(14, 0))
    assert message == "1.2 L so far; 0.8 L to go today — four more glasses by 6 pm."


def test_water_one_glass_left_and_minutes_past_the_hour():
    message = advice.water_message(total_ml=1800, target_ml=2000, local_time=time(9, 30))
    assert message == "1.8 L so far; 0.2 L to go today — one more glass by 11 am."


def test_water_deadline_is_never_after_8_pm():
    message = advice.water_message(total_ml=200, target_ml=2000, local_time=time(17, 0))
    assert message.endswith("eight more glasses by 8 pm.")


def test_water_late_evening_suggests_tomorrow():
    message = advice.water_message(total_ml=1200, target_ml=2000, local_time=time(20, 0))
    assert message == (
        "1.2 L today, 0.8 L short of your 2 L target. Have one glass now and start tomorrow "
        "with a glass at breakfast."
    )


def test_water_target_reached_exactly():
    message = advice.water_message(total_ml=2000, target_ml=2000, local_time=time(12))
    assert message.startswith("2 L today: your 2 L target is reached.")


def test_water_far_above_the_target_says_to_pause():
    message = advice.water_message(total_ml=5000, target_ml=2000, local_time=time(12))
    assert message.startswith("5 L today, well above your 2 L target. Pause")
    # a high personal target moves the bar
    high = advice.water_message(total_ml=5000, target_ml=3000, local_time=time(12))
    assert "target is reached" in high


# --- exercise -------------------------------------------------------------------------------


def test_exercise_counts_down_to_the_weekly_target():
    message = advice.exercise_message(activity="Running", minutes=45, week_minutes=60)
    assert message == (
        "45 min of running logged; 60 of 150 min in 7 days. 90 min to go — about two more "
        "like this."
    )


def test_exercise_weekly_target_met():
    message = advice.exercise_message(activity="yoga", minutes=30, week_minutes=150)
    assert message == (
        "30 min of yoga logged; 150 min in 7 days, past the 150 min weekly goal. Add two "
        "strength sessions if you can."
    )


def test_exercise_long_session_gets_recovery_advice():
    message = advice.exercise_message(activity="cycling", minutes=90, week_minutes=300)
    assert message == (
        "90 min of cycling logged, a long session. Drink about 500 ml of water and eat some "
        "protein within the hour."
    )


def test_exercise_names_at_most_three_words_of_the_activity():
    assert advice.short_activity("High-intensity interval Training at the gym") == (
        "high-intensity interval training"
    )
    assert advice.short_activity("123") == "exercise"


# --- food -----------------------------------------------------------------------------------


def test_food_under_target_with_protein_to_go():
    message = advice.food_message(
        entry_calories=350,
        calories_today=1240,
        calorie_target=2100,
        protein_today=40,
        protein_target=64.2,
    )
    assert message == (
        "350 kcal logged; 1,240 of 2,100 kcal today, 860 left. 25 g protein to go: add eggs, "
        "fish, beans or yoghurt."
    )


def test_food_under_target_with_protein_met():
    message = advice.food_message(
        entry_calories=350,
        calories_today=1240,
        calorie_target=2100,
        protein_today=70,
        protein_target=64,
    )
    assert message.endswith("860 left. Protein target met; build the next meal around vegetables.")


def test_food_under_target_without_a_protein_target():
    message = advice.food_message(
        entry_calories=350,
        calories_today=2100,
        calorie_target=2100,
        protein_today=0,
        protein_target=None,
    )
    assert message == (
        "350 kcal logged; 2,100 of 2,100 kcal today, 0 left. Build the next meal around "
        "vegetables and a protein source."
    )


def test_food_over_target():
    message = advice.food_message(
        entry_calories=900,
        calories_today=2600,
        calorie_target=2100,
        protein_today=90,
        protein_target=64,
    )
    assert message == (
        "2,600 kcal today, 500 over your 2,100 kcal target. Keep the rest of today to water "
        "and vegetables."
    )


def test_food_without_a_target_names_what_is_missing():
    message = advice.food_message(
        entry_calories=71,
        calories_today=571,
        calorie_target=None,
        protein_today=0,
        protein_target=None,
        missing=["weight_kg", "age"],
    )
    assert message == (
        "71 kcal logged; 571 kcal today. Add your birth date and a weight to get a daily "
        "calorie target."
    )


# --- the 25-word limit ----------------------------------------------------------------------

amounts = st.floats(min_value=0, max_value=1e7, allow_nan=False)


@given(total=amounts, target=st.floats(min_value=1, max_value=1e5), hour=st.integers(0, 23))
def test_water_messages_stay_within_25_words(total, target, hour):
    message = advice.water_message(total_ml=total, target_ml=target, local_time=time(hour, 59))
    assert word_count(message) <= MAX_WORDS


@given(
    activity=st.text(max_size=60),
    minutes=st.integers(1, 1440),
    week=st.floats(min_value=0, max_value=1e5, allow_nan=False),
)
def test_exercise_messages_stay_within_25_words(activity, minutes, week):
    message = advice.exercise_message(activity=activity, minutes=minutes, week_minutes=week)
    assert word_count(message) <= MAX_WORDS


@given(
    entry=amounts,
    today=amounts,
    target=st.none() | st.floats(min_value=1, max_value=1e5),
    protein=amounts,
    protein_target=st.none() | st.floats(min_value=1, max_value=1e4),
    missing=st.lists(st.sampled_from(["age", "sex", "height_cm", "weight_kg"]), unique=True),
)
def test_food_messages_stay_within_25_words(entry, today, target, protein, protein_target, missing):
    message = advice.food_message(
        entry_calories=entry,
        calories_today=today,
        calorie_target=target,
        protein_today=protein,
        protein_target=protein_target,
        missing=missing,
    )
    assert word_count(message) <= MAX_WORDS


def test_the_guard_cuts_an_overlong_line():
    assert word_count(advice._fit("word " * 40)) == MAX_WORDS
