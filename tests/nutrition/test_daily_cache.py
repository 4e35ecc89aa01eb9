"""The daily totals (`GET /nutrition-logs/daily`) answered from the rendered bytes kept per
viewer, owner, parameters and the owner's daily version (accounts.api.readcache, issue 15):
the same bytes as computed; dropped after the commit of every write to what they are
computed from (the diary through the API, the services and the admin's paths; the person's
targets, profile and weight); anyone else's read checked and audited on every request; an
outsider 404 before anything is looked up."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.api import readcache
from accounts.models import AccessLog
from metrics import services as metric_services
from nutrition import services
from tests.nutrition.factories import NutritionLogFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/nutrition-logs/daily"


def today_at(hour: int) -> datetime:
    return timezone.now().astimezone(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)


def read(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response


def calories_today(client, **params) -> float:
    return read(client, **params).json()["days"][-1]["calories"]


def test_a_repeated_own_read_is_the_same_bytes_without_a_statement(auth_client, user):
    NutritionLogFactory(user=user, logged_at=today_at(8), calories=420)
    first = read(auth_client)
    with CaptureQueriesContext(connection) as queries:
        again = read(auth_client)
    assert again.content == first.content
    assert again["Content-Type"] == first["Content-Type"] == "application/json"
    assert queries.captured_queries == []
    assert first.json()["days"][-1]["calories"] == 420


def test_other_parameters_are_another_answer(auth_client, user):
    NutritionLogFactory(user=user, logged_at=today_at(8), calories=420)
    week = read(auth_client).json()
    today = timezone.now().astimezone(UTC).date().isoformat()
    one_day = read(auth_client, start=today, end=today).json()
    assert len(week["days"]) == 7 and len(one_day["days"]) == 1
    assert one_day["days"][0]["calories"] == 420


def test_logging_a_meal_through_the_api_shows_at_once(
    auth_client, user, django_capture_on_commit_callbacks
):
    assert calories_today(auth_client) == 0
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(
            "/api/v1/nutrition-logs",
            {"meal_type": "lunch", "calories": 640, "logged_at": today_at(12).isoformat()},
            format="json",
        )
    assert response.status_code == 201
    assert calories_today(auth_client) == 640


def test_changing_and_deleting_an_entry_show_at_once(
    auth_client, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        log = services.nutrition_log_create(
            user=user, meal_type="lunch", calories=500, logged_at=today_at(12)
        )
    assert calories_today(auth_client) == 500
    with django_capture_on_commit_callbacks(execute=True):
        services.nutrition_log_update(log=log, calories=300)
    assert calories_today(auth_client) == 300
    with django_capture_on_commit_callbacks(execute=True):
        services.nutrition_log_delete(log=log)
    assert calories_today(auth_client) == 0


def test_a_write_that_rolls_back_keeps_the_answer_and_a_commit_drops_it_only_then(
    auth_client, user, django_capture_on_commit_callbacks
):
    first = read(auth_client).content
    with django_capture_on_commit_callbacks(execute=False) as pending:
        services.nutrition_log_create(
            user=user, meal_type="lunch", calories=500, logged_at=today_at(12)
        )
    # Not committed yet: the version stands (a read now could not see the entry anyway).
    assert read(auth_client).content == first
    for callback in pending:
        callback()
    assert calories_today(auth_client) == 500


def test_own_targets_profile_and_weight_change_the_answer(
    auth_client, user, django_capture_on_commit_callbacks
):
    user.date_of_birth = datetime(1980, 5, 1).date()
    user.sex = "female"
    user.height_cm = 165
    user.save()
    assert read(auth_client).json()["targets"]["calories"] is None  # no weight yet

    with django_capture_on_commit_callbacks(execute=True):
        metric_services.metric_create(
            user=user, metric_type="weight", value=70, recorded_at=timezone.now()
        )
    targets = read(auth_client).json()["targets"]
    assert targets["basis"]["weight_kg"] == 70
    calculated = targets["calories"]

    with django_capture_on_commit_callbacks(execute=True):
        user.height_cm = 180
        user.save(update_fields=["height_cm"])
    assert read(auth_client).json()["targets"]["calories"] > calculated

    with django_capture_on_commit_callbacks(execute=True):
        services.nutrition_targets_set(user=user, calories=2100, protein_g=None, water_ml=None)
    assert read(auth_client).json()["targets"]["calories"] == 2100


def test_a_reading_of_another_type_keeps_the_answer(
    auth_client, user, django_capture_on_commit_callbacks
):
    first = read(auth_client)
    with django_capture_on_commit_callbacks(execute=True):
        metric_services.metric_create(
            user=user, metric_type="heart_rate", value=61, recorded_at=timezone.now()
        )
    with CaptureQueriesContext(connection) as queries:
        assert read(auth_client).content == first.content
    assert queries.captured_queries == []


def test_a_login_keeps_the_answer(auth_client, user, django_capture_on_commit_callbacks):
    first = read(auth_client).content
    with django_capture_on_commit_callbacks(execute=True):
        user.last_login = timezone.now()
        user.save(update_fields=["last_login"])
    with CaptureQueriesContext(connection) as queries:
        assert read(auth_client).content == first
    assert queries.captured_queries == []


def test_a_clinicians_reads_are_audited_hit_or_miss(
    clinician_client, care_team, user, django_capture_on_commit_callbacks
):
    NutritionLogFactory(user=user, logged_at=today_at(8), calories=420)
    before = AccessLog.objects.filter(owner=user).count()
    first = read(clinician_client, user_id=user.pk)
    again = read(clinician_client, user_id=user.pk)
    assert again.content == first.content
    assert AccessLog.objects.filter(owner=user).count() == before + 2
    with django_capture_on_commit_callbacks(execute=True):
        services.nutrition_log_create(
            user=user, meal_type="lunch", calories=100, logged_at=today_at(12)
        )
    assert calories_today(clinician_client, user_id=user.pk) == 520


def test_an_outsider_is_404_even_when_the_owners_answer_is_cached(auth_client, user, other_client):
    read(auth_client)
    read(auth_client, user_id=user.pk)
    response = other_client.get(URL, {"user_id": user.pk})
    assert response.status_code == 404


def test_the_answer_is_kept_until_the_owners_midnight_at_most(auth_client, user, monkeypatch):
    """The default window ends today: at midnight it is another answer for the same URL."""
    kept = []
    monkeypatch.setattr(readcache, "store", lambda found, body: kept.append(found.entry.ttl))
    with time_machine.travel(datetime(2026, 3, 10, 23, 58, 30, tzinfo=UTC), tick=False):
        read(auth_client)
    user.time_zone = "Asia/Tokyo"  # 08:58:30 on the 11th there
    user.save(update_fields=["time_zone"])
    with time_machine.travel(datetime(2026, 3, 10, 23, 58, 30, tzinfo=UTC), tick=False):
        read(auth_client)
    assert kept == [90, services.DAILY_CACHE_TTL]
