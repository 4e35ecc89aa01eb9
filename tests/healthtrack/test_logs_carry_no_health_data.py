"""A full request cycle with health data, captured at DEBUG: no value, password or token in
any log record; every request's id and access line are there."""

from __future__ import annotations

import pytest

from accounts.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "Plum-Orchard-71!"
HISTORY = "asthma-since-childhood-zq81"
NEW_HISTORY = "type-2-diabetes-metformin-vk47"
DOB = "1979-11-23"
# Three decimals: a duration_ms (two decimals) can never contain one of these by chance.
HEIGHT = 171.937
NEW_HEIGHT = 168.473
MEAL = "lentil-soup-with-feta-xw55"
CALORIES = 733.319
PROTEIN = 141.713  # not "ss.mmm" either (the time field)
SECRET_QUERY = "needle-in-query-bb12"


def test_a_request_cycle_with_health_data_logs_none_of_it(api_client, json_logs, security_counts):
    ids = iter(f"req-cycle-{n:04d}" for n in range(100))
    sent_ids = []

    def rid() -> dict:
        sent_ids.append(next(ids))
        return {"HTTP_X_REQUEST_ID": sent_ids[-1]}

    registered = api_client.post(
        "/api/v1/users/register",
        {
            "email": "leak-test@example.org",
            "username": "leaktest",
            "password": PASSWORD,
            "date_of_birth": DOB,
            "sex": "female",
            "height_cm": HEIGHT,
            "medical_history": HISTORY,
        },
        format="json",
        **rid(),
    )
    assert registered.status_code == 202, registered.json()
    user = User.objects.get(username="leaktest")

    wrong = api_client.post(
        "/api/v1/auth/token/",
        {"username": "leaktest", "password": PASSWORD + "x"},
        format="json",
        **rid(),
    )
    assert wrong.status_code == 401
    pair = api_client.post(
        "/api/v1/auth/token/",
        {"username": "leaktest", "password": PASSWORD},
        format="json",
        **rid(),
    ).json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")

    patched = api_client.patch(
        f"/api/v1/users/{user.pk}",
        {"height_cm": NEW_HEIGHT, "medical_history": NEW_HISTORY},
        format="json",
        **rid(),
    )
    assert patched.status_code == 200, patched.json()
    logged = api_client.post(
        "/api/v1/nutrition-logs",
        {
            "meal_type": "dinner",
            "description": MEAL,
            "calories": CALORIES,
            "protein_g": PROTEIN,
            "logged_at": "2026-03-10T19:30:00Z",
        },
        format="json",
        **rid(),
    )
    assert logged.status_code == 201, logged.json()
    refused = api_client.post(
        "/api/v1/nutrition-logs",
        {"meal_type": "dinner", "description": MEAL, "calories": 98765.4321},
        format="json",
        **rid(),
    )
    assert refused.status_code == 400
    assert api_client.get(f"/api/v1/users/{user.pk}?q={SECRET_QUERY}", **rid()).status_code == 200
    assert (
        api_client.get(f"/api/v1/nutrition-logs/{logged.json()['id']}", **rid()).status_code == 200
    )
    assert api_client.get("/api/v1/users/999999", **rid()).status_code == 404
    refreshed = api_client.post(
        "/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json", **rid()
    ).json()
    assert (
        api_client.post(
            "/api/v1/auth/token/revoke/", {"refresh": refreshed["refresh"]}, format="json", **rid()
        ).status_code
        == 205
    )

    text = json_logs.text()
    secrets = {
        "password": PASSWORD,
        "access token": pair["access"],
        "refresh token": pair["refresh"],
        "rotated refresh token": refreshed["refresh"],
        "rotated access token": refreshed["access"],
        "medical history": HISTORY,
        "new medical history": NEW_HISTORY,
        "date of birth": DOB,
        "height": str(HEIGHT),
        "new height": str(NEW_HEIGHT),
        "meal description": MEAL,
        "calories": str(CALORIES),
        "protein": str(PROTEIN),
        "refused calories": "98765.4321",
        "query string": SECRET_QUERY,
    }
    leaked = [name for name, value in secrets.items() if value in text]
    assert leaked == []
    security_counts["secret values checked absent from logs"] += len(secrets)
    security_counts["log records checked"] += len(json_logs.records)

    access = json_logs.entries("healthtrack.access")
    assert [e["request_id"] for e in access] == sent_ids
    for entry in access:
        assert set(entry) >= {"time", "level", "message", "method", "path", "status"}
        assert "?" not in entry["path"]
    by_id = {e["request_id"]: e for e in access}
    assert by_id["req-cycle-0004"]["user_id"] == user.pk  # the nutrition log, JWT
    assert "user_id" not in by_id["req-cycle-0000"]  # registration: anonymous
    # Django's own warnings (the 400 and the 404) carry the id of their request too.
    warnings = json_logs.entries("django.request")
    assert {e["request_id"] for e in warnings} >= {"req-cycle-0005", "req-cycle-0008"}
