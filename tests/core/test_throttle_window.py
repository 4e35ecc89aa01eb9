"""The per-IP API throttle's sliding window, on whichever cache the settings give (Redis with
REDIS_URL: a sorted set and a Lua script; local memory: DRF's history list)."""

from __future__ import annotations

import pytest

from healthtrack.core.api import throttles

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch, settings):
    settings.RATELIMIT_ENABLE = True
    settings.TRUSTED_PROXY_COUNT = 1
    settings.API_THROTTLE_RATES = {"ip_minute": "600/min", "ip_burst": "2/s"}
    now = [1_000_000.0]
    monkeypatch.setattr(throttles._IPThrottle, "timer", staticmethod(lambda: now[0]))
    return now


def _get(client, ip="203.0.113.7"):
    return client.get("/api/v1/users/me", HTTP_X_FORWARDED_FOR=ip)


def test_window_slides_and_refused_requests_do_not_count(auth_client, clock):
    codes = []
    for at in (0.0, 0.5, 0.9, 0.95):
        clock[0] = 1_000_000.0 + at
        codes.append(_get(auth_client).status_code)
    assert codes == [200, 200, 429, 429]
    clock[0] = 1_000_001.01  # the first request has left the window; the refusals never entered
    assert _get(auth_client).status_code == 200
    clock[0] = 1_000_001.2
    assert _get(auth_client).status_code == 429


def test_refusal_says_when_to_retry(auth_client, clock):
    _get(auth_client)
    clock[0] += 0.25
    _get(auth_client)
    clock[0] += 0.25
    response = _get(auth_client)
    assert response.status_code == 429
    assert response["Retry-After"] == "1"  # the oldest request leaves the window in 0.5 s


def test_each_client_has_its_own_window(auth_client, clock):
    assert [_get(auth_client, "203.0.113.1").status_code for _ in range(3)] == [200, 200, 429]
    assert _get(auth_client, "203.0.113.2").status_code == 200


def test_minute_limit_holds_beside_the_burst_limit(auth_client, clock, settings):
    settings.API_THROTTLE_RATES = {"ip_minute": "3/min", "ip_burst": "10/s"}
    codes = []
    for step in range(5):
        clock[0] = 1_000_000.0 + step * 5
        codes.append(_get(auth_client).status_code)
    assert codes == [200, 200, 200, 429, 429]
    clock[0] = 1_000_060.5
    assert _get(auth_client).status_code == 200


def test_with_redis_the_window_is_one_sorted_set_per_client(auth_client, clock):
    from django.core.cache import cache

    redis = throttles._redis_client(cache)
    if redis is None:
        pytest.skip("the cache is not Redis")
    _get(auth_client, "203.0.113.9")
    key = cache.make_key("throttle_ip_burst_203.0.113.9")
    assert redis.type(key) == b"zset"
    assert redis.zcard(key) == 1
    assert 0 < redis.pttl(key) <= 1000


def _redis_or_skip():
    from django.core.cache import cache

    redis = throttles._redis_client(cache)
    if redis is None:
        pytest.skip("the cache is not Redis")
    return redis


def test_with_redis_one_request_enters_both_windows_in_one_call(auth_client, clock, monkeypatch):
    from django.core.cache import cache

    redis = _redis_or_skip()
    calls = []
    real_eval = type(redis).eval
    monkeypatch.setattr(
        type(redis), "eval", lambda self, *a, **k: calls.append(a) or real_eval(self, *a, **k)
    )
    assert _get(auth_client, "203.0.113.10").status_code == 200
    assert len(calls) == 1
    for scope in ("ip_minute", "ip_burst"):
        assert redis.zcard(cache.make_key(f"throttle_{scope}_203.0.113.10")) == 1


def test_with_redis_a_burst_refusal_does_not_use_up_the_minute(auth_client, clock, settings):
    _redis_or_skip()
    settings.API_THROTTLE_RATES = {"ip_minute": "3/min", "ip_burst": "1/s"}
    codes = []
    for at in (0.0, 0.1, 0.2, 0.3, 1.5, 3.0):
        clock[0] = 1_000_000.0 + at
        codes.append(_get(auth_client, "203.0.113.11").status_code)
    # Refused in the burst window at 0.1-0.3 s: the minute window holds 0.0, 1.5 and 3.0.
    assert codes == [200, 429, 429, 429, 200, 200]
    clock[0] = 1_000_004.0
    assert _get(auth_client, "203.0.113.11").status_code == 429  # now the minute is full
