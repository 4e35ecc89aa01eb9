"""The dashboard's care-program card (goals/dashboard.py): today's adherence ring with the
per-target breakdown and a strip of up to 90 days, one cell per day, "no data" distinct from
0, checked against a worked example."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from goals.care_programs import programs
from goals.care_programs.models import ProgramAdherence
from goals.dashboard import program_breakdown
from nutrition import services as nutrition_services
from tests.accounts.family_factories import make_dependent
from tests.goals.factories import at, days_ago, measure, today

pytestmark = pytest.mark.django_db

CONFIG = {
    "activity": {"steps": {"min": 8000}},
    "nutrition": {"calories": {"min": 1600, "max": 2000}},
}


def eat(user, day, calories):
    return nutrition_services.nutrition_log_create(
        user=user, meal_type="lunch", logged_at=at(day, 0), calories=calories
    )


def worked_example(user, clinician=None):
    """Three program days: two days ago nothing; yesterday 4,000 steps and no meal (steps 50,
    calories no data: score 50); today 8,000 steps and 1,800 kcal (both met: 100)."""
    measure(user, "steps", 4000, days_ago(1), hour=0)
    measure(user, "steps", 8000, today(), hour=0)
    eat(user, today(), 1800)
    return programs.program_create(
        user=user,
        created_by=clinician or user,
        title="Move and eat well",
        config=CONFIG,
        start_date=days_ago(2),
        phase="Phase 1",
    )


def cells(body: str) -> list[tuple[str, str]]:
    """(level, tooltip) of every strip cell, in order."""
    return re.findall(
        r'<rect class="chart-cell chart-score-(\w+)"[^>]*><title>([^<]*)</title>', body
    )


def test_the_adherence_table_is_the_worked_example(user):
    program = worked_example(user)
    scores = dict(ProgramAdherence.objects.filter(program=program).values_list("day", "score"))
    assert scores == {days_ago(1): 50, today(): 100}


def test_card_shows_todays_ring_breakdown_and_the_90_day_strip(page_client, user, clinician):
    program = worked_example(user, clinician)
    body = page_client.get("/dashboard/").content.decode()
    assert "Care program: Move and eat well" in body
    assert f"Day 3 of 90 · Phase 1 · set by {clinician.get_full_name()}" in body
    # Today's ring: 100, "good", and the breakdown behind it.
    ring = re.search(r'class="chart-ring-value chart-score-(\w+)"[^>]*/>.*?>(\d+)</text>', body)
    assert ring.groups() == ("good", "100")
    assert (
        '<tr><th scope="row">Steps</th><td>8,000 steps (target at least 8,000 steps)</td>'
        '<td class="num">100</td></tr>'
    ) in body
    assert (
        '<tr><th scope="row">Calories</th><td>1,800 kcal (target 1,600–2,000 kcal)</td>'
        '<td class="num">100</td></tr>'
    ) in body
    # The strip: one cell per program day up to 90, from the start date.
    strip = cells(body)
    assert len(strip) == 90
    start = program.start_date
    label = lambda day: f"{day.day} {day:%b}"  # noqa: E731
    assert strip[0] == ("none", f"{label(start)}: no data")  # no data is not 0
    assert strip[1] == ("fair", f"{label(start + timedelta(days=1))}: 50")
    # Today is in progress: shown as partial, never coloured or averaged as a finished day.
    assert strip[2] == ("partial", f"{label(start + timedelta(days=2))}: in progress, 100 so far")
    assert strip[3] == ("upcoming", f"{label(start + timedelta(days=3))}: upcoming")
    assert {level for level, _ in strip[3:]} == {"upcoming"}
    assert "1 of 2 days so far have a score; average 50 out of 100." in body
    assert "Today is in progress: it is scored once it is over." in body
    assert "Today so far (in progress)" in body


def test_a_day_without_data_is_no_score_on_the_card_not_zero(page_client, user):
    programs.program_create(
        user=user, created_by=user, title="Walk", config=CONFIG, start_date=days_ago(1)
    )
    body = page_client.get("/dashboard/").content.decode()
    assert "No data yet today" in body
    assert "chart-ring-value" not in body  # no ring drawn at 0
    assert '<td class="num">no data</td>' in body
    assert [level for level, _ in cells(body)[:2]] == ["none", "partial"]
    assert "The one day so far has no data yet." in body


def test_a_low_day_is_coloured_low(user):
    rows = program_breakdown(
        {"steps": {"min": 8000.0, "value": 2000.0, "score": 25.0}, "minutes": {"min": 420}}
    )
    assert rows == [
        ("Steps", "2,000 steps (target at least 8,000 steps)", "25"),
        ("Sleep", "no data (target at least 7.0 h)", "no data"),
    ]


def test_no_active_program_no_card(page_client, user):
    program = worked_example(user)
    programs.program_update(program=program, status="completed")
    assert "Care program" not in page_client.get("/dashboard/").content.decode()


def test_the_card_follows_the_member_switcher(page_client, user):
    child = make_dependent(user, first_name="Ada")
    worked_example(child)
    assert "Care program" not in page_client.get("/dashboard/").content.decode()
    body = page_client.get(f"/dashboard/?member={child.pk}").content.decode()
    assert "Care program: Move and eat well" in body
    assert len(cells(body)) == 90
