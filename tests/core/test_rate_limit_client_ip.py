"""Rate limits key on the client address a client cannot choose: X-Forwarded-For counts only
behind TRUSTED_PROXY_COUNT proxies."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def limits_on(settings):
    settings.RATELIMIT_ENABLE = True
    settings.API_THROTTLE_RATES = {"ip_minute": "600/min", "ip_burst": "2/s"}
    settings.AUTH_RATE_LIMIT = "2/m"
    return settings


def test_a_forged_forwarded_for_does_not_escape_the_api_throttle(auth_client, limits_on):
    codes = [
        auth_client.get("/api/v1/users/me", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code
        for i in range(3)
    ]
    assert codes == [200, 200, 429]


def test_a_forged_forwarded_for_does_not_escape_the_login_limit(api_client, limits_on):
    codes = [
        api_client.post(
            "/api/v1/auth/token/",
            {"username": f"someone{i}", "password": "x"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{i}",
        ).status_code
        for i in range(3)
    ]
    assert codes == [401, 401, 429]


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(auth_client, limits_on):
    limits_on.TRUSTED_PROXY_COUNT = 1
    # The proxy appends the address it saw; what the client wrote before it is ignored.
    codes = [
        auth_client.get(
            "/api/v1/users/me", HTTP_X_FORWARDED_FOR=f"6.6.6.6, 198.51.100.{i % 2}"
        ).status_code
        for i in range(5)
    ]
    assert codes == [200, 200, 200, 200, 429]


def test_a_garbage_forwarded_address_falls_back_to_the_peer(api_client, limits_on):
    limits_on.TRUSTED_PROXY_COUNT = 1
    codes = [
        api_client.post(
            "/api/v1/auth/token/",
            {"username": f"someone{i}", "password": "x"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"not-an-ip-{i}",
        ).status_code
        for i in range(3)
    ]
    assert codes == [401, 401, 429]
