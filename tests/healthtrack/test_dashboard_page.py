"""The dashboard skeleton: greeting, empty states, and what apps contribute through
`<app>/dashboard.py` (healthtrack.core.dashboard)."""

from __future__ import annotations

import re
from datetime import date

import pytest

from healthtrack import dashboard as dashboard_module
from healthtrack.core.charts import bar_chart
from healthtrack.core.dashboard import CARD_SLOTS, Card, Item, parse_period

pytestmark = pytest.mark.django_db


@pytest.fixture
def contributions(monkeypatch):
    """Replace the discovered app contributors with the ones a test appends."""
    contributors = []
    monkeypatch.setattr(dashboard_module, "_contributors", lambda: contributors)
    return contributors


def test_dashboard_greets_the_user_by_first_name(page_client, user):
    body = page_client.get("/dashboard/").content.decode()
    assert f"Hello, {user.first_name}" in body


def test_without_data_every_slot_is_an_empty_state_and_nothing_is_invented(
    page_client, contributions
):
    response = page_client.get("/dashboard/")
    body = response.content.decode()
    for key, label in CARD_SLOTS:
        assert f'data-card="{key}"' in body
        assert label.replace("'", "&#x27;") in body
    assert body.count("No reading yet") == len(CARD_SLOTS)
    for title in ("No charts yet", "No goals yet", "No recommendations yet"):
        assert title in body
    assert '<svg class="chart-svg"' not in body
    assert 'role="alert"' not in body  # no alert banner without an alert
    values = re.findall(r'<p class="stat-value"[^>]*>(.*?)</p>', body)
    assert values and all(v == "—" for v in values)
    assert 'href="/settings/tokens/"' in body  # what to do next


def test_contributed_cards_charts_goals_recommendations_and_alerts_are_shown(
    page_client, contributions, user
):
    seen = {}

    def contribute(panels, *, user, days):
        seen.update(user=user, days=days)
        panels.cards["steps"] = Card(
            label="Steps today",
            value="8,432",
            unit="steps",
            detail="of 10,000",
            progress_percent=84,
            status="ok",
            status_text="On track",
        )
        panels.charts.append(bar_chart([(date(2026, 3, 1), 8432)], title="Steps", unit="steps"))
        panels.goals.append(Item(title="Walk more", progress_percent=62, status_text="Behind"))
        panels.recommendations.append(
            Item(
                title="Sleep more",
                text="You slept under 7 h on 5 of 7 nights.",
                action_url="/insights/1/ack",
                action_label="Got it",
            )
        )
        panels.alerts.append(Item(title="Very high blood pressure", status="alert"))

    contributions.append(contribute)
    body = page_client.get("/dashboard/?days=30").content.decode()
    assert seen == {"user": user, "days": 30}
    assert "8,432" in body and 'value="84"' in body and "On track" in body
    assert body.count("No reading yet") == len(CARD_SLOTS) - 1
    assert '<svg class="chart-svg"' in body
    assert 'href="?days=30" aria-current="page"' in body
    assert "Walk more" in body and "Behind" in body
    assert "You slept under 7 h" in body and 'action="/insights/1/ack"' in body
    assert 'role="alert"' in body and "Very high blood pressure" in body
    assert "No charts yet" not in body and "No goals yet" not in body


@pytest.mark.parametrize(
    "value, days", [(None, 7), ("30", 30), ("90", 90), ("365", 7), ("x", 7), ("-1", 7)]
)
def test_period_accepts_only_the_offered_choices(value, days):
    assert parse_period(value) == days


def test_dashboard_renders_in_a_bounded_number_of_queries(
    page_client, contributions, django_assert_max_num_queries
):
    with django_assert_max_num_queries(4):  # session, user, the owner check
        assert page_client.get("/dashboard/").status_code == 200
