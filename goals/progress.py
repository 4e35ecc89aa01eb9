"""Goal progress as pure functions of the data (no database): what the dashboard shows.

Definitions (days are UTC days; `today` is in progress and never counted in an average):

- **Current value.** `latest` measures (weight, body fat): the newest reading, whenever it was
  taken — a weight goal is about where you are now, never a sum. `daily_average` measures
  (steps, sleep, exercise, heart rate, nutrients, ...): the mean of the daily figures over the
  goal's window, the `period_days` complete days before today, counting only days with data
  (a day nothing was recorded is missing data, not a zero).
- **Met.** The current value is on the target's side: `>=` for `increase` / `at_least`,
  `<=` for `decrease` / `at_most`.
- **Progress percent.** 100 when met. `reach` goals: the share of the way from the baseline
  to the target, clamped to 0..100 (moving away from the target gives 0). `keep` goals (a
  daily habit such as 8,000 steps), `reach` goals without a baseline and those whose baseline
  was already on the target's side: the ratio of the current value to the target
  (`current / target` going up, `target / current` going down), so 4,000 of 8,000 steps
  reads 50 % from the first day. 0 while there is no current value.
- **Completion** (the status turns `completed` by itself, and stays so):
  - `increase` / `decrease` ("reach"): as soon as the current value meets the target.
  - `at_least` / `at_most` ("keep"): on or after the target date, when the goal was held over
    the whole window: every day of the last `period_days` complete days has data and the
    average meets the target (`latest` measures: every daily reading in the window and the
    newest one meet it). A keep goal without a target date is an ongoing habit and never
    completes by itself.
- **On track.** `reach` goals with a baseline and a target date: progress at least the linear
  expectation, `(today - start) / (target_date - start)` of the way (so after the target date,
  only a met goal is on track). `keep` goals: progress at least `KEEP_ON_TRACK_PERCENT` (95 %):
  a habit held to within 5 % of its target is not "behind" (it reads "Almost there" until
  met). Met goals are on track. None when it cannot be judged: no data yet, or a reach goal
  without a baseline or target date.
- **Today so far.** Today is in progress (`healthtrack.core.days`): it is never part of the window
  and never judged. For daily-total measures (steps, water, calories, exercise) today's figure
  is shown "so far", with its share of the daily target (`so_far_percent`), on the steps card,
  the goal cards and the Goals page alike; before the first complete day it is the only
  progress shown ("In progress today").
- **Words** (`goal_status`): the one mapping from the figures above to what every page says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from metrics.averages import average_of_days, finished_window

INCREASE, DECREASE, AT_LEAST, AT_MOST = "increase", "decrease", "at_least", "at_most"
UPWARD = frozenset({INCREASE, AT_LEAST})
REACH = frozenset({INCREASE, DECREASE})
KEEP = frozenset({AT_LEAST, AT_MOST})
KEEP_ON_TRACK_PERCENT = 95.0
# Daily-total measures whose today's figure is shown "so far" (sleep is a night, not a day).
SO_FAR_CODES = frozenset(
    {"steps", "exercise", "active_energy", "distance", "water_ml", "calories", "protein_g"}
)


@dataclass(frozen=True)
class Progress:
    current_value: float | None
    progress_percent: float
    on_track: bool | None
    met: bool
    complete: bool


def window(*, today: date, period_days: int) -> tuple[date, date]:
    """First and last day (inclusive) of the `period_days` complete days before `today`
    (`metrics.averages`, the one definition of an N-day average)."""
    return finished_window(today=today, days=period_days)


def average(values: Mapping[date, float]) -> float | None:
    return average_of_days(values)


def meets(value: float, *, direction: str, target: float) -> bool:
    return value >= target if direction in UPWARD else value <= target


def _clamp(value: float, low: float = 0.0, high: float = 100.0) -> float:
    return max(low, min(high, value))


def percent(
    *, current: float | None, direction: str, target: float, baseline: float | None
) -> float:
    if current is None:
        return 0.0
    if meets(current, direction=direction, target=target):
        return 100.0
    if (
        direction in REACH
        and baseline is not None
        and not meets(baseline, direction=direction, target=target)
    ):
        return round(_clamp((current - baseline) / (target - baseline) * 100), 1)
    if direction in UPWARD:
        return round(_clamp(current / target * 100), 1)
    if current <= 0:
        return 0.0
    return round(_clamp(target / current * 100), 1)


def expected_fraction(*, today: date, start: date, target_date: date) -> float:
    """How far along the way a linear plan would be by `today` (0..1)."""
    span = (target_date - start).days
    if span <= 0:
        return 1.0 if today >= target_date else 0.0
    return max(0.0, min(1.0, (today - start).days / span))


def evaluate(
    *,
    direction: str,
    target: float,
    baseline: float | None,
    latest: bool,
    current: float | None,
    window_values: Mapping[date, float],
    period_days: int,
    start_date: date,
    target_date: date | None,
    today: date,
) -> Progress:
    """Progress of one goal.

    `current` is the newest reading for `latest` measures (None: no data); for daily-average
    measures it is ignored and computed from `window_values` (day -> that day's figure, only
    days with data, inside `window(today, period_days)`).
    """
    if not latest:
        current = average(window_values)
    if current is not None:
        current = round(current, 2)
    met = current is not None and meets(current, direction=direction, target=target)
    progress = percent(current=current, direction=direction, target=target, baseline=baseline)

    if direction in REACH:
        complete = met
        if met:
            on_track = True
        elif current is None or baseline is None or target_date is None:
            on_track = None
        else:
            expected = expected_fraction(today=today, start=start_date, target_date=target_date)
            on_track = progress >= round(expected * 100, 1)
    else:
        on_track = None if current is None else met or progress >= KEEP_ON_TRACK_PERCENT
        complete = (
            met
            and target_date is not None
            and today >= target_date
            and _held(
                window_values,
                latest=latest,
                period_days=period_days,
                today=today,
                direction=direction,
                target=target,
            )
        )
    return Progress(
        current_value=current,
        progress_percent=progress,
        on_track=on_track,
        met=met,
        complete=complete,
    )


def _held(
    values: Mapping[date, float],
    *,
    latest: bool,
    period_days: int,
    today: date,
    direction: str,
    target: float,
) -> bool:
    """Was a (met) keep goal held over its whole window? Daily-average measures: every day of
    the window has data (the average itself is checked by the caller). Latest measures: at
    least one reading in the window, and every day's reading meets the target."""
    first, last = window(today=today, period_days=period_days)
    inside = {d: v for d, v in values.items() if first <= d <= last}
    if latest:
        return bool(inside) and all(
            meets(v, direction=direction, target=target) for v in inside.values()
        )
    return len(inside) == period_days


def so_far_percent(*, today_value: float | None, direction: str, target: float) -> int | None:
    """Today's figure so far as a share of the daily target (0-100, rounded), for goals that
    go up; None without a figure, or for a ceiling (going over is not progress)."""
    if today_value is None or direction not in UPWARD or target <= 0:
        return None
    return round(_clamp(today_value / target * 100))


@dataclass(frozen=True)
class GoalStatus:
    status: str  # "ok", "warning" or "neutral" (the badge colour)
    text: str  # what the badge says
    percent: int  # the progress bar
    so_far: bool  # the bar shows today so far (no complete day judged yet)


def goal_status(
    *,
    on_track: bool | None,
    progress_percent: float,
    direction: str,
    target: float,
    today_value: float | None = None,
) -> GoalStatus:
    """What every page says of an active goal (dashboard card, Goals page, admin)."""
    so_far = so_far_percent(today_value=today_value, direction=direction, target=target)
    # A goal not met never shows 100 % (99.6 % rounds down to 99, not up to "100 %, Almost").
    shown = 100 if progress_percent >= 100 else min(99, round(progress_percent))
    if on_track is None:
        if so_far is not None:
            return GoalStatus("neutral", "In progress today", so_far, True)
        return GoalStatus("neutral", "Not enough data yet", shown, False)
    if on_track:
        met = progress_percent >= 100 or direction in REACH
        return GoalStatus("ok", "On track" if met else "Almost there", shown, False)
    return GoalStatus("warning", "Behind", shown, False)
