"""Bad bodies, sizes, content types and rate limits on the metrics API."""

from __future__ import annotations

import pytest

from metrics.models import HealthMetric
from tests.metrics.factories import DeviceFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/health-metrics/"


def test_malformed_json_is_400_json(auth_client):
    response = auth_client.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_bare_nan_and_infinity_tokens_are_refused(auth_client, token):
    body = '{"metric_type": "heart_rate", "value": VALUE, "recorded_at": "2026-03-02T10:00:00Z"}'
    body = body.replace("VALUE", token)
    response = auth_client.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert not HealthMetric.objects.exists()


def test_wrong_content_type_is_415(auth_client):
    response = auth_client.post(
        URL, "metric_type=steps&value=1", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert "detail" in response.json()


def test_body_over_the_configured_size_is_a_json_413(auth_client, user, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    device = DeviceFactory(user=user)
    samples = [{"metric_type": "steps", "value": 1, "recorded_at": "2026-03-02T10:00:00Z"}] * 50
    response = auth_client.post(
        f"/api/v1/devices/{device.pk}/sync", {"samples": samples}, format="json"
    )
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "limit" in response.json()["detail"]
    response = auth_client.post(
        URL,
        {
            "metric_type": "steps",
            "value": 1,
            "recorded_at": "2026-03-02T10:00:00Z",
            "notes": "x" * 2000,
        },
        format="json",
    )
    assert response.status_code == 413
    assert not HealthMetric.objects.exists()


def test_over_the_rate_limit_is_429_with_retry_after(auth_client, settings):
    settings.RATELIMIT_ENABLE = True
    settings.API_THROTTLE_RATES = {"ip_minute": "600/min", "ip_burst": "3/s"}
    codes = [auth_client.get(URL).status_code for _ in range(4)]
    assert codes[:3] == [200, 200, 200]
    assert codes[3] == 429
    response = auth_client.get(URL)
    assert int(response["Retry-After"]) >= 1
