"""A write's request around it (issue 15, sixth round): the JWT user entry and the rate-limit
windows in one Redis round trip for every method, with the same answers as before: writes count
towards the limits (429 with Retry-After), a refused token uses up none of them, a revoked
token is 401, and the user's encrypted columns read what the database holds."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts import credentials
from accounts.user_cache import user_cache_key
from healthtrack.core.api import throttles
from tests.healthtrack.test_degraded_services import redis_cache
from tests.healthtrack.test_readcache import backend, bearer  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

READINGS = "/api/v1/health-metrics"


def reading(value: int = 72) -> dict:
    return {"metric_type": "heart_rate", "value": value, "recorded_at": timezone.now().isoformat()}


def sent_commands(monkeypatch) -> list[list[bytes]]:
    """Every command written to a Redis connection from now on, as its list of arguments."""
    from redis.connection import AbstractConnection

    sent: list[list[bytes]] = []
    original = AbstractConnection.send_packed_command

    def recording(self, command, check_health=True):
        chunks = [command] if isinstance(command, bytes | str) else list(command)
        packed = b"".join(c.encode() if isinstance(c, str) else bytes(c) for c in chunks)
        lines = packed.split(b"\r\n")
        i = 0
        while i < len(lines):
            if lines[i][:1] == b"*":
                n = int(lines[i][1:])
                sent.append([lines[i + 2 + 2 * k] for k in range(n)])
                i += 1 + 2 * n
            else:
                i += 1
        return original(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", recording)
    return sent


def test_a_write_reads_its_user_and_counts_its_limits_in_one_redis_round_trip(
    redis_server, user, monkeypatch, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    with override_settings(CACHES=redis_cache(redis_server.url), RATELIMIT_ENABLE=True):
        cache.clear()
        client = bearer(user)
        assert client.get("/api/v1/users/me").status_code == 200  # the user entry is cached
        user_key = cache.make_key(user_cache_key(user.pk)).encode()
        with monkeypatch.context() as patch:
            sent = sent_commands(patch)
            with django_capture_on_commit_callbacks(execute=True):
                response = client.post(READINGS, reading(), format="json")
        assert response.status_code == 201, response.content
        # The first command is the one script: the windows and the user entry together.
        assert sent[0][0] == b"EVALSHA" and user_key in sent[0], sent[0]
        # Nothing else reads the user entry or counts a window (the write's own cache
        # invalidation comes after it).
        assert not any(user_key in command for command in sent[1:]), sent
        window_keys = [k for k in sent[0] if b"throttle_" in k]
        assert window_keys and not any(
            key in command for command in sent[1:] for key in window_keys
        ), sent


def test_writes_count_towards_the_rate_limit(
    backend,  # noqa: F811
    user,
    limits,
    django_capture_on_commit_callbacks,
):
    client = bearer(user)
    with django_capture_on_commit_callbacks(execute=True):
        codes = [
            client.post(READINGS, reading(70 + i), format="json").status_code for i in (1, 2, 3)
        ]
    assert codes == [201, 201, 201]
    refused = client.post(READINGS, reading(), format="json")
    assert refused.status_code == 429 and refused["Retry-After"] == "60"
    assert client.get(READINGS).status_code == 429  # reads and writes share the minute
    limits[0] += 61
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(READINGS, reading(), format="json").status_code == 201


def test_writes_with_a_revoked_token_are_401_and_use_up_none_of_the_limit(
    backend,  # noqa: F811
    user,
    limits,
    django_capture_on_commit_callbacks,
):
    stolen = bearer(user)
    with django_capture_on_commit_callbacks(execute=True):
        assert stolen.post(READINGS, reading(), format="json").status_code == 201
    credentials.token_revoke(
        user_id=user.pk,
        jti=stolen.token["jti"],
        expires_at=datetime.fromtimestamp(stolen.token.payload["exp"], tz=UTC),
    )
    assert [stolen.post(READINGS, reading(), format="json").status_code for _ in range(4)] == [
        401
    ] * 4
    fresh = bearer(user)
    with django_capture_on_commit_callbacks(execute=True):
        codes = [fresh.post(READINGS, reading(), format="json").status_code for _ in range(3)]
    assert codes == [201, 201, 429]


def test_a_write_by_a_deactivated_user_is_401_though_their_entry_was_cached(backend, user):  # noqa: F811
    client = bearer(user)
    assert client.get("/api/v1/users/me").status_code == 200
    user.is_active = False
    user.save()
    assert client.post(READINGS, reading(), format="json").status_code == 401


def test_the_users_encrypted_columns_read_what_was_saved_last(backend, user):  # noqa: F811
    client = bearer(user)
    user.medical_history, user.date_of_birth = "first history", date(1980, 1, 2)
    user.save()
    me = client.get("/api/v1/users/me").json()
    assert (me["medical_history"], me["date_of_birth"]) == ("first history", "1980-01-02")
    assert client.get("/api/v1/users/me").json()["medical_history"] == "first history"
    user.medical_history, user.date_of_birth = "second history", None
    user.save()
    me = client.get("/api/v1/users/me").json()
    assert (me["medical_history"], me["date_of_birth"]) == ("second history", None)


def test_a_throttle_allowed_by_the_round_trip_is_not_asked_again(backend, user, limits):  # noqa: F811
    """DRF's throttles answer from the round trip's counted windows: a second count would
    halve the limit."""
    calls = []
    original = throttles._IPThrottle._check_windows

    def counting(self, *args, **kwargs):
        calls.append(self.scope)
        return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(throttles._IPThrottle, "_check_windows", counting)
        client = bearer(user)
        codes = [client.get("/api/v1/users/me").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    if backend == "redis":
        assert calls == []
