"""The diary's days are the owner's local days (`healthtrack.core.days`): pages, forms and the
API."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, time, timedelta

import pytest
from django.test import Client

from healthtrack.core import days
from nutrition.models import NutritionLog
from nutrition.services import nutrition_log_create

pytestmark = pytest.mark.django_db

LA = zoneinfo.ZoneInfo("America/Los_Angeles")


@pytest.fixture
def angeleno(user):
    user.time_zone = "America/Los_Angeles"
    user.save(update_fields=["time_zone"])
    return user


def late_last_night(user):
    """23:30 yesterday in Los Angeles: already today in UTC."""
    yesterday = days.today(user) - timedelta(days=1)
    at = datetime.combine(yesterday, time(23, 30), tzinfo=LA).astimezone(UTC)
    assert at.date() == yesterday + timedelta(days=1)
    return yesterday, nutrition_log_create(user=user, meal_type="drink", logged_at=at, water_ml=300)


def test_the_api_lists_and_totals_an_entry_on_its_local_day(auth_client, angeleno):
    yesterday, log = late_last_night(angeleno)
    assert log.day == yesterday
    day = yesterday.isoformat()
    listed = auth_client.get(f"/api/v1/nutrition-logs?start={day}&end={day}").json()
    assert [row["id"] for row in listed["results"]] == [log.pk]
    body = auth_client.get("/api/v1/nutrition-logs/daily").json()
    assert body["end"] == days.today(angeleno).isoformat()  # their today by default
    assert {d["date"]: d["water_ml"] for d in body["days"] if d["water_ml"]} == {day: 300}


def test_the_diary_page_shows_and_takes_times_in_the_owners_zone(angeleno):
    yesterday, _ = late_last_night(angeleno)
    page = Client()
    page.force_login(angeleno)
    html = page.get(f"/nutrition/{yesterday.isoformat()}/").content.decode()
    assert ">23:30</time>" in html and "America/Los_Angeles" in html
    response = page.post(
        f"/nutrition/{yesterday.isoformat()}/add/custom/",
        {"meal_type": "snack", "description": "Toast", "calories": "120", "time": "23:45"},
    )
    assert response.status_code == 302
    toast = NutritionLog.objects.get(user=angeleno, calories=120)
    assert toast.logged_at == datetime.combine(yesterday, time(23, 45), tzinfo=LA)
