"""Quick advice after a quick log (water, exercise, food): pure, deterministic functions.

Each builder takes today's totals and the user's targets and returns one line of at most
`MAX_WORDS` words (counted as whitespace-separated tokens, so a dash counts too) quoting the
user's own figures. No database, no clock: the caller passes the local time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime, time

MAX_WORDS = 25
GLASS_ML = 250
#: Last hour (local) by which we suggest finishing the day's water.
WATER_DEADLINE_HOUR = 20
#: From this (or twice the target, if more) a day's water is a lot: we say so.
WATER_HIGH_ML = 5000
#: WHO: at least 150 minutes of moderate activity a week (here: the last 7 days).
WEEKLY_EXERCISE_MIN = 150
LONG_SESSION_MIN = 90
ACTIVITY_WORDS = 3

_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five")
_NUMBER_WORDS += ("six", "seven", "eight", "nine", "ten")


def word_count(message: str) -> int:
    return len(message.split())


def _fit(message: str) -> str:
    """Guard: every builder is written to stay within MAX_WORDS (tests check each branch);
    should a long input ever push one over, cut at the limit rather than break the contract."""
    words = message.split()
    if len(words) <= MAX_WORDS:
        return message
    return " ".join(words[:MAX_WORDS]).rstrip(",;:—") + "…"


def _number_word(n: int) -> str:
    return _NUMBER_WORDS[n] if 0 <= n < len(_NUMBER_WORDS) else f"{n:,}"


def _litres(ml: float) -> str:
    text = f"{ml / 1000:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _count(value: float) -> str:
    return f"{round(value):,}"


def _clock(hour: int) -> str:
    hour %= 24
    if hour == 0:
        return "midnight"
    if hour == 12:
        return "noon"
    return f"{hour % 12} {'am' if hour < 12 else 'pm'}"


# --- water ----------------------------------------------------------------------------------


def water_message(*, total_ml: float, target_ml: float, local_time: time | datetime) -> str:
    """After logging water: today's total against the target and what is left, paced as
    glasses of 250 ml, one an hour, to finish by 8 pm local time."""
    if total_ml >= max(WATER_HIGH_ML, 2 * target_ml):
        return _fit(
            f"{_litres(total_ml)} L today, well above your {_litres(target_ml)} L target. "
            f"Pause for now: much more can upset your body's salt balance."
        )
    if total_ml >= target_ml:
        return _fit(
            f"{_litres(total_ml)} L today: your {_litres(target_ml)} L target is reached. "
            f"Keep sipping with meals; no need to force more."
        )
    left = target_ml - total_ml
    glasses = math.ceil(left / GLASS_ML)
    glass_words = f"{_number_word(glasses)} more glass{'es' if glasses > 1 else ''}"
    hour = local_time.hour
    if hour >= WATER_DEADLINE_HOUR:
        return _fit(
            f"{_litres(total_ml)} L today, {_litres(left)} L short of your "
            f"{_litres(target_ml)} L target. Have one glass now and start tomorrow with a glass "
            f"at breakfast."
        )
    deadline = min(hour + glasses + (1 if local_time.minute else 0), WATER_DEADLINE_HOUR)
    return _fit(
        f"{_litres(total_ml)} L so far; {_litres(left)} L to go today — {glass_words} "
        f"by {_clock(deadline)}."
    )


# --- exercise -------------------------------------------------------------------------------


def short_activity(activity: str) -> str:
    """The activity as the message names it: lower case, at most three words."""
    words = re.findall(r"[^\W\d_]+(?:[-'][^\W\d_]+)*", activity.lower())
    return " ".join(words[:ACTIVITY_WORDS]) or "exercise"


def exercise_message(
    *,
    activity: str,
    minutes: float,
    week_minutes: float,
    weekly_target: float = WEEKLY_EXERCISE_MIN,
) -> str:
    """After logging a session: the last 7 days' exercise minutes against the weekly target
    (150 min), with recovery advice after a long session."""
    name = short_activity(activity)
    logged = f"{_count(minutes)} min of {name} logged"
    if minutes >= LONG_SESSION_MIN:
        return _fit(
            f"{logged}, a long session. Drink about 500 ml of water and eat some protein "
            f"within the hour."
        )
    if week_minutes >= weekly_target:
        return _fit(
            f"{logged}; {_count(week_minutes)} min in 7 days, past the {_count(weekly_target)} "
            f"min weekly goal. Add two strength sessions if you can."
        )
    left = weekly_target - week_minutes
    sessions = max(1, math.ceil(left / max(minutes, 1)))
    return _fit(
        f"{logged}; {_count(week_minutes)} of {_count(weekly_target)} min in 7 days. "
        f"{_count(left)} min to go — about {_number_word(sessions)} more like this."
    )


# --- food -----------------------------------------------------------------------------------

_PROFILE_WORDS = {
    "age": "your birth date",
    "sex": "your sex",
    "height_cm": "your height",
    "weight_kg": "a weight",
}


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def food_message(
    *,
    entry_calories: float,
    calories_today: float,
    calorie_target: float | None,
    protein_today: float,
    protein_target: float | None,
    missing: Iterable[str] = (),
) -> str:
    """After logging food: today's calories against the target, then protein if short.
    Without a calorie target, names what the profile lacks for one (`missing`: the
    `basis.missing` of `nutrition.targets.daily_targets`: age, sex, height_cm, weight_kg)."""
    if not calorie_target:
        lacking = [_PROFILE_WORDS[name] for name in _PROFILE_WORDS if name in set(missing)]
        what = _join(lacking) if lacking else "your details"
        return _fit(
            f"{_count(entry_calories)} kcal logged; {_count(calories_today)} kcal today. Add "
            f"{what} to get a daily calorie target."
        )
    if calories_today > calorie_target:
        return _fit(
            f"{_count(calories_today)} kcal today, {_count(calories_today - calorie_target)} "
            f"over your {_count(calorie_target)} kcal target. Keep the rest of today to water "
            f"and vegetables."
        )
    left = calorie_target - calories_today
    head = (
        f"{_count(entry_calories)} kcal logged; {_count(calories_today)} of "
        f"{_count(calorie_target)} kcal today, {_count(left)} left."
    )
    if protein_target and protein_today < protein_target:
        return _fit(
            f"{head} {_count(math.ceil(protein_target - protein_today))} g protein to go: "
            f"add eggs, fish, beans or yoghurt."
        )
    if protein_target:
        return _fit(f"{head} Protein target met; build the next meal around vegetables.")
    return _fit(f"{head} Build the next meal around vegetables and a protein source.")
