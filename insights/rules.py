"""Recommendation rules: pure functions of a `Snapshot`, one per recommendation type.

Each rule returns a `Recommendation` or None. None means either "nothing to say" or "too little
data to say anything"; a rule never fills gaps with made-up values. Thresholds come from
`settings.INSIGHTS_THRESHOLDS` at call time (a `thresholds` mapping passed in overrides single
keys).

How much data each rule needs (T = INSIGHTS_THRESHOLDS; windows are complete days before
`snapshot.today`):
- low_steps, insufficient_sleep, elevated_resting_heart_rate: T["min_days"] (3) days with data
  in the last `snapshot.days` days.
- weight_management: BMI needs the height and one weight in the window; the trend needs an
  active weight goal and T["weight_trend_min_days"] (3) weighed days spanning at least
  T["weight_trend_min_span_days"] (7) days.
- poor_nutrition: T["min_days"] days with a logged meal (calories > 0); the calorie part needs
  a calorie target, the protein part a weight in the window (else the protein target).
- low_water_intake: T["min_days"] days with water logged (water_ml > 0).
- resting_heart_rate_trend: T["rhr_trend_min_days"] (7) days in the last
  T["rhr_trend_window_days"] (30) days.
- activity_change: T["activity_week_min_days"] (4) days with steps in the last 7 days and
  T["activity_previous_min_days"] (14) in the 28 days before them, and a non-zero previous
  average.

Severity and score: severity is set per rule (documented on each); the score is how far past
its threshold the figure is, relative to the threshold (0.1 = 10 % past it), rounded to 3
decimals so that equal inputs rank equally on every platform.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from statistics import fmean

from django.conf import settings

from insights.snapshot import (
    DOWN_DIRECTIONS,
    RESTING_HEART_RATE,
    SLEEP,
    STEPS,
    UP_DIRECTIONS,
    WEIGHT,
    Snapshot,
)

LOW, MEDIUM, HIGH = "low", "medium", "high"
SEVERITIES = (HIGH, MEDIUM, LOW)  # most urgent first

LOW_STEPS = "low_steps"
INSUFFICIENT_SLEEP = "insufficient_sleep"
ELEVATED_RESTING_HEART_RATE = "elevated_resting_heart_rate"
WEIGHT_MANAGEMENT = "weight_management"
POOR_NUTRITION = "poor_nutrition"
LOW_WATER_INTAKE = "low_water_intake"
RESTING_HEART_RATE_TREND = "resting_heart_rate_trend"
ACTIVITY_CHANGE = "activity_change"


@dataclass(frozen=True)
class Recommendation:
    type: str
    title: str
    severity: str
    score: float
    reasoning: str
    actions: tuple[str, ...]
    related_metric: str
    data: dict = field(default_factory=dict)
    rank: int | None = None

    def as_dict(self) -> dict:
        """JSON-ready form (actions as a list)."""
        result = asdict(self)
        result["actions"] = list(self.actions)
        return result


def thresholds(overrides: Mapping | None = None) -> dict:
    """The current thresholds: settings.INSIGHTS_THRESHOLDS, read now, with `overrides`."""
    values = dict(settings.INSIGHTS_THRESHOLDS)
    if overrides:
        values.update(overrides)
    return values


# --- helpers --------------------------------------------------------------------------------


def _score(distance: float, reference: float) -> float:
    return round(abs(distance) / reference, 3) if reference else 0.0


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _short(value: float) -> str:
    """A figure below its bar, rounded down so that it never reads as the bar itself."""
    return f"{math.floor(value):,}"


def _over(value: float) -> str:
    """A figure above its bar, one decimal rounded up so that it never reads as the bar."""
    return f"{math.ceil(value * 10) / 10:,.1f}"


def _one(value: float) -> str:
    return f"{value:,.1f}"


def _hours(minutes: float) -> str:
    total = math.floor(minutes)
    hours, rest = divmod(total, 60)
    return f"{hours} h {rest:02d} min"


def _plain_hours(hours: float) -> str:
    return f"{hours:g} hours"


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def slope_per_day(series: Mapping[date, float]) -> float:
    """Least-squares slope of `series` (value per day, gaps allowed: x is the date)."""
    if len(series) < 2:
        return 0.0
    origin = min(series)
    xs = [(day - origin).days for day in series]
    ys = list(series.values())
    mean_x, mean_y = fmean(xs), fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx


def _window_words(snapshot: Snapshot, days_with_data: int) -> str:
    return f"over the last {snapshot.days} days ({days_with_data} days with data)"


# --- rules ----------------------------------------------------------------------------------


def low_steps(snapshot: Snapshot, overrides: Mapping | None = None) -> Recommendation | None:
    """Average daily steps below the bar (the lower senior bar from `senior_age`).
    High severity below `steps_severe_ratio` of the bar, else medium."""
    t = thresholds(overrides)
    series = snapshot.series(STEPS)
    if len(series) < t["min_days"]:
        return None
    average = fmean(series.values())
    senior = snapshot.age is not None and snapshot.age >= t["senior_age"]
    bar = t["steps_daily_min_senior"] if senior else t["steps_daily_min"]
    if average >= bar:
        return None
    severity = HIGH if average < bar * t["steps_severe_ratio"] else MEDIUM
    for_whom = f" for people aged {t['senior_age']} and over" if senior else ""
    gap = bar - average
    return Recommendation(
        type=LOW_STEPS,
        title="Move more during the day",
        severity=severity,
        score=_score(gap, bar),
        reasoning=(
            f"You averaged {_short(average)} steps a day {_window_words(snapshot, len(series))}. "
            f"The recommended minimum{for_whom} is {_count(bar)} steps a day, "
            f"so you are about {_count(math.ceil(gap))} steps a day short."
        ),
        actions=(
            f"Add a 10-minute walk after two meals a day (about {_count(min(gap, 2000))} steps).",
            "Take the stairs and walk during phone calls.",
            "Set a reminder to stand up and move every hour.",
        ),
        related_metric=STEPS,
        data={
            "average_steps": round(average, 1),
            "days_with_data": len(series),
            "window_days": snapshot.days,
            "threshold": bar,
            "age": snapshot.age,
            "senior_bar": senior,
        },
    )


def insufficient_sleep(
    snapshot: Snapshot, overrides: Mapping | None = None
) -> Recommendation | None:
    """Average nightly sleep below 7 h (8 h under `minor_age`); high severity below 5 h."""
    t = thresholds(overrides)
    series = snapshot.series(SLEEP)
    if len(series) < t["min_days"]:
        return None
    average = fmean(series.values())
    minor = snapshot.age is not None and snapshot.age < t["minor_age"]
    bar_hours = t["sleep_hours_min_minor"] if minor else t["sleep_hours_min"]
    bar = bar_hours * 60
    if average >= bar:
        return None
    severe = average < t["sleep_hours_severe"] * 60
    for_whom = f"under {t['minor_age']}" if minor else "adults"
    reasoning = (
        f"You slept an average of {_hours(average)} a night "
        f"{_window_words(snapshot, len(series))}. The recommended minimum for {for_whom} is "
        f"{_plain_hours(bar_hours)} a night."
    )
    if severe:
        reasoning += (
            f" Below {_plain_hours(t['sleep_hours_severe'])} a night is a serious shortfall."
        )
    return Recommendation(
        type=INSUFFICIENT_SLEEP,
        title="Get more sleep",
        severity=HIGH if severe else MEDIUM,
        score=_score(bar - average, bar),
        reasoning=reasoning,
        actions=(
            "Go to bed and get up at the same time every day, weekends included.",
            "Stop screens and caffeine in the hours before bed.",
            f"Plan for {_plain_hours(bar_hours)} in bed: count back from when you must get up.",
        )
        + (("Talk to your clinician if you cannot sleep more despite trying.",) if severe else ()),
        related_metric=SLEEP,
        data={
            "average_minutes": round(average, 1),
            "days_with_data": len(series),
            "window_days": snapshot.days,
            "threshold_minutes": bar,
            "severe_below_minutes": t["sleep_hours_severe"] * 60,
            "age": snapshot.age,
        },
    )


def elevated_resting_heart_rate(
    snapshot: Snapshot, overrides: Mapping | None = None
) -> Recommendation | None:
    """Average resting heart rate above `resting_hr_max`; high severity above
    `resting_hr_severe`, else medium."""
    t = thresholds(overrides)
    series = snapshot.series(RESTING_HEART_RATE)
    if len(series) < t["min_days"]:
        return None
    average = fmean(series.values())
    bar = t["resting_hr_max"]
    if average <= bar:
        return None
    severe = average > t["resting_hr_severe"]
    return Recommendation(
        type=ELEVATED_RESTING_HEART_RATE,
        title="Your resting heart rate is high",
        severity=HIGH if severe else MEDIUM,
        score=_score(average - bar, bar),
        reasoning=(
            f"Your resting heart rate averaged {_over(average)} bpm "
            f"{_window_words(snapshot, len(series))}. Above {_count(bar)} bpm at rest is "
            f"higher than recommended."
        ),
        actions=(
            "Build up regular moderate exercise, such as brisk walking 30 minutes a day.",
            "Cut down on caffeine, alcohol and nicotine.",
            "Talk to your clinician, especially if you feel palpitations, dizziness or "
            "shortness of breath.",
        ),
        related_metric=RESTING_HEART_RATE,
        data={
            "average_bpm": round(average, 1),
            "days_with_data": len(series),
            "window_days": snapshot.days,
            "threshold_bpm": bar,
        },
    )


def _bmi_finding(snapshot: Snapshot, t: Mapping, weights: Mapping[date, float]) -> dict | None:
    if not snapshot.height_cm or not weights:
        return None
    last_day = max(weights)
    weight = weights[last_day]
    # BMI is classified on its usual one-decimal value (WHO tables).
    bmi = round(weight / (snapshot.height_cm / 100) ** 2, 1)
    if t["bmi_min"] <= bmi < t["bmi_max"]:
        return None
    under = bmi < t["bmi_min"]
    return {
        "bmi": bmi,
        "weight_kg": weight,
        "weighed_on": last_day,
        "under": under,
        "severe": bmi < t["bmi_severe_min"] or bmi >= t["bmi_severe_max"],
        "score": _score(t["bmi_min"] - bmi, t["bmi_min"])
        if under
        else _score(bmi - t["bmi_max"], t["bmi_max"]),
    }


def _trend_finding(snapshot: Snapshot, t: Mapping, weights: Mapping[date, float]) -> dict | None:
    goal = snapshot.weight_goal
    if not goal or goal.get("target_value") is None:
        return None
    direction = goal.get("direction")
    if direction not in DOWN_DIRECTIONS | UP_DIRECTIONS:
        return None
    if len(weights) < t["weight_trend_min_days"]:
        return None
    first_day, last_day = min(weights), max(weights)
    if (last_day - first_day).days < t["weight_trend_min_span_days"]:
        return None
    per_week = round(slope_per_day(weights) * 7, 3)
    target = float(goal["target_value"])
    latest = weights[last_day]
    limit = t["weight_trend_kg_per_week"]
    if direction in DOWN_DIRECTIONS:
        away = per_week > limit and latest > target
    else:
        away = per_week < -limit and latest < target
    if not away:
        return None
    return {
        "kg_per_week": per_week,
        "first_day": first_day,
        "first_kg": weights[first_day],
        "last_day": last_day,
        "last_kg": latest,
        "target_kg": target,
        "direction": direction,
        "score": _score(abs(per_week) - limit, limit),
    }


def weight_management(
    snapshot: Snapshot, overrides: Mapping | None = None
) -> Recommendation | None:
    """BMI outside the healthy range (height known; bmi_min <= BMI < bmi_max is healthy), or
    the weight trend moving away from an active weight goal faster than
    `weight_trend_kg_per_week` while the goal is not yet met. High severity for a BMI below
    `bmi_severe_min` or from `bmi_severe_max`, else medium."""
    t = thresholds(overrides)
    weights = snapshot.readings_to_date(WEIGHT)
    bmi = _bmi_finding(snapshot, t, weights)
    trend = _trend_finding(snapshot, t, weights)
    if bmi is None and trend is None:
        return None
    sentences: list[str] = []
    actions: list[str] = []
    data: dict = {"window_days": snapshot.days, "weighed_days": len(weights)}
    if bmi is not None:
        label = "below" if bmi["under"] else "above"
        sentences.append(
            f"Your latest weight, {_one(bmi['weight_kg'])} kg on {_day(bmi['weighed_on'])}, "
            f"and your height of {_count(snapshot.height_cm)} cm give a BMI of {bmi['bmi']:.1f}, "
            f"{label} the healthy range of {t['bmi_min']:g} to under {t['bmi_max']:g}."
        )
        if bmi["under"]:
            actions += [
                "Add nutritious, energy-dense snacks such as nuts, yoghurt or nut butter.",
                "Include protein at every meal.",
            ]
        else:
            actions += [
                "Aim for a steady loss of 0.25 to 0.5 kg a week, not a crash diet.",
                "Fill half your plate with vegetables and cut sugary drinks.",
            ]
        data.update(
            bmi=bmi["bmi"],
            weight_kg=bmi["weight_kg"],
            height_cm=snapshot.height_cm,
            bmi_range=[t["bmi_min"], t["bmi_max"]],
        )
    if trend is not None:
        wanted = "down to" if trend["direction"] in DOWN_DIRECTIONS else "up to"
        sentences.append(
            f"Your weight went from {_one(trend['first_kg'])} kg on {_day(trend['first_day'])} "
            f"to {_one(trend['last_kg'])} kg on {_day(trend['last_day'])}, a trend of "
            f"{trend['kg_per_week']:+.2f} kg a week, away from your goal of getting "
            f"{wanted} {_one(trend['target_kg'])} kg. We flag a drift faster than "
            f"{t['weight_trend_kg_per_week']:g} kg a week."
        )
        actions.append("Review your goal's plan: what changed in your meals or activity lately?")
        data.update(
            trend_kg_per_week=trend["kg_per_week"],
            trend_threshold_kg_per_week=t["weight_trend_kg_per_week"],
            goal_target_kg=trend["target_kg"],
            goal_direction=trend["direction"],
        )
    actions.append("Talk to your clinician before large changes to diet or exercise.")
    severe = bmi is not None and bmi["severe"]
    return Recommendation(
        type=WEIGHT_MANAGEMENT,
        title="Work towards a healthy weight",
        severity=HIGH if severe else MEDIUM,
        score=max(f["score"] for f in (bmi, trend) if f is not None),
        reasoning=" ".join(sentences),
        actions=tuple(actions),
        related_metric=WEIGHT,
        data=data,
    )


def poor_nutrition(snapshot: Snapshot, overrides: Mapping | None = None) -> Recommendation | None:
    """On days with a logged meal: average calories outside calories_min_pct..calories_max_pct
    of the target (both ends inside), or average protein below protein_g_per_kg x the latest
    weight (the protein target when no weight is known). Medium severity."""
    t = thresholds(overrides)
    meal_days = {
        day: totals
        for day, totals in snapshot.nutrition_series().items()
        if (totals.get("calories") or 0) > 0
    }
    if len(meal_days) < t["min_days"]:
        return None
    calories = fmean(totals.get("calories") or 0 for totals in meal_days.values())
    protein = fmean(totals.get("protein_g") or 0 for totals in meal_days.values())
    sentences: list[str] = []
    actions: list[str] = []
    scores: list[float] = []
    data: dict = {
        "logged_days": len(meal_days),
        "window_days": snapshot.days,
        "average_calories": round(calories, 1),
        "average_protein_g": round(protein, 1),
    }
    target = snapshot.targets.get("calories")
    if target:
        percent = round(calories / target * 100, 1)
        low_pct, high_pct = t["calories_min_pct"], t["calories_max_pct"]
        data.update(calorie_target=target, calories_percent_of_target=percent)
        if percent < low_pct or percent > high_pct:
            sentences.append(
                f"On the {len(meal_days)} days you logged meals you ate an average of "
                f"{_count(calories)} kcal, {percent:g} % of your {_count(target)} kcal target; "
                f"we suggest staying between {low_pct:g} % and {high_pct:g} % of it."
            )
            if percent < low_pct:
                scores.append(_score(low_pct - percent, low_pct))
                actions.append("Eat regular meals; add a balanced snack if you skip meals.")
            else:
                scores.append(_score(percent - high_pct, high_pct))
                actions.append("Watch portion sizes and swap sugary drinks and snacks.")
    weights = snapshot.readings_to_date(WEIGHT)
    if weights:
        weight = weights[max(weights)]
        protein_bar = round(t["protein_g_per_kg"] * weight, 1)
        bar_words = (
            f"{t['protein_g_per_kg']:g} g per kg of body weight, {_count(protein_bar)} g a day "
            f"at {_one(weight)} kg"
        )
        data.update(weight_kg=weight)
    else:
        protein_bar = snapshot.targets.get("protein_g")
        bar_words = f"your target of {_count(protein_bar)} g a day" if protein_bar else ""
    if protein_bar:
        data.update(protein_threshold_g=protein_bar)
        if protein < protein_bar:
            sentences.append(
                f"Your protein averaged {_short(protein)} g a day on logged days, below "
                f"{bar_words}."
            )
            scores.append(_score(protein_bar - protein, protein_bar))
            actions.append("Include a protein source at every meal: eggs, fish, beans, dairy.")
    if not sentences:
        return None
    actions.append("Keep logging every meal so these figures stay accurate.")
    return Recommendation(
        type=POOR_NUTRITION,
        title="Balance what you eat",
        severity=MEDIUM,
        score=max(scores),
        reasoning=" ".join(sentences),
        actions=tuple(actions),
        related_metric="calories",
        data=data,
    )


def low_water_intake(snapshot: Snapshot, overrides: Mapping | None = None) -> Recommendation | None:
    """Average water on days with water logged below the user's water target (the setting
    `water_ml_min` when no target is known). Low severity."""
    t = thresholds(overrides)
    water_days = {
        day: totals["water_ml"]
        for day, totals in snapshot.nutrition_series().items()
        if (totals.get("water_ml") or 0) > 0
    }
    if len(water_days) < t["min_days"]:
        return None
    average = fmean(water_days.values())
    bar = snapshot.targets.get("water_ml") or t["water_ml_min"]
    if average >= bar:
        return None
    gap = bar - average
    return Recommendation(
        type=LOW_WATER_INTAKE,
        title="Drink more water",
        severity=LOW,
        score=_score(gap, bar),
        reasoning=(
            f"On the {len(water_days)} days you logged water you drank an average of "
            f"{_short(average)} ml; the daily target is {_count(bar)} ml, so about "
            f"{_count(math.ceil(gap))} ml a day is missing."
        ),
        actions=(
            f"Add about {max(1, round(gap / 250))} glasses (250 ml each) spread over the day.",
            "Keep a bottle within reach and refill it at fixed times.",
            "Drink a glass of water with every meal.",
        ),
        related_metric="water_ml",
        data={
            "average_ml": round(average, 1),
            "logged_days": len(water_days),
            "window_days": snapshot.days,
            "threshold_ml": bar,
        },
    )


def resting_heart_rate_trend(
    snapshot: Snapshot, overrides: Mapping | None = None
) -> Recommendation | None:
    """Least-squares slope of daily resting heart rate over `rhr_trend_window_days`, with at
    least `rhr_trend_min_days` days; |slope| above `rhr_trend_bpm_per_day` (compared at 0.001
    bpm/day). Rising: medium severity; falling: low (usually a sign of fitness)."""
    t = thresholds(overrides)
    window = t["rhr_trend_window_days"]
    series = snapshot.series(RESTING_HEART_RATE, window)
    if len(series) < t["rhr_trend_min_days"]:
        return None
    slope = round(slope_per_day(series), 3)
    limit = t["rhr_trend_bpm_per_day"]
    if abs(slope) <= limit:
        return None
    rising = slope > 0
    first_day, last_day = min(series), max(series)
    figures = (
        f"over the last {window} days ({len(series)} days with data: {_count(series[first_day])}"
        f" bpm on {_day(first_day)}, {_count(series[last_day])} bpm on {_day(last_day)}). "
        f"We flag a trend faster than {limit:g} bpm a day."
    )
    if rising:
        title = "Your resting heart rate is rising"
        reasoning = f"Your resting heart rate rose by about {slope:.2f} bpm a day {figures}"
        actions: tuple[str, ...] = (
            "Check for causes: short sleep, stress, illness, alcohol or a new medicine.",
            "Ease off hard training for a few days and rest well.",
            "Talk to your clinician if it keeps rising or you feel unwell.",
        )
    else:
        title = "Your resting heart rate is falling"
        reasoning = (
            f"Your resting heart rate fell by about {abs(slope):.2f} bpm a day {figures} "
            f"That is often a sign of improving fitness."
        )
        actions = (
            "Keep up your current activity routine.",
            "Talk to your clinician if you feel dizzy, faint or unusually tired.",
        )
    return Recommendation(
        type=RESTING_HEART_RATE_TREND,
        title=title,
        severity=MEDIUM if rising else LOW,
        score=_score(abs(slope) - limit, limit),
        reasoning=reasoning,
        actions=actions,
        related_metric=RESTING_HEART_RATE,
        data={
            "slope_bpm_per_day": slope,
            "direction": "rising" if rising else "falling",
            "days_with_data": len(series),
            "window_days": window,
            "threshold_bpm_per_day": limit,
        },
    )


def activity_change(snapshot: Snapshot, overrides: Mapping | None = None) -> Recommendation | None:
    """This week's steps (the last 7 complete days) against the weekly average of the 4 weeks
    before; a change of more than `activity_change_pct` either way (compared at 0.1 %). Weekly
    figures are the daily mean over days with data x 7, so a missing day is not read as zero.
    More: praise, low severity; less: a nudge, medium."""
    t = thresholds(overrides)
    split = snapshot.today - timedelta(days=7)
    steps = snapshot.series(STEPS, 35)
    week = [value for day, value in steps.items() if day >= split]
    previous = [value for day, value in steps.items() if day < split]
    if len(week) < t["activity_week_min_days"] or len(previous) < t["activity_previous_min_days"]:
        return None
    this_week = fmean(week) * 7
    before = fmean(previous) * 7
    if before <= 0:
        return None
    change = round((this_week - before) / before * 100, 1)
    limit = t["activity_change_pct"]
    if abs(change) <= limit:
        return None
    more = change > 0
    figures = (
        f"about {_count(this_week)} steps in the last 7 days, {abs(change):g} % "
        f"{'more' if more else 'fewer'} than your weekly average of {_count(before)} over the "
        f"4 weeks before. We point out changes of more than {limit:g} %."
    )
    if more:
        title = "Great job: you are moving more"
        reasoning = f"Well done: you took {figures}"
        actions: tuple[str, ...] = (
            "Keep the new habit: plan this week's walks now.",
            "Build up gradually to avoid strain.",
        )
    else:
        title = "Your activity has dropped"
        reasoning = f"You took {figures}"
        actions = (
            "Schedule short walks in your calendar this week.",
            "Pick an easy activity you enjoy and start with 10 minutes.",
        )
    return Recommendation(
        type=ACTIVITY_CHANGE,
        title=title,
        severity=LOW if more else MEDIUM,
        score=_score(abs(change) - limit, limit),
        reasoning=reasoning,
        actions=actions,
        related_metric=STEPS,
        data={
            "this_week_steps": round(this_week, 1),
            "previous_weekly_average": round(before, 1),
            "change_percent": change,
            "direction": "up" if more else "down",
            "week_days_with_data": len(week),
            "previous_days_with_data": len(previous),
            "threshold_percent": limit,
        },
    )


#: Every rule, in the fixed type order that breaks ranking ties.
RULES: tuple[Callable[[Snapshot, Mapping | None], Recommendation | None], ...] = (
    low_steps,
    insufficient_sleep,
    elevated_resting_heart_rate,
    weight_management,
    poor_nutrition,
    low_water_intake,
    resting_heart_rate_trend,
    activity_change,
)
TYPE_ORDER: tuple[str, ...] = (
    LOW_STEPS,
    INSUFFICIENT_SLEEP,
    ELEVATED_RESTING_HEART_RATE,
    WEIGHT_MANAGEMENT,
    POOR_NUTRITION,
    LOW_WATER_INTAKE,
    RESTING_HEART_RATE_TREND,
    ACTIVITY_CHANGE,
)
