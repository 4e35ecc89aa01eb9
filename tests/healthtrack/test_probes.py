from __future__ import annotations

from unittest import mock

import pytest
from django.db import OperationalError, connection


def test_health_is_ok_without_touching_the_database(client, settings):
    # No django_db mark: pytest-django makes any database access here an error.
    settings.HEALTHTRACK_VERSION = "9.9.9"
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": "9.9.9"}


@pytest.mark.django_db
def test_ready_reports_each_check_with_its_latency(client):
    response = client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {"database", "cache"} <= set(body["checks"])
    for check in body["checks"].values():
        assert check["ok"] is True
        assert check["latency_ms"] >= 0


@pytest.mark.django_db
def test_ready_is_503_when_the_database_is_unreachable(client):
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("down")):
        response = client.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == {
        "ok": False,
        "error": "OperationalError",
        "latency_ms": body["checks"]["database"]["latency_ms"],
    }
    assert body["checks"]["cache"]["ok"] is True


@pytest.mark.django_db
def test_ready_is_503_when_the_cache_is_unreachable(client, settings):
    if settings.REDIS_URL:
        # A real Redis client aimed at a port where nothing listens.
        settings.CACHES = {
            "default": {
                **settings.CACHES["default"],
                "LOCATION": "redis://127.0.0.1:1/0",
            }
        }
    else:
        from django.core.cache import caches

        patcher = mock.patch.object(type(caches["default"]), "get", return_value=None)
        patcher.start()
    try:
        response = client.get("/ready")
    finally:
        if not settings.REDIS_URL:
            patcher.stop()
    assert response.status_code == 503
    assert response.json()["checks"]["cache"]["ok"] is False
    assert response.json()["checks"]["database"]["ok"] is True
