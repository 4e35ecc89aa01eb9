"""Insights pages: history with read / acknowledged state, acknowledge and mark read, and the
dashboard's quick log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from insights.models import HealthInsight
from metrics.models import HealthMetric
from nutrition.models import NutritionLog
from tests.insights.factories import AlertFactory, HealthInsightFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/insights/", "/insights/1/acknowledge/", "/quick-log/water/"])
def test_logged_out_visitors_are_sent_to_log_in(client, url):
    response = client.post(url) if "insights/" not in url or "ack" in url else client.get(url)
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_history_shows_your_insights_with_their_state(page_client, user, other_user):
    HealthInsightFactory(user=user, title="Walk a little more", is_read=False)
    HealthInsightFactory(
        user=user,
        title="Sleep longer",
        is_read=True,
        acknowledged_at=timezone.now(),
        superseded_at=timezone.now(),
    )
    AlertFactory(user=user, title="Very high blood pressure")
    HealthInsightFactory(user=other_user, title="Their advice")
    body = page_client.get("/insights/").content.decode()
    assert "Walk a little more" in body and "Sleep longer" in body
    assert "Very high blood pressure" in body and "Their advice" not in body
    assert "New" in body and "Acknowledged" in body and "Replaced by newer advice" in body
    alerts = page_client.get("/insights/?kind=alert")
    assert [i.title for i in alerts.context["page"].object_list] == ["Very high blood pressure"]


def test_no_insights_says_what_to_do(page_client):
    body = page_client.get("/insights/").content.decode()
    assert "No insights yet" in body and 'href="/metrics/"' in body


def test_acknowledging_marks_read_and_returns_where_you_were(page_client, user):
    insight = HealthInsightFactory(user=user)
    response = page_client.post(
        f"/insights/{insight.pk}/acknowledge/", {"next": "/dashboard/?days=30"}
    )
    assert response.status_code == 302 and response.url == "/dashboard/?days=30"
    insight.refresh_from_db()
    assert insight.is_read and insight.acknowledged_at is not None
    assert page_client.get(f"/insights/{insight.pk}/acknowledge/").status_code == 405


def test_an_outside_next_address_is_ignored(page_client, user):
    insight = HealthInsightFactory(user=user)
    response = page_client.post(f"/insights/{insight.pk}/read/", {"next": "https://evil.example/"})
    assert response.url == "/insights/"
    insight.refresh_from_db()
    assert insight.is_read and insight.acknowledged_at is None


def test_someone_elses_insight_is_404(page_client, other_user):
    insight = HealthInsightFactory(user=other_user)
    assert page_client.post(f"/insights/{insight.pk}/acknowledge/").status_code == 404
    assert page_client.post(f"/insights/{insight.pk}/read/").status_code == 404
    insight.refresh_from_db()
    assert not insight.is_read and insight.acknowledged_at is None


def test_quick_log_water_shows_what_was_logged_and_the_advice_line(page_client, user):
    response = page_client.post("/quick-log/water/", {"amount_ml": "250"}, follow=True)
    assert response.redirect_chain[-1][0] == "/dashboard/"
    body = response.content.decode()
    assert "250 ml of water logged." in body
    assert "message-advice" in body and "Advice:" in body
    assert "L to go today" in body or "target is reached" in body or "short of your" in body
    water = NutritionLog.objects.get(user=user)
    assert (water.water_ml, water.meal_type) == (250, "drink")


def test_quick_log_workout_and_food_use_the_advice_services(page_client, user):
    response = page_client.post(
        "/quick-log/gym/", {"activity": "Cycling", "minutes": "45"}, follow=True
    )
    body = response.content.decode()
    assert "Cycling of 45 minutes logged." in body and "Advice:" in body
    assert "45 min of cycling logged" in body  # the advice line names it
    workout = HealthMetric.objects.get(user=user, metric_type="exercise")
    assert workout.value == 45 and workout.end_at - workout.recorded_at == timedelta(minutes=45)
    response = page_client.post("/quick-log/food/", {"food": "an apple"}, follow=True)
    body = response.content.decode()
    assert "Apples, raw, with skin logged" in body or "logged (" in body
    assert "Advice:" in body
    snack = NutritionLog.objects.get(user=user)
    assert snack.food is not None and snack.grams == 100
    page_client.post("/quick-log/food/", {"food": "Grandma's cake", "calories": "320"})
    assert NutritionLog.objects.filter(user=user, calories=320, food=None).exists()


def test_quick_log_errors_are_shown_and_nothing_is_written(page_client, user):
    response = page_client.post("/quick-log/gym/", {"minutes": "5000"})
    assert response.status_code == 400
    assert "Outside the plausible range for exercise" in response.content.decode()
    response = page_client.post("/quick-log/food/", {"food": "zzqx stew"}, follow=True)
    assert "give calories to log it as your own entry" in response.content.decode()
    response = page_client.post("/quick-log/food/", {}, follow=True)
    assert "Say what you ate" in response.content.decode()
    assert page_client.post("/quick-log/coffee/", {}).status_code == 404
    assert not HealthMetric.objects.filter(user=user).exists()
    assert not NutritionLog.objects.filter(user=user).exists()


def test_every_insight_kind_can_be_listed(page_client, user):
    HealthInsightFactory(
        user=user, kind=HealthInsight.Kind.CLINICIAN_NOTE, title="Call me", insight_type="note"
    )
    response = page_client.get("/insights/?kind=clinician_note")
    assert [i.title for i in response.context["page"].object_list] == ["Call me"]
    assert page_client.get("/insights/?kind=bogus").context["kind"] == ""
