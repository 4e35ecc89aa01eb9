"""Daily metric charts (metrics/metric_charts.py on healthtrack.core.charts): bars for summed types,
lines for the rest, one point per day with gaps for days without data."""

from __future__ import annotations

from datetime import date, timedelta

from metrics import metric_charts

START = date(2026, 3, 1)


def test_summed_types_are_bars_and_the_rest_lines_with_one_point_per_day():
    end = START + timedelta(days=2)
    values = {START: 1000.0, end: 3000.0}
    steps = str(metric_charts.metric_chart("steps", values, START, end))
    assert steps.count('class="chart-bar"') == 2
    assert "<title>1 Mar: 1,000 steps</title>" in steps and "<td>no data</td>" in steps
    rhr = str(metric_charts.metric_chart("resting_heart_rate", values, START, end))
    assert 'class="chart-point"' in rhr and 'class="chart-bar"' not in rhr


def test_no_data_is_an_empty_state():
    chart = str(metric_charts.metric_chart("steps", {}, START, START + timedelta(days=6)))
    assert "No data in this period." in chart and "<svg" not in chart


def test_fill_days_marks_missing_days_as_gaps():
    points = metric_charts.fill_days({START: 5.0}, START, START + timedelta(days=1))
    assert points == [(START, 5.0), (START + timedelta(days=1), None)]


def test_values_are_formatted_for_people():
    assert [metric_charts.format_value(v) for v in (4321, 71.25, 87.0, None)] == [
        "4,321",
        "71.2",
        "87",
        "–",
    ]
