"""Per-user API limits on top of the per-IP ones: every request of a signed-in user, and named
scopes for the expensive endpoints. Each is a setting and answers 429 with Retry-After."""

from __future__ import annotations

import pytest

from healthtrack.core.api import throttles

pytestmark = pytest.mark.django_db

RATES = {
    "user_minute": "100/min",
    "user_sync": "100/min",
    "user_imports": "100/min",
    "user_exports": "100/min",
    "user_recommendations": "100/min",
}


@pytest.fixture
def clock(monkeypatch, settings):
    settings.RATELIMIT_ENABLE = True
    settings.API_THROTTLE_RATES = {"ip_minute": "10000/min", "ip_burst": "10000/s"}
    settings.API_USER_THROTTLE_RATES = dict(RATES)
    now = [2_000_000.0]
    monkeypatch.setattr(throttles._IPThrottle, "timer", staticmethod(lambda: now[0]))
    return now


def _limit(settings, scope: str, rate: str) -> None:
    settings.API_USER_THROTTLE_RATES = {**RATES, scope: rate}


def test_every_request_of_a_user_counts_towards_the_per_user_minute(
    auth_client, other_client, clock, settings
):
    _limit(settings, "user_minute", "3/min")
    codes = [auth_client.get(url).status_code for url in ["/api/v1/users/me"] * 2]
    codes.append(auth_client.get("/api/v1/metric-types").status_code)
    assert codes == [200, 200, 200]
    refused = auth_client.get("/api/v1/users/me")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "60"
    # Another user is not affected, whatever address both come from.
    assert other_client.get("/api/v1/users/me").status_code == 200
    clock[0] += 60.5
    assert auth_client.get("/api/v1/users/me").status_code == 200


def test_anonymous_requests_are_left_to_the_per_ip_limits(api_client, clock, settings):
    _limit(settings, "user_minute", "1/min")
    codes = [api_client.get("/api/v1/metric-types").status_code for _ in range(3)]
    assert codes == [200, 200, 200]


def test_the_per_user_limit_is_a_setting_read_at_request_time(auth_client, clock, settings):
    _limit(settings, "user_minute", "1/min")
    assert auth_client.get("/api/v1/users/me").status_code == 200
    assert auth_client.get("/api/v1/users/me").status_code == 429
    _limit(settings, "user_minute", "5/min")
    assert auth_client.get("/api/v1/users/me").status_code == 200


def test_limits_are_off_with_ratelimit_disabled(auth_client, clock, settings):
    _limit(settings, "user_minute", "1/min")
    settings.RATELIMIT_ENABLE = False
    assert [auth_client.get("/api/v1/users/me").status_code for _ in range(3)] == [200] * 3


def _exhaust_then_refused(request, n: int = 2) -> list[int]:
    return [request().status_code for _ in range(n + 1)]


def test_sync_scope_limits_device_syncs_only(auth_client, clock, settings):
    _limit(settings, "user_sync", "2/min")
    codes = _exhaust_then_refused(lambda: auth_client.post("/api/v1/devices/999999/sync", {}))
    assert 429 not in codes[:2]
    assert codes[2] == 429
    assert int(auth_client.post("/api/v1/devices/999999/sync", {})["Retry-After"]) > 0
    # Other endpoints are not in the scope.
    assert auth_client.get("/api/v1/users/me").status_code == 200


def test_imports_scope_limits_starting_imports_not_listing_them(auth_client, clock, settings):
    _limit(settings, "user_imports", "2/min")
    codes = _exhaust_then_refused(lambda: auth_client.post("/api/v1/imports", {}))
    assert 429 not in codes[:2]
    assert codes[2] == 429
    assert auth_client.get("/api/v1/imports").status_code == 200


def test_exports_scope_limits_exports(auth_client, clock, settings):
    _limit(settings, "user_exports", "2/min")
    codes = _exhaust_then_refused(lambda: auth_client.get("/api/v1/export/report?format=x"))
    assert 429 not in codes[:2]
    assert codes[2] == 429
    # The full export shares the scope's window.
    response = auth_client.get("/api/v1/export")
    assert response.status_code == 429
    assert response["Retry-After"] == "60"


def test_recommendations_scope_limits_only_uncached_requests(auth_client, user, clock, settings):
    _limit(settings, "user_recommendations", "2/min")
    url = f"/api/v1/recommendations/{user.pk}"
    codes = _exhaust_then_refused(lambda: auth_client.get(url, {"use_cache": "false"}))
    assert codes == [200, 200, 429]
    # Cached answers stay available.
    assert auth_client.get(url).status_code == 200
    assert auth_client.get(url, {"use_cache": "true"}).status_code == 200


def test_scopes_are_per_user(auth_client, other_client, other_user, clock, settings):
    _limit(settings, "user_recommendations", "1/min")
    assert auth_client.get("/api/v1/export/report?format=x").status_code != 429
    url = f"/api/v1/recommendations/{other_user.pk}"
    assert other_client.get(url, {"use_cache": "false"}).status_code == 200
    assert other_client.get(url, {"use_cache": "false"}).status_code == 429
    # A per-scope refusal does not use up a different user's allowance.
    assert auth_client.get("/api/v1/users/me").status_code == 200


def test_with_redis_each_user_window_is_a_sorted_set(auth_client, user, clock, settings):
    from django.core.cache import cache

    redis = throttles._redis_client(cache)
    if redis is None:
        pytest.skip("the cache is not Redis")
    auth_client.get("/api/v1/users/me")
    key = cache.make_key(f"throttle_user_user_minute_{user.pk}")
    assert redis.type(key) == b"zset"
    assert redis.zcard(key) == 1


def test_with_redis_user_and_ip_windows_share_one_call(auth_client, user, clock, monkeypatch):
    from django.core.cache import cache

    redis = throttles._redis_client(cache)
    if redis is None:
        pytest.skip("the cache is not Redis")
    calls = []
    real_eval = type(redis).eval
    monkeypatch.setattr(
        type(redis), "eval", lambda self, *a, **k: calls.append(a) or real_eval(self, *a, **k)
    )
    assert auth_client.get(f"/api/v1/recommendations/{user.pk}?use_cache=false").status_code == 200
    # Every rate-limit window (per IP and per user) is counted in one call; the only other
    # call stores the freshly rendered answer (the read cache), and counts no window.
    windows = [c for c in calls if any("throttle_" in key for key in c[2 : 2 + c[1]])]
    assert len(windows) == 1
    assert len(calls) <= 2
    for scope in ("user_minute", "user_recommendations"):
        assert redis.zcard(cache.make_key(f"throttle_user_{scope}_{user.pk}")) == 1
