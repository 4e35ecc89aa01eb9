"""Replica routing: safe API reads go to a replica, a user who just wrote reads the primary."""

from __future__ import annotations

import pytest
from django.db import connections
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from healthtrack.dbrouter import ReplicaRouter, _current, _RequestRouting, pin_to_primary
from tests.accounts.factories import PASSWORD, UserFactory

router = ReplicaRouter()
factory = RequestFactory()


@pytest.fixture
def one_replica(settings):
    settings.DATABASE_REPLICAS = ["replica0"]


def route_read(request) -> str | None:
    token = _current.set(_RequestRouting(request=request, replica_allowed=True))
    try:
        return router.db_for_read(User)
    finally:
        _current.reset(token)


def test_without_replicas_reads_use_the_default_database(settings):
    settings.DATABASE_REPLICAS = []
    assert route_read(factory.get("/api/v1/users/me")) is None


def test_outside_a_request_reads_use_the_primary(one_replica):
    assert router.db_for_read(User) is None
    assert router.db_for_write(User) == "default"


def test_safe_api_read_goes_to_a_replica(one_replica):
    assert route_read(factory.get("/api/v1/users/me")) == "replica0"


@pytest.mark.django_db(transaction=True)  # outside a test transaction, as in a real request
def test_a_user_who_just_wrote_reads_the_primary_even_to_authenticate(one_replica):
    user = UserFactory()
    token = str(AccessToken.for_user(user))
    request = factory.get("/api/v1/users/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert route_read(request) == "replica0"
    pin_to_primary(user.pk)
    request = factory.get("/api/v1/users/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert route_read(request) == "default"


def test_a_malformed_bearer_token_still_routes(one_replica):
    request = factory.get("/api/v1/users/me", HTTP_AUTHORIZATION="Bearer not-a-jwt")
    assert route_read(request) == "replica0"


@pytest.mark.django_db
def test_reads_inside_a_transaction_on_the_primary_stay_there(one_replica):
    # pytest-django's db fixture wraps the test in a transaction on "default".
    assert route_read(factory.get("/api/v1/users/me")) == "default"


def test_only_the_primary_is_migrated():
    assert router.allow_migrate("default", "metrics")
    assert not router.allow_migrate("replica0", "metrics")


needs_replica_alias = pytest.mark.skipif(
    "replica0" not in connections.databases,
    reason="needs DATABASE_REPLICA_URLS (make test-replicas sets it)",
)


@needs_replica_alias
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_api_reads_hit_the_replica_alias_until_the_user_writes(api_client):
    user = UserFactory()
    tokens = api_client.post(
        "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
    ).json()
    auth_client = APIClient(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    with CaptureQueriesContext(connections["replica0"]) as on_replica:
        assert auth_client.get("/api/v1/users/me").status_code == 200
    assert any("accounts_user" in q["sql"] for q in on_replica.captured_queries)

    assert (
        auth_client.patch(f"/api/v1/users/{user.pk}", {"height_cm": 172}, format="json").status_code
        == 200
    )
    with (
        CaptureQueriesContext(connections["replica0"]) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_primary,
    ):
        assert auth_client.get(f"/api/v1/users/{user.pk}").json()["height_cm"] == 172
    assert on_replica.captured_queries == []
    assert any("accounts_user" in q["sql"] for q in on_primary.captured_queries)
