"""`Idempotency-Key` (or `X-Idempotency-Key`) on the create endpoints: a retry replays the
first answer and writes nothing; the same key with another request is 409."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from goals.models import HealthGoal
from healthtrack.core.api.idempotency import MAX_KEY_LENGTH, idempotency_records_purge
from healthtrack.core.models import IdempotentRequest
from metrics.models import HealthMetric, IdempotencyRecord
from nutrition.models import NutritionLog
from tests.metrics.factories import BASE, DeviceFactory

pytestmark = pytest.mark.django_db

MEAL = {"meal_type": "lunch", "calories": 640, "logged_at": "2026-03-10T12:00:00Z"}
READING = {"metric_type": "heart_rate", "value": 72, "recorded_at": "2026-03-02T10:00:00Z"}
GOAL = {"goal_type": "steps", "target_value": 8000}


def post(client, url, body, **headers):
    return client.post(url, body, format="json", headers=headers)


@pytest.mark.parametrize(
    "url, body, model",
    [
        ("/api/v1/nutrition-logs", MEAL, NutritionLog),
        ("/api/v1/health-metrics", READING, HealthMetric),
        ("/api/v1/health-goals", GOAL, HealthGoal),
    ],
)
def test_a_retry_with_the_same_key_replays_the_first_answer_and_writes_nothing(
    auth_client, url, body, model
):
    first = post(auth_client, url, body, **{"Idempotency-Key": "retry-1"})
    assert first.status_code == 201, first.json()
    assert "Idempotent-Replayed" not in first.headers
    retry = post(auth_client, url, body, **{"Idempotency-Key": "retry-1"})
    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert model.objects.count() == 1


def test_the_same_key_with_another_body_is_409_and_writes_nothing(auth_client):
    post(auth_client, "/api/v1/nutrition-logs", MEAL, **{"Idempotency-Key": "k"})
    other = post(
        auth_client, "/api/v1/nutrition-logs", {**MEAL, "calories": 700}, **{"Idempotency-Key": "k"}
    )
    assert other.status_code == 409
    assert other.json()["detail"] == "This Idempotency-Key was used with a different request."
    assert NutritionLog.objects.count() == 1


def test_the_same_key_on_another_endpoint_is_409(auth_client):
    post(auth_client, "/api/v1/nutrition-logs", MEAL, **{"Idempotency-Key": "k"})
    assert (
        post(auth_client, "/api/v1/health-goals", GOAL, **{"Idempotency-Key": "k"}).status_code
        == 409
    )
    assert HealthGoal.objects.count() == 0


def test_x_idempotency_key_is_an_alias(auth_client):
    first = post(auth_client, "/api/v1/nutrition-logs", MEAL, **{"X-Idempotency-Key": "dev-7"})
    retry = post(auth_client, "/api/v1/nutrition-logs", MEAL, **{"Idempotency-Key": "dev-7"})
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]
    same = post(
        auth_client,
        "/api/v1/nutrition-logs",
        MEAL,
        **{"Idempotency-Key": "dev-7", "X-Idempotency-Key": "dev-7"},
    )
    assert same.headers["Idempotent-Replayed"] == "true"
    assert NutritionLog.objects.count() == 1


def test_both_headers_with_different_values_are_400_and_write_nothing(auth_client):
    response = post(
        auth_client,
        "/api/v1/nutrition-logs",
        MEAL,
        **{"Idempotency-Key": "a", "X-Idempotency-Key": "b"},
    )
    assert response.status_code == 400
    assert "differ" in response.json()["Idempotency-Key"][0]
    assert NutritionLog.objects.count() == 0 and IdempotentRequest.objects.count() == 0


def test_a_key_longer_than_200_characters_is_400(auth_client):
    response = post(auth_client, "/api/v1/nutrition-logs", MEAL, **{"Idempotency-Key": "k" * 201})
    assert response.status_code == 400
    assert NutritionLog.objects.count() == 0


def test_a_refused_request_is_not_stored_so_the_fixed_one_can_reuse_the_key(auth_client):
    bad = post(
        auth_client, "/api/v1/nutrition-logs", {**MEAL, "calories": -5}, **{"Idempotency-Key": "k"}
    )
    assert bad.status_code == 400
    good = post(auth_client, "/api/v1/nutrition-logs", MEAL, **{"Idempotency-Key": "k"})
    assert good.status_code == 201 and "Idempotent-Replayed" not in good.headers
    assert NutritionLog.objects.count() == 1


def test_keys_belong_to_one_user(auth_client, other_client, user, other_user):
    mine = post(auth_client, "/api/v1/nutrition-logs", MEAL, **{"Idempotency-Key": "shared"})
    theirs = post(other_client, "/api/v1/nutrition-logs", MEAL, **{"Idempotency-Key": "shared"})
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["id"] != mine.json()["id"]
    assert NutritionLog.objects.filter(user=user).count() == 1
    assert NutritionLog.objects.filter(user=other_user).count() == 1


def test_a_clinician_cannot_create_for_a_patient_with_or_without_a_key(
    clinician_client, care_team, user
):
    response = post(
        clinician_client,
        f"/api/v1/nutrition-logs?member={user.pk}",
        MEAL,
        **{"Idempotency-Key": "c"},
    )
    assert response.status_code in (403, 404)
    assert NutritionLog.objects.count() == 0 and IdempotentRequest.objects.count() == 0


def test_without_a_key_a_retry_creates_again(auth_client):
    post(auth_client, "/api/v1/nutrition-logs", MEAL)
    post(auth_client, "/api/v1/nutrition-logs", MEAL)
    assert NutritionLog.objects.count() == 2
    assert IdempotentRequest.objects.count() == 0


def test_the_stored_answer_is_encrypted_at_rest(auth_client):
    body = {**READING, "notes": "felt dizzy after the new pills"}
    post(auth_client, "/api/v1/health-metrics", body, **{"Idempotency-Key": "enc"})
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT response FROM {IdempotentRequest._meta.db_table}")
        (raw,) = cursor.fetchone()
    raw = bytes(raw) if not isinstance(raw, str) else raw.encode()
    assert b"dizzy" not in raw


def test_answers_older_than_a_day_are_purged_and_the_key_works_again(auth_client):
    post(auth_client, "/api/v1/nutrition-logs", MEAL, **{"Idempotency-Key": "old"})
    IdempotentRequest.objects.update(created_at=timezone.now() - timedelta(hours=25))
    again = post(auth_client, "/api/v1/nutrition-logs", MEAL, **{"Idempotency-Key": "old"})
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    IdempotentRequest.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert idempotency_records_purge() == 1
    assert NutritionLog.objects.count() == 2


def test_device_sync_takes_the_alias_too(auth_client, user):
    watch = DeviceFactory(user=user)
    url = f"/api/v1/devices/{watch.pk}/sync"
    samples = {
        "samples": [{"metric_type": "heart_rate", "value": 70, "recorded_at": BASE.isoformat()}]
    }
    first = post(auth_client, url, samples, **{"X-Idempotency-Key": "s1"})
    retry = post(auth_client, url, samples, **{"Idempotency-Key": "s1"})
    assert retry.headers["Idempotent-Replayed"] == "true" and retry.json() == first.json()
    both = post(auth_client, url, samples, **{"Idempotency-Key": "s1", "X-Idempotency-Key": "s2"})
    assert both.status_code == 400


def test_one_key_length_for_the_check_the_schema_and_both_stores(auth_client, user):
    assert IdempotentRequest._meta.get_field("key").max_length == MAX_KEY_LENGTH
    assert IdempotencyRecord._meta.get_field("key").max_length == MAX_KEY_LENGTH
    schema = auth_client.get("/api/schema/", {"format": "json"}).json()
    for path in ("/api/v1/nutrition-logs", "/api/v1/devices/{id}/sync"):
        parameters = schema["paths"][path]["post"]["parameters"]
        key = next(p for p in parameters if p["name"] == "Idempotency-Key")
        assert f"up to {MAX_KEY_LENGTH} characters" in key["description"]
        if "maxLength" in key["schema"]:
            assert key["schema"]["maxLength"] == MAX_KEY_LENGTH
    watch = DeviceFactory(user=user)
    url = f"/api/v1/devices/{watch.pk}/sync"
    samples = {
        "samples": [{"metric_type": "heart_rate", "value": 70, "recorded_at": BASE.isoformat()}]
    }
    longest = "k" * MAX_KEY_LENGTH
    assert post(auth_client, url, samples, **{"Idempotency-Key": longest}).status_code == 200
    assert IdempotencyRecord.objects.filter(user=user, key=longest).exists()
    too_long = post(auth_client, url, samples, **{"Idempotency-Key": longest + "k"})
    assert too_long.status_code == 400


def test_the_schema_documents_the_headers_and_the_409_on_create_endpoints(auth_client):
    schema = auth_client.get("/api/schema/", {"format": "json"}).json()
    for path in ("/api/v1/nutrition-logs", "/api/v1/health-metrics", "/api/v1/health-goals"):
        operation = schema["paths"][path]["post"]
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert {"Idempotency-Key", "X-Idempotency-Key"} <= headers
        assert "409" in operation["responses"] and "503" in operation["responses"]


def test_a_browser_client_may_send_the_key_across_origins(api_client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    response = api_client.options(
        "/api/v1/nutrition-logs",
        HTTP_ORIGIN="https://app.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, idempotency-key",
    )
    allowed = response["Access-Control-Allow-Headers"].lower()
    assert "idempotency-key" in allowed and "x-idempotency-key" in allowed


def test_logging_through_the_advice_endpoints_is_idempotent_too(auth_client):
    body = {"amount_liters": 0.25}
    first = post(auth_client, "/api/v1/advice/water", body, **{"Idempotency-Key": "w1"})
    assert first.status_code == 201, first.json()
    retry = post(auth_client, "/api/v1/advice/water", body, **{"Idempotency-Key": "w1"})
    assert retry.headers["Idempotent-Replayed"] == "true" and retry.json() == first.json()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent PostgreSQL writers")
@pytest.mark.parametrize("attempt", range(3))
def test_concurrent_requests_with_one_key_store_one_row_and_answer_alike(user, attempt):
    from rest_framework.test import APIClient

    from tests.healthtrack.concurrency import together

    answers = []

    def send():
        client = APIClient()
        client.force_authenticate(user)
        answers.append(post(client, "/api/v1/nutrition-logs", MEAL, **{"Idempotency-Key": "race"}))

    assert together(send, send, send) == []
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 2
    assert NutritionLog.objects.filter(user=user).count() == 1
