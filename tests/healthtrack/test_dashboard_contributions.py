"""The dashboard filled by the data apps (metrics, nutrition, insights): today's cards, the
period charts from the rollups, recommendations, alerts, quick log, and a bounded number of
queries whatever the period and the amount of data."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from metrics import services as metric_services
from nutrition import services as nutrition_services
from tests.insights.factories import AlertFactory, HealthInsightFactory

pytestmark = pytest.mark.django_db


def today_at(hour: int, minute: int = 0) -> datetime:
    day = timezone.now().astimezone(UTC).date()
    at = datetime.combine(day, time(hour, minute), tzinfo=UTC)
    return min(at, timezone.now() - timedelta(minutes=5))


def fill(user, *, days: int = 3, bp=(122, 78)) -> None:
    now = timezone.now()
    for back in range(days):
        at = now - timedelta(days=back, minutes=10)
        metric_services.metric_create(
            user=user, metric_type="steps", value=4000 + back, recorded_at=at
        )
        metric_services.metric_create(
            user=user, metric_type="resting_heart_rate", value=61, recorded_at=at
        )
        metric_services.metric_create(
            user=user, metric_type="weight", value=70 + back, recorded_at=at
        )
        metric_services.metric_create(
            user=user, metric_type="blood_pressure_systolic", value=bp[0], recorded_at=at
        )
        metric_services.metric_create(
            user=user, metric_type="blood_pressure_diastolic", value=bp[1], recorded_at=at
        )
        metric_services.metric_create(user=user, metric_type="heart_rate", value=70, recorded_at=at)
    midnight = datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)
    metric_services.metric_create(
        user=user,
        metric_type="sleep",
        value=450,
        recorded_at=midnight - timedelta(hours=1),
        end_at=midnight + timedelta(hours=6, minutes=30),
    )
    nutrition_services.nutrition_log_create(
        user=user, meal_type="lunch", calories=650, logged_at=today_at(0, 30)
    )
    nutrition_services.nutrition_log_create(
        user=user, meal_type="drink", water_ml=750, logged_at=today_at(0, 30)
    )


def test_todays_cards_show_the_latest_readings(page_client, user):
    fill(user)
    response = page_client.get("/dashboard/")
    cards = response.context["panels"].cards
    assert cards["steps"].value == "4,000"
    assert cards["sleep"].value == "7 h 30 min"
    assert (cards["resting_heart_rate"].value, cards["resting_heart_rate"].status_text) == (
        "61",
        "In range",
    )
    assert cards["weight"].value == "70.0"
    assert (cards["blood_pressure"].value, cards["blood_pressure"].status_text) == (
        "122/78",
        "In range",
    )
    assert cards["calories"].value == "650"
    assert cards["water"].value == "750" and "of 2,000 ml target (38%)" in cards["water"].detail
    body = response.content.decode()
    assert "No reading yet" not in body


def test_the_charts_cover_the_chosen_period(page_client, user):
    fill(user)
    for days in (7, 30, 90):
        response = page_client.get(f"/dashboard/?days={days}")
        charts = response.context["panels"].charts
        assert [c.title for c in charts] == [
            "Steps",
            "Resting heart rate",
            "Weight",
            "Blood pressure",
            "Sleep",
        ]
        assert all(not c.is_empty for c in charts)
        assert f"{days} days" in charts[0].summary or "days with data" in charts[0].summary
        assert response.content.decode().count('<svg class="chart-svg"') == 5


def test_a_very_high_blood_pressure_card_says_so_in_words(page_client, user):
    fill(user, days=1, bp=(185, 110))
    card = page_client.get("/dashboard/").context["panels"].cards["blood_pressure"]
    assert (card.status, card.status_text) == ("alert", "Very high")


def test_the_top_five_unacknowledged_recommendations_are_shown_with_their_reasoning(
    page_client, user, other_user
):
    for rank in range(1, 7):
        HealthInsightFactory(
            user=user, rank=rank, title=f"Advice {rank}", message=f"Because {rank}"
        )
    HealthInsightFactory(user=user, rank=0, title="Done already", acknowledged_at=timezone.now())
    HealthInsightFactory(user=other_user, rank=1, title="Theirs")
    response = page_client.get("/dashboard/")
    recs = response.context["panels"].recommendations
    assert [r.title for r in recs] == [f"Advice {n}" for n in range(1, 6)]
    body = response.content.decode()
    assert "Because 1" in body and "Theirs" not in body and "Done already" not in body
    assert f'action="{recs[0].action_url}"' in body and 'name="next"' in body


def test_an_active_alert_is_a_prominent_banner_until_acknowledged(page_client, user):
    alert = AlertFactory(user=user, title="Very high blood pressure", message="182/121 mmHg")
    AlertFactory(user=user, title="An old one", created_at=timezone.now() - timedelta(days=40))
    body = page_client.get("/dashboard/").content.decode()
    assert 'role="alert"' in body and "Very high blood pressure" in body
    assert "An old one" not in body
    page_client.post(f"/insights/{alert.pk}/acknowledge/", {"next": "/dashboard/"})
    assert 'class="alert-banner' not in page_client.get("/dashboard/").content.decode()


def test_quick_log_forms_are_on_the_dashboard(page_client):
    body = page_client.get("/dashboard/").content.decode()
    assert 'action="/quick-log/water/"' in body and 'name="amount_ml" value="250"' in body
    assert 'action="/quick-log/gym/"' in body and 'action="/quick-log/food/"' in body


def _count(page_client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert page_client.get(url).status_code == 200
    return len(queries)


def test_the_dashboard_takes_a_bounded_number_of_queries(
    page_client, user, django_assert_max_num_queries
):
    fill(user, days=10)
    for rank in range(1, 6):
        HealthInsightFactory(user=user, rank=rank)
    AlertFactory(user=user)
    with django_assert_max_num_queries(16):
        assert page_client.get("/dashboard/?days=90").status_code == 200
    # The same number for any period and any amount of data.
    counts = {_count(page_client, f"/dashboard/?days={d}") for d in (7, 30, 90)}
    fill(user, days=20)
    counts.add(_count(page_client, "/dashboard/?days=90"))
    assert len(counts) == 1
