"""Blood pressure over a long period is drawn as weekly bands, a month as daily bands
(`metrics.metric_charts.blood_pressure_chart`), never one thin range line per day (issue 16)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from metrics.metric_charts import blood_pressure_chart

END = date(2026, 3, 31)


def halves(days: int) -> tuple[dict, dict]:
    systolic, diastolic = {}, {}
    for n in range(days):
        day = END - timedelta(days=n)
        systolic[day] = (125.0, 118.0, 132.0, 2)
        diastolic[day] = (80.0, 76.0, 84.0, 2)
    return systolic, diastolic


def test_ninety_days_are_thirteen_weekly_bands_counted_back_from_the_end():
    chart = blood_pressure_chart(*halves(90), END - timedelta(days=89), END)
    svg = str(chart.svg)
    assert chart.kind == "bp-band" and chart.title == "Blood pressure, weekly range"
    assert svg.count('class="chart-band chart-band-systolic"') == 13
    assert svg.count('class="chart-band chart-band-diastolic"') == 13
    assert "chart-range" not in svg
    # The first week is the 6 days left over at the start; the last one ends on END.
    assert "Week from 1 Jan: systolic 118 to 132 mmHg" in svg
    assert "Week from 25 Mar: systolic 118 to 132 mmHg, mean 125 mmHg" in svg
    assert "Weeks from 1 Jan to 25 Mar: 13 weeks with data." in chart.summary


def test_a_week_is_the_range_of_its_readings_and_their_mean():
    systolic = {END: (140.0, 130.0, 150.0, 2), END - timedelta(days=1): (120.0, 120.0, 120.0, 1)}
    diastolic = {END: (90.0, 85.0, 95.0, 2), END - timedelta(days=1): (78.0, 78.0, 78.0, 1)}
    chart = blood_pressure_chart(systolic, diastolic, END - timedelta(days=89), END)
    # (140 * 2 + 120) / 3 readings = 133; 120 to 150 over the week.
    assert "Week from 25 Mar: systolic 120 to 150 mmHg, mean 133 mmHg" in str(chart.svg)
    assert "Latest weekly mean: 133/86 mmHg (week from 25 Mar)" in chart.summary


def test_a_month_is_a_band_per_day():
    chart = blood_pressure_chart(*halves(30), END - timedelta(days=29), END, title="BP")
    svg = str(chart.svg)
    assert chart.title == "BP"
    assert len(re.findall(r'class="chart-band chart-band-systolic"', svg)) == 30
    assert "Latest daily mean: 125/80 mmHg (31 Mar)" in chart.summary
