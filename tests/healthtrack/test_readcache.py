"""Cached reads answer from the rendered bytes (healthtrack/readcache.py), on a real Redis (the
one-round-trip path, with Bearer JWTs as clients send them) and on the embedded default's
local-memory cache: a write makes them fresh, one person's view is never served to another,
a revoked token is 401, access ended is 404, reads by others are audited and every request
still counts towards the rate limits."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import credentials
from accounts.api import readcache
from accounts.models import AccessLog
from healthtrack.core.api import throttles
from insights import cache as rec_cache
from metrics import services as metric_services
from tests.healthtrack.servers import RedisServer
from tests.healthtrack.test_degraded_services import redis_cache

pytestmark = pytest.mark.django_db

SUMMARY = "/api/v1/health-metrics/summary?days=30"


def recommendations(user) -> str:
    return f"/api/v1/recommendations/{user.pk}"


@pytest.fixture(params=["redis", "local memory"])
def backend(request):
    """Each test on a real Redis (Lua, one round trip) and on the local-memory cache."""
    if request.param == "local memory":
        yield request.param
        return
    server = request.getfixturevalue("redis_server")
    from django.core.cache import cache

    with override_settings(CACHES=redis_cache(server.url)):
        cache.clear()
        yield request.param
        cache.clear()


def bearer(user) -> APIClient:
    client = APIClient()
    token = credentials.FamilyRefreshToken.for_user(user).access_token
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    client.token = token
    return client


def post_steps(client, value: int, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/health-metrics",
            {"metric_type": "steps", "value": value, "recorded_at": timezone.now().isoformat()},
            format="json",
        )
    assert response.status_code == 201


def poison(entry: readcache.Entry, body: bytes) -> None:
    """Put `body` in the cache under `entry` with the owner's current version (as if it were
    the answer computed last), to see who gets it."""
    readcache.store(readcache.lookup(entry), body)


def summary_entry(viewer, owner) -> readcache.Entry:
    from metrics.api.views import _summary_entry

    return _summary_entry(viewer.pk, owner.pk, 30)


def recommendations_entry(viewer, owner) -> readcache.Entry:
    from insights.api.views import _recommendations_entry

    return _recommendations_entry(viewer.pk, owner.pk, 30)


def test_a_cached_summary_is_served_until_a_write_changes_it(
    backend, user, django_capture_on_commit_callbacks
):
    client = bearer(user)
    post_steps(client, 100, django_capture_on_commit_callbacks)
    first = client.get(SUMMARY)
    assert first.status_code == 200 and first["Content-Type"] == "application/json"
    assert first.json()["metrics"]["steps"]["count"] == 1
    poison(summary_entry(user, user), b'{"served": "from the cache"}')
    assert client.get(SUMMARY).json() == {"served": "from the cache"}
    post_steps(client, 200, django_capture_on_commit_callbacks)
    fresh = client.get(SUMMARY).json()
    assert fresh["metrics"]["steps"]["count"] == 2


def test_cached_recommendations_are_dropped_by_the_version_bump(backend, user):
    client = bearer(user)
    first = client.get(recommendations(user))
    assert first.status_code == 200 and first.json()["cached"] is False
    again = client.get(recommendations(user)).json()
    assert again == {**first.json(), "cached": True}
    poison(recommendations_entry(user, user), b'{"served": "from the cache"}')
    assert client.get(recommendations(user)).json() == {"served": "from the cache"}
    rec_cache.invalidate(user.pk)  # what every write to an input does
    assert client.get(recommendations(user)).json()["cached"] is False


@pytest.mark.parametrize("url_of", [lambda owner: recommendations(owner)])
def test_a_clinician_and_the_patient_never_share_a_cached_body(
    backend, user, clinician, care_team, url_of
):
    patient, doctor = bearer(user), bearer(clinician)
    assert patient.get(url_of(user)).status_code == 200
    assert doctor.get(url_of(user)).status_code == 200
    poison(recommendations_entry(user, user), b'{"view": "the patient\'s"}')
    poison(recommendations_entry(clinician, user), b'{"view": "the clinician\'s"}')
    assert patient.get(url_of(user)).json() == {"view": "the patient's"}
    assert doctor.get(url_of(user)).json() == {"view": "the clinician's"}


def test_a_clinician_summary_is_keyed_by_viewer_and_owner(backend, user, clinician, care_team):
    doctor = bearer(clinician)
    url = f"{SUMMARY}&user_id={user.pk}"
    assert doctor.get(url).status_code == 200
    poison(summary_entry(user, user), b'{"view": "the patient\'s"}')
    assert doctor.get(url).json() != {"view": "the patient's"}
    assert bearer(user).get(SUMMARY).json() == {"view": "the patient's"}


def test_every_cached_read_by_a_clinician_is_audited(backend, user, clinician, care_team):
    doctor = bearer(clinician)
    for _ in range(3):
        assert doctor.get(recommendations(user)).status_code == 200
        assert doctor.get(f"{SUMMARY}&user_id={user.pk}").status_code == 200
    assert AccessLog.objects.filter(actor=clinician, owner=user).count() == 6


def test_a_clinician_whose_care_team_ended_gets_404_though_a_body_is_cached(
    backend, user, clinician, care_team
):
    doctor = bearer(clinician)
    assert doctor.get(recommendations(user)).status_code == 200
    assert doctor.get(recommendations(user)).json()["cached"] is True
    care_team.ended_at = timezone.now()
    care_team.save(update_fields=["ended_at"])
    assert doctor.get(recommendations(user)).status_code == 404


def test_a_revoked_token_gets_401_even_when_the_body_is_cached(backend, user):
    client = bearer(user)
    for url in (SUMMARY, recommendations(user), SUMMARY, recommendations(user)):
        assert client.get(url).status_code == 200
    credentials.token_revoke(
        user_id=user.pk,
        jti=client.token["jti"],
        expires_at=datetime.fromtimestamp(client.token.payload["exp"], tz=UTC),
    )
    assert client.get(SUMMARY).status_code == 401
    assert client.get(recommendations(user)).status_code == 401
    # A password change ends every token issued before it, cached answers or not.
    other = bearer(user)
    assert other.get(SUMMARY).status_code == 200
    credentials.credentials_revoke_all(user=user)
    assert other.get(SUMMARY).status_code == 401


def test_cached_hits_still_count_towards_the_rate_limit(backend, user, limits):
    client = bearer(user)
    codes = [client.get(url).status_code for url in [SUMMARY, SUMMARY, recommendations(user)]]
    assert codes == [200, 200, 200]
    refused = client.get(SUMMARY)
    assert refused.status_code == 429 and refused["Retry-After"] == "60"
    assert client.get(recommendations(user)).status_code == 429
    limits[0] += 61
    assert client.get(SUMMARY).status_code == 200


def test_requests_refused_for_a_revoked_token_use_up_none_of_the_limit(backend, user, limits):
    stolen = bearer(user)
    assert stolen.get(SUMMARY).status_code == 200
    credentials.token_revoke(
        user_id=user.pk,
        jti=stolen.token["jti"],
        expires_at=datetime.fromtimestamp(stolen.token.payload["exp"], tz=UTC),
    )
    assert [stolen.get(SUMMARY).status_code for _ in range(5)] == [401] * 5
    fresh = bearer(user)
    assert [fresh.get(SUMMARY).status_code for _ in range(3)] == [200, 200, 429]


def test_the_summary_version_is_dropped_by_every_measurement_write(backend, user):
    from django.core.cache import cache

    found = readcache.lookup(summary_entry(user, user))
    assert found is not None and cache.get(metric_services.summary_version_key(user.pk))
    metric_services.invalidate_summary_cache(user.pk)
    assert cache.get(metric_services.summary_version_key(user.pk)) is None


def sent_commands(monkeypatch, writes: list | None = None) -> list[bytes]:
    """The name of every command written to a Redis connection from now on (what reaches the
    socket, whichever layer of redis-py packed it); `writes`, when given, gets one list of
    names per write to the socket (a round trip: a pipeline sends several at once)."""
    from redis.connection import AbstractConnection

    sent: list[bytes] = []
    original = AbstractConnection.send_packed_command

    def recording(self, command, check_health=True):
        chunks = [command] if isinstance(command, bytes | str) else list(command)
        packed = b"".join(c.encode() if isinstance(c, str) else bytes(c) for c in chunks)
        lines = packed.split(b"\r\n")
        # Each command is "*<n>", "$<len>", "<name>", ...: a pipeline sends several at once.
        names = [lines[i + 2].upper() for i, line in enumerate(lines) if line[:1] == b"*"]
        sent.extend(names)
        if writes is not None:
            writes.append(names)
        return original(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", recording)
    return sent


def test_a_cached_own_read_is_one_redis_round_trip(redis_server, user, monkeypatch):
    """Rate-limit windows, the JWT user entry and the version come back from one Lua call,
    the body from a GET written with it (one write to the socket, one round trip)."""
    with override_settings(CACHES=redis_cache(redis_server.url)):
        client = bearer(user)
        for url in (SUMMARY, recommendations(user)):
            assert client.get(url).status_code == 200  # computes and stores
            first = client.get(url)  # the user entry is cached now
            writes: list = []
            with monkeypatch.context() as patch:
                sent_commands(patch, writes)
                response = client.get(url)
            assert response.status_code == 200 and response.json() == first.json()
            assert writes == [[b"GET", b"EVALSHA"]], writes


def test_a_cached_own_read_writes_its_round_trip_in_one_system_call(
    redis_server, user, monkeypatch
):
    """redis-py writes each item of a packed command list with its own `sendall`: the GET
    and the EVALSHA reach it as one item (one system call, one segment for the server)."""
    from redis.connection import AbstractConnection

    with override_settings(CACHES=redis_cache(redis_server.url)):
        client = bearer(user)
        assert client.get(SUMMARY).status_code == 200  # computes and stores
        assert client.get(SUMMARY).status_code == 200  # the user entry is cached now
        items: list[int] = []
        original = AbstractConnection.send_packed_command

        def recording(self, command, check_health=True):
            items.append(1 if isinstance(command, bytes | str) else len(list(command)))
            return original(self, command, check_health)

        with monkeypatch.context() as patch:
            patch.setattr(AbstractConnection, "send_packed_command", recording)
            assert client.get(SUMMARY).status_code == 200
        assert items == [1], items


def test_a_cached_read_reloads_the_script_redis_has_forgotten(redis_server, user, monkeypatch):
    """After a Redis restart (here SCRIPT FLUSH) the script is loaded again and the cached
    answer is still served, counted towards the limits, with no error."""
    from django.core.cache import cache

    with override_settings(CACHES=redis_cache(redis_server.url)):
        cache.clear()
        client = bearer(user)
        first = client.get(SUMMARY)
        assert first.status_code == 200
        cache.client.get_client(write=True).script_flush()
        with monkeypatch.context() as patch:
            sent = sent_commands(patch)
            response = client.get(SUMMARY)
        assert response.status_code == 200 and response.json() == first.json()
        assert sent[:2] == [b"GET", b"EVALSHA"] and b"SCRIPT" in sent, sent
        assert sent[-2:] == [b"GET", b"EVALSHA"], sent


def test_with_redis_down_cached_reads_answer_from_the_database(
    user, django_capture_on_commit_callbacks
):
    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server")
    server = RedisServer()
    server.start()
    try:
        with override_settings(CACHES=redis_cache(server.url)):
            client = bearer(user)
            post_steps(client, 100, django_capture_on_commit_callbacks)
            assert client.get(SUMMARY).json()["metrics"]["steps"]["count"] == 1
            assert client.get(recommendations(user)).status_code == 200
            server.stop()
            post_steps(client, 200, django_capture_on_commit_callbacks)
            assert client.get(SUMMARY).json()["metrics"]["steps"]["count"] == 2
            assert client.get(recommendations(user)).json()["cached"] is False
    finally:
        server.cleanup()


def test_a_forged_or_malformed_token_gets_401_though_the_owners_body_is_cached(backend, user):
    client = bearer(user)
    assert client.get(SUMMARY).status_code == 200
    assert client.get(SUMMARY).status_code == 200
    forged = str(client.token)[:-4] + ("AAAA" if not str(client.token).endswith("AAAA") else "BBBB")
    for header in (f"Bearer {forged}", "Bearer", "Bearer a b", "bearer " + str(client.token)):
        other = APIClient()
        other.credentials(HTTP_AUTHORIZATION=header)
        assert other.get(SUMMARY).status_code == 401, header


def test_an_own_cached_answer_carries_the_headers_of_a_computed_one(backend, user):
    client = bearer(user)
    for url in (SUMMARY, recommendations(user)):
        computed = client.get(url)
        cached = client.get(url)
        assert cached.status_code == 200
        assert cached.json() == {**computed.json(), **({"cached": True} if "rec" in url else {})}
        for header in (
            "Content-Type",
            "Vary",
            "Allow",
            "Content-Security-Policy",
            "Permissions-Policy",
            "X-Content-Type-Options",
            "X-Frame-Options",
        ):
            assert cached.get(header) == computed.get(header), header
        assert cached["X-Request-ID"] != computed["X-Request-ID"]


def test_a_client_that_does_not_take_json_gets_406_though_the_body_is_cached(backend, user):
    client = bearer(user)
    assert client.get(SUMMARY).status_code == 200
    assert client.get(SUMMARY).status_code == 200
    assert client.get(SUMMARY, HTTP_ACCEPT="application/xml").status_code == 406
    assert client.get(SUMMARY, HTTP_ACCEPT="application/json").status_code == 200


def test_a_throttle_the_round_trip_cannot_count_still_refuses_a_cached_read(
    backend, user, monkeypatch
):
    from rest_framework.throttling import BaseThrottle

    from metrics.api.views import SummaryView

    class RefuseAll(BaseThrottle):
        def allow_request(self, request, view):
            return False

    client = bearer(user)
    assert client.get(SUMMARY).status_code == 200
    assert client.get(SUMMARY).status_code == 200  # cached now
    monkeypatch.setattr(SummaryView, "throttle_classes", [*SummaryView.throttle_classes, RefuseAll])
    assert client.get(SUMMARY).status_code == 429


def test_the_round_trip_uses_the_cache_the_settings_name_now(redis_server):
    """The default cache's client is kept per thread, and looked up again when CACHES
    changes: a cache swapped in (or out) is the one the next request uses."""
    local = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with override_settings(CACHES=local):
        assert readcache._redis() is None
        with override_settings(CACHES=redis_cache(redis_server.url)):
            client = readcache._redis()
            assert client is not None and client is readcache._redis()
            assert client.get_client(write=True).ping()
        assert readcache._redis() is None


@pytest.mark.parametrize(
    "query",
    ["", "days=30", "days=7&days=30", "days=", "days", "use_cache=false&days=14", "a+b=%20x%C3%A9"],
)
def test_the_guess_reads_the_query_string_as_django_does(rf, query):
    """`guess_params` is each name's last value, as `request.GET.get` reads it."""
    request = rf.get("/api/v1/health-metrics/summary", QUERY_STRING=query)
    assert readcache.guess_params(request) == {name: request.GET[name] for name in request.GET}


def test_a_windows_rate_is_drfs_parse_of_the_current_setting(settings):
    throttle = throttles.UserMinuteThrottle()
    for rate in ("100/min", "7/s", "3/hour", "1000/day", "100/min"):
        settings.API_USER_THROTTLE_RATES = {**settings.API_USER_THROTTLE_RATES, "user_minute": rate}
        assert readcache._parsed_rate(throttle) == throttle.parse_rate(rate)
