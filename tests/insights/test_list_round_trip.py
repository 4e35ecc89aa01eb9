"""The goals and insights lists read the rate limits and the JWT user in one Redis round trip
(with Bearer JWTs as clients send them, on a real Redis): every request still counts towards
the limits, a revoked token is 401, and a clinician's read is still checked and logged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.test import override_settings

from accounts import credentials
from accounts.models import AccessLog
from tests.goals.factories import HealthGoalFactory
from tests.healthtrack.test_degraded_services import redis_cache
from tests.healthtrack.test_readcache import bearer, sent_commands
from tests.insights.factories import HealthInsightFactory

pytestmark = pytest.mark.django_db

GOALS = "/api/v1/health-goals"
INSIGHTS = "/api/v1/health-insights"


@pytest.fixture
def on_redis(redis_server):
    with override_settings(CACHES=redis_cache(redis_server.url)):
        cache.clear()
        yield
        cache.clear()


@pytest.fixture
def rows(user):
    HealthGoalFactory(user=user)
    HealthInsightFactory(user=user)


@pytest.mark.parametrize("url", [GOALS, INSIGHTS])
def test_a_list_takes_one_redis_round_trip(on_redis, user, rows, url, monkeypatch):
    client = bearer(user)
    first = client.get(url)  # caches the JWT user entry
    assert first.status_code == 200 and len(first.json()["results"]) == 1
    writes: list = []
    with monkeypatch.context() as patch:
        sent_commands(patch, writes)
        response = client.get(url)
    assert response.json() == first.json()
    # One write to the socket: both lists are cached answers (the body read by a plain GET
    # sent with the Lua call).
    assert writes == [[b"GET", b"EVALSHA"]], writes


def test_the_lists_count_towards_the_rate_limit(on_redis, user, rows, limits):
    client = bearer(user)
    assert [client.get(url).status_code for url in (GOALS, INSIGHTS, GOALS)] == [200] * 3
    refused = client.get(INSIGHTS)
    assert refused.status_code == 429 and refused["Retry-After"] == "60"
    limits[0] += 61
    assert client.get(INSIGHTS).status_code == 200


def test_a_revoked_token_gets_401_on_the_lists(on_redis, user, rows):
    client = bearer(user)
    assert [client.get(url).status_code for url in (GOALS, INSIGHTS)] == [200, 200]
    credentials.token_revoke(
        user_id=user.pk,
        jti=client.token["jti"],
        expires_at=datetime.fromtimestamp(client.token.payload["exp"], tz=UTC),
    )
    assert [client.get(url).status_code for url in (GOALS, INSIGHTS)] == [401, 401]


def test_a_clinicians_list_reads_are_checked_and_logged(
    on_redis, user, other_user, rows, clinician, care_team
):
    doctor = bearer(clinician)
    for url in (f"{GOALS}/user/{user.pk}", f"{INSIGHTS}/user/{user.pk}"):
        before = AccessLog.objects.filter(owner=user).count()
        assert len(doctor.get(url).json()["results"]) == 1
        assert AccessLog.objects.filter(owner=user).count() == before + 1
    for url in (f"{GOALS}/user/{other_user.pk}", f"{INSIGHTS}/user/{other_user.pk}"):
        assert doctor.get(url).status_code == 404
