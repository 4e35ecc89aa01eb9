from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from accounts.models import AccessLog
from healthtrack.portability.report import svg_chart
from tests.portability.data import populate

pytestmark = pytest.mark.django_db

URL = "/api/v1/export/report?start=2026-03-01&end=2026-03-05"


def test_report_is_printable_html_with_summary_charts_alerts_and_nutrition(auth_client, user):
    populate(user)
    response = auth_client.get(URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    assert "Period 2026-03-01 to 2026-03-05" in html
    for code in ("steps", "heart_rate", "weight", "blood_pressure", "sleep"):
        assert f'<tr data-type="{code}">' in html
    # steps, heart rate, sleep, weight, glucose and one for both blood pressure halves
    assert html.count('<svg class="chart"') == 6
    assert "/static/portability/report.css" in html
    assert "Blood pressure crisis" in html
    assert "151/? mmHg on 2 March" in html  # the alert's (decrypted) message
    goals = html.split('<table class="goals">')[1].split("</table>")[0]
    assert "Walk more" in goals and "8,000 steps" in goals
    # Steps per day from the rollups: 2,000 on the 2nd, 3,000 on the 3rd -> average 2,500.
    steps_row = html.split('<tr data-type="steps">')[1].split("</tr>")[0]
    assert ">2,500 steps<" in steps_row


def test_report_of_a_period_without_data_says_so(auth_client, user):
    response = auth_client.get("/api/v1/export/report?start=2025-01-01&end=2025-01-31")

    html = response.content.decode()
    assert "No measurements in this period." in html
    assert "No alerts in this period." in html


def test_a_care_team_clinician_reads_a_patients_report_and_the_read_is_logged(
    clinician_client, clinician, care_team, user
):
    populate(user)
    response = clinician_client.get(f"{URL}&user_id={user.pk}")

    assert response.status_code == 200
    log = AccessLog.objects.get(owner_id=user.pk)
    assert (log.actor_id, log.via) == (clinician.pk, "care_team")


def test_report_of_someone_else_is_404(auth_client, other_user):
    assert auth_client.get(f"{URL}&user_id={other_user.pk}").status_code == 404


def test_report_period_must_be_ordered(auth_client):
    response = auth_client.get("/api/v1/export/report?start=2026-03-05&end=2026-03-01")
    assert response.status_code == 400
    assert "start" in response.json()


def test_svg_chart_draws_bars_for_daily_totals_and_lines_otherwise():
    points = [(date(2026, 3, 1), 1000.0), (date(2026, 3, 3), 3000.0)]
    bars = svg_chart(
        "Steps <per day>", [("Steps", points)], date(2026, 3, 1), date(2026, 3, 5), bars=True
    )
    lines = svg_chart("Weight", [("Weight", points)], date(2026, 3, 1), date(2026, 3, 5))

    assert bars.count("<rect") == 2 and "<polyline" not in bars
    assert 'aria-label="Steps &lt;per day&gt;"' in bars
    assert lines.count("<circle") == 2 and "<polyline" in lines


def test_report_obeys_the_content_security_policy(auth_client, user):
    from django.contrib.staticfiles import finders

    response = auth_client.get(URL)

    html = response.content.decode()
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "<style" not in html and not re.search(r"\sstyle\s*=", html)
    assert not re.search(r"\son[a-z]+\s*=", html)
    assert finders.find("portability/report.js")
    css = Path(finders.find("portability/report.css")).read_text()
    assert "@media print" in css and "@page" in css


def test_report_states_figures_for_people(auth_client, user):
    """Steps whole with their unit (not "count"), sleep as h min, blood pressure as 128/82,
    goals without raw floats, booleans or mixed date formats."""
    populate(user)
    html = auth_client.get(URL).content.decode()
    summary = html.split('<table class="summary">')[1].split("</table>")[0]
    assert "count" not in summary
    sleep_row = summary.split('<tr data-type="sleep">')[1].split("</tr>")[0]
    assert re.search(r">\d+ h \d\d min<", sleep_row)
    bp_row = summary.split('<tr data-type="blood_pressure">')[1].split("</tr>")[0]
    assert re.search(r">\d+/\d+ mmHg<", bp_row)
    goals = html.split('<table class="goals">')[1].split("</table>")[0]
    for raw in ("8000.0", "True", "False", "None"):
        assert raw not in goals
    assert not re.search(r"[A-Z][a-z]{2}\. \d", goals)  # "Nov. 5, 2026"
    assert re.search(r"\d{4}-\d\d-\d\d", goals)


def test_report_axis_spans_at_least_the_types_clinical_range():
    """36.4-36.8 °C is drawn on an axis of at least 2 °C, not stretched into a fever swing;
    the blood-pressure legend sits above the plot, not on the lines."""
    points = [(date(2026, 3, 1), 36.4), (date(2026, 3, 2), 36.8)]
    svg = svg_chart("Body temperature", [("T", points)], date(2026, 3, 1), date(2026, 3, 2), span=2)
    labels = [float(v) for v in re.findall(r'text-anchor="end">([\d.]+)</text>', svg)]
    assert max(labels) - min(labels) >= 2
    pressure = svg_chart(
        "Blood pressure",
        [("Systolic", [(date(2026, 3, 1), 130.0)]), ("Diastolic", [(date(2026, 3, 1), 85.0)])],
        date(2026, 3, 1),
        date(2026, 3, 1),
        span=60,
    )
    legend_y = [
        float(y) for y in re.findall(r'class="legend[^"]*" x="[\d.]+" y="([\d.]+)"', pressure)
    ]
    plot_top = min(
        float(y) for y in re.findall(r'<line class="axis" x1="\d+" y1="([\d.]+)"', pressure)
    )
    assert legend_y and max(legend_y) < plot_top


def test_a_period_reaching_today_does_not_count_today_as_a_day(auth_client, user):
    from metrics.services import metric_create
    from tests.goals.factories import at, days_ago, today

    metric_create(user=user, metric_type="steps", value=8000, recorded_at=at(days_ago(1), 10))
    metric_create(user=user, metric_type="steps", value=427, recorded_at=at(today(), 8))
    html = auth_client.get(
        f"/api/v1/export/report?start={days_ago(1).isoformat()}&end={today().isoformat()}"
    ).content.decode()
    steps_row = html.split('<tr data-type="steps">')[1].split("</tr>")[0]
    assert ">8,000 steps<" in steps_row and "427" not in steps_row  # average of one day
    assert "Today is in progress" in html


def test_report_sleep_is_per_night_like_the_sleep_card(auth_client, user):
    """Sleep that starts at 23:00 is the next morning's night, as on the dashboard's card and
    in the care program, not a figure of the day it started."""
    from metrics.services import metric_create
    from tests.goals.factories import at, days_ago

    metric_create(user=user, metric_type="sleep", value=401, recorded_at=at(days_ago(3), 23))
    start, end = days_ago(2), days_ago(1)
    html = auth_client.get(
        f"/api/v1/export/report?start={start.isoformat()}&end={end.isoformat()}"
    ).content.decode()
    row = html.split('<tr data-type="sleep">')[1].split("</tr>")[0]
    assert "Sleep (per night)" in row and ">6 h 41 min<" in row
    assert "Sleep per night" in html
