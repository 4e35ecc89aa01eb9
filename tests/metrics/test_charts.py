"""Server-rendered SVG charts (metrics/charts.py): one mark per day with data, gaps for days
without, an empty state, escaped text, nothing a strict CSP would block."""

from __future__ import annotations

from datetime import date, timedelta

from metrics import charts

START = date(2026, 3, 1)


def days(values):
    return [(START + timedelta(days=i), v) for i, v in enumerate(values)]


def test_bar_chart_draws_one_bar_per_day_with_data_and_a_tooltip_each():
    svg = str(charts.daily_chart(days([100, None, 300]), kind="bar", title="Steps", unit="count"))
    assert svg.count("<rect") == 2
    assert "<title>2026-03-01: 100 count</title>" in svg
    assert "<title>2026-03-03: 300 count</title>" in svg
    assert "2 of 3 days with data" in svg


def test_line_chart_breaks_at_days_without_data():
    svg = str(charts.daily_chart(days([60, 62, None, 61, 63]), kind="line", title="RHR"))
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 4


def test_no_data_gives_an_empty_state():
    svg = str(charts.daily_chart(days([None, None]), kind="bar", title="Steps"))
    assert "No data in this period" in svg and "<rect" not in svg


def test_text_is_escaped_and_there_is_no_script_or_style_attribute():
    svg = str(charts.daily_chart(days([1, 2]), kind="line", title="<b>x</b>"))
    assert "<b>" not in svg and "&lt;b&gt;" in svg
    assert (
        "<script" not in svg and "style=" not in svg and " on" not in svg.replace("<figcaption", "")
    )


def test_metric_chart_picks_bars_for_summed_types_and_lines_for_the_rest():
    values = {START: 1000.0, START + timedelta(days=1): 2000.0}
    end = START + timedelta(days=1)
    assert "<rect" in str(charts.metric_chart("steps", values, START, end))
    assert "<polyline" in str(charts.metric_chart("resting_heart_rate", values, START, end))
