"""Login limits hold across worker processes: two real web servers share Redis (rate
limits) and PostgreSQL (lock-out). Needs REDIS_URL and DATABASE_URL; skipped otherwise."""

from __future__ import annotations

import json
from itertools import cycle

import pytest
from django.conf import settings

from tests.accounts.factories import PASSWORD, UserFactory
from tests.healthtrack.servers import http, two_web_servers, wait_for_a_fresh_window

# The servers hash every password with production's PBKDF2 (about a second of CPU on a busy
# machine), so eleven attempts can take half a minute: an hourly limit keeps a burst inside
# one django-ratelimit window, whose end `wait_for_a_fresh_window` steers clear of.
PERIOD = 3600
BURST_SECONDS = 150

pytestmark = [
    pytest.mark.real_clock,  # servers in other processes keep the real clock
    pytest.mark.skipif(
        not (settings.REDIS_URL and settings.DATABASE_URL),
        reason="needs REDIS_URL and DATABASE_URL (limits shared between processes)",
    ),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory, django_db_setup, django_db_blocker):
    tmp = tmp_path_factory.mktemp("limits")
    with two_web_servers(
        tmp,
        RATELIMIT_ENABLE="true",
        AUTH_RATE_LIMIT="10/h",
        TRUSTED_PROXY_COUNT="1",  # so each attempt can claim its own client address
    ) as servers:
        yield servers


def server_logs(servers) -> str:
    """What the servers logged (warnings and errors: a cache error counts no attempt)."""
    return "\n".join(f"--- {s.log.name}\n{s.log.read_text()[-4000:]}" for s in servers)


def attempt(server, login: str, password: str, ip: str) -> int:
    status, _, _ = http(
        "POST",
        server.url + "/api/v1/auth/token/",
        body=json.dumps({"username": login, "password": password}).encode(),
        headers={"Content-Type": "application/json", "X-Forwarded-For": ip},
    )
    return status


def test_the_per_ip_limit_holds_across_two_processes(two_servers, security_counts):
    servers = cycle(two_servers)
    wait_for_a_fresh_window("10.20.0.1", period=PERIOD, need=BURST_SECONDS)
    codes = [attempt(next(servers), f"nobody{i}", "Wrong-1!", "10.20.0.1") for i in range(11)]
    assert codes == [401] * 10 + [429], server_logs(two_servers)
    security_counts["login attempts across worker processes"] += len(codes)


@pytest.fixture(scope="module")
def two_servers_without_lockout(tmp_path_factory, django_db_setup, django_db_blocker):
    """As two_servers, with the lock-out out of reach (it locks any name, known or not, after
    LOGIN_LOCKOUT_FAILURES), so the per-account rate limit is what answers 429."""
    tmp = tmp_path_factory.mktemp("limits-no-lockout")
    with two_web_servers(
        tmp,
        RATELIMIT_ENABLE="true",
        AUTH_RATE_LIMIT="10/h",
        TRUSTED_PROXY_COUNT="1",
        LOGIN_LOCKOUT_FAILURES="100",
    ) as servers:
        yield servers


def test_the_per_account_limit_holds_across_two_processes_and_many_ips(
    two_servers_without_lockout, security_counts
):
    two_servers = two_servers_without_lockout
    servers = cycle(two_servers)
    wait_for_a_fresh_window("ghost", period=PERIOD, need=BURST_SECONDS)
    codes = [attempt(next(servers), "ghost", "Wrong-1!", f"10.30.0.{i}") for i in range(11)]
    assert codes == [401] * 10 + [429], server_logs(two_servers)
    security_counts["login attempts across worker processes"] += len(codes)


def test_an_unknown_name_locks_out_across_two_processes_like_a_real_one(
    two_servers, security_counts
):
    servers = cycle(two_servers)
    codes = [attempt(next(servers), "ghost2", "Wrong-1!", f"10.50.0.{i}") for i in range(6)]
    assert codes == [401] * 4 + [429] * 2, server_logs(two_servers)  # the fifth locks
    security_counts["login attempts across worker processes"] += len(codes)


def test_the_lock_out_holds_across_two_processes(two_servers):
    UserFactory(username="erin")
    a, b = two_servers
    codes = [attempt(s, "erin", "Wrong-1!", f"10.40.0.{i}") for i, s in enumerate([a, b] * 2)]
    assert codes == [401] * 4
    assert attempt(a, "erin", "Wrong-1!", "10.40.1.1") == 429  # the fifth locks
    assert attempt(b, "erin", PASSWORD, "10.40.1.2") == 429  # the other process refuses too


def test_the_per_user_api_limit_holds_across_two_processes(tmp_path_factory):
    """Per-user API windows (healthtrack/core/api/throttles.py) live in Redis: one user's requests
    spread over two processes and many addresses share one allowance."""
    from accounts.api_tokens import api_token_create

    user = UserFactory(username="frank")
    _, raw = api_token_create(user=user, name="across processes")
    tmp = tmp_path_factory.mktemp("user-limits")
    with two_web_servers(
        tmp,
        RATELIMIT_ENABLE="true",
        TRUSTED_PROXY_COUNT="1",
        API_RATE_PER_USER="4/min",
    ) as servers:
        headers = {"Authorization": f"Token {raw}"}
        codes = []
        for i, server in enumerate([servers[0], servers[1]] * 3):
            status, response_headers, _ = http(
                "GET",
                server.url + "/api/v1/users/me",
                headers={**headers, "X-Forwarded-For": f"10.50.0.{i}"},
            )
            codes.append(status)
        assert codes == [200] * 4 + [429] * 2, server_logs(servers)
        assert int(response_headers["Retry-After"]) > 0
