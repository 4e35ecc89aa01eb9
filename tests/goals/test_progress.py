"""The progress rules as pure functions (goals.progress): edges the data tests do not reach."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from goals.progress import evaluate, expected_fraction, percent

TODAY = date(2026, 6, 15)


def days(*values: float) -> dict[date, float]:
    """Values for the days before TODAY, the most recent first."""
    return {TODAY - timedelta(days=i + 1): v for i, v in enumerate(values)}


def run(**kwargs):
    defaults = {
        "direction": "increase",
        "target": 100.0,
        "baseline": 50.0,
        "latest": False,
        "current": None,
        "window_values": {},
        "period_days": 7,
        "start_date": TODAY - timedelta(days=10),
        "target_date": None,
        "today": TODAY,
    }
    return evaluate(**{**defaults, **kwargs})


@pytest.mark.parametrize(
    ("direction", "current", "baseline", "expected"),
    [
        ("increase", 75, 50, 50.0),
        ("increase", 40, 50, 0.0),  # moved away from the target
        ("increase", 120, 50, 100.0),
        ("decrease", 80, 100, 50.0),
        ("decrease", 110, 100, 0.0),  # moved away
        ("at_least", 80, None, 80.0),  # no baseline: the ratio to the target
        ("at_least", 80, 120, 80.0),  # slipped from above: the ratio again
        ("at_least", 50, 50, 50.0),  # a habit reads its ratio from day one, baseline or not
        ("at_least", 75, 50, 75.0),
        ("at_most", 125, 125, 80.0),
        ("at_most", 125, None, 80.0),
        ("at_most", 90, None, 100.0),
    ],
)
def test_percent(direction, current, baseline, expected):
    target = 60 if direction == "decrease" else 100
    assert percent(current=current, direction=direction, target=target, baseline=baseline) == (
        expected
    )


def test_percent_is_zero_without_data():
    assert percent(current=None, direction="increase", target=10, baseline=5) == 0


def test_expected_fraction_is_linear_and_clamped():
    start, end = date(2026, 1, 1), date(2026, 1, 11)
    assert expected_fraction(today=date(2025, 12, 1), start=start, target_date=end) == 0
    assert expected_fraction(today=date(2026, 1, 6), start=start, target_date=end) == 0.5
    assert expected_fraction(today=date(2026, 2, 1), start=start, target_date=end) == 1
    assert expected_fraction(today=start, start=start, target_date=start) == 1


def test_reach_goal_past_its_target_date_unmet_is_off_track():
    result = run(window_values=days(99), target_date=TODAY - timedelta(days=1))
    assert (result.progress_percent, result.on_track, result.complete) == (98.0, False, False)


def test_reach_goal_on_plan_is_on_track():
    result = run(
        window_values=days(75),
        start_date=TODAY - timedelta(days=10),
        target_date=TODAY + timedelta(days=10),
    )
    assert (result.progress_percent, result.on_track) == (50.0, True)


def test_without_data_nothing_is_judged():
    result = run(target_date=TODAY + timedelta(days=5))
    assert (result.current_value, result.progress_percent, result.on_track) == (None, 0, None)
    assert not result.met and not result.complete


def test_keep_goal_on_a_latest_measure_needs_every_reading_in_the_window_to_hold():
    kwargs = {
        "direction": "at_most",
        "target": 80.0,
        "baseline": None,
        "latest": True,
        "current": 79.0,
        "target_date": TODAY,
    }
    assert run(**kwargs, window_values=days(79.5, 79.8)).complete
    assert not run(**kwargs, window_values=days(79.5, 80.4)).complete  # one day above
    assert not run(**kwargs, window_values={}).complete  # no reading in the window
    assert run(**kwargs, window_values=days(79.5, 80.4)).on_track  # but it holds now


def test_keep_goal_on_a_daily_average_needs_every_day_of_the_period():
    kwargs = {"direction": "at_least", "target": 100.0, "target_date": TODAY, "period_days": 3}
    assert run(**kwargs, window_values=days(90, 110, 120)).complete  # average 106.7
    assert not run(**kwargs, window_values=days(110, 120)).complete  # a day missing
    assert not run(**kwargs, window_values=days(50, 110, 120)).complete  # average 93.3
