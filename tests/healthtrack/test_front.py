"""A person's own cached answer served in front of Django (healthtrack/front.py), through the
WSGI application as a server calls it, on a real Redis: the front's answer is Django's, byte
for byte and header for header; everything that is not a clean own hit is answered by Django
(revoked token 401, over the limit 429, someone else's data 404 or audited, a stale version,
Redis down), and each request is counted once towards the rate limits."""

from __future__ import annotations

import io
import logging
import shutil
from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.test import override_settings

from accounts import credentials
from accounts.models import AccessLog
from healthtrack import observability
from healthtrack.front import CachedReadFront
from insights import cache as rec_cache
from tests.healthtrack.servers import RedisServer
from tests.healthtrack.test_degraded_services import redis_cache
from tests.healthtrack.test_liveness_probe import no_connection_handling  # noqa: F401

pytestmark = pytest.mark.django_db

SUMMARY = ("/api/v1/health-metrics/summary", "days=30")


def recommendations(user) -> tuple[str, str]:
    return (f"/api/v1/recommendations/{user.pk}", "")


class CountingApp:
    """Django's WSGI handler, counting the requests that reach it."""

    def __init__(self):
        self.django = get_wsgi_application()
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.django(environ, start_response)


@pytest.fixture
def redis(redis_server):
    with override_settings(CACHES=redis_cache(redis_server.url)):
        cache.clear()
        yield redis_server
        cache.clear()


@pytest.fixture
def front(redis):
    inner = CountingApp()
    return CachedReadFront(inner), inner


def token_of(user) -> str:
    return str(credentials.FamilyRefreshToken.for_user(user).access_token)


def call(app, url, token=None, method="GET", **extra):
    path, query = url
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "testserver",
        "HTTP_ACCEPT": "*/*",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **extra,
    }
    if token is not None:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, headers

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return seen["status"], seen["headers"], body


def without_request_id(headers) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k != "X-Request-ID"]


def learnt(app, inner, url, token) -> tuple:
    """Compute the answer, then have Django serve it from the cache once (the front learns
    the path from that); returns Django's cached answer."""
    assert call(app, url, token)[0] == "200 OK"  # computed and stored
    answer = call(app, url, token)
    assert answer[0] == "200 OK"
    return answer


OWN_LIST = ("/api/v1/health-metrics", "limit=20")


@pytest.mark.parametrize(
    "url_of",
    [lambda user: SUMMARY, recommendations, lambda user: OWN_LIST],
    ids=["summary", "recommendations", "own list"],
)
def test_a_front_hit_is_djangos_answer_byte_for_byte(front, user, url_of):
    app, inner = front
    url, token = url_of(user), token_of(user)
    django = learnt(app, inner, url, token)
    calls = inner.calls
    served = [call(app, url, token) for _ in range(3)]
    assert inner.calls == calls  # answered in front of Django
    for status, headers, body in served:
        assert status == django[0]
        assert body == django[2]
        assert without_request_id(headers) == without_request_id(django[1])
    ids = {dict(h)["X-Request-ID"] for _, h, _ in [django, *served]}
    assert len(ids) == 4
    names = {k for k, _ in django[1]}
    for header in ("Content-Type", "Vary", "Allow", "Content-Security-Policy", "X-Frame-Options"):
        assert header in names, header
    assert dict(django[1])["Content-Length"] == str(len(django[2]))


def test_a_path_learnt_from_one_person_serves_another_their_own_answer(
    front, user, other_user, django_capture_on_commit_callbacks
):
    from metrics import services

    app, inner = front
    learnt(app, inner, SUMMARY, token_of(user))
    with django_capture_on_commit_callbacks(execute=True):
        services.metric_create(
            user=other_user,
            metric_type="steps",
            value=4321,
            recorded_at=datetime.now(UTC),
        )
    other = token_of(other_user)
    assert call(app, SUMMARY, other)[0] == "200 OK"  # computed and stored
    django = call(inner, SUMMARY, other)  # Django's own hit, not through the front
    calls = inner.calls
    status, headers, body = call(app, SUMMARY, other)
    assert inner.calls == calls
    assert (status, body) == (django[0], django[2]) and b"4321" in body
    assert without_request_id(headers) == without_request_id(django[1])
    assert dict(headers)["Content-Length"] == str(len(body))


def test_the_front_serves_a_persons_own_answer_only(front, user, other_user):
    app, inner = front
    url = recommendations(user)
    learnt(app, inner, url, token_of(user))
    calls = inner.calls
    status, _, _ = call(app, url, token_of(other_user))
    assert status.startswith("404")
    assert inner.calls == calls + 1


def test_a_clinicians_read_goes_through_django_and_is_audited(front, user, clinician, care_team):
    app, inner = front
    url = recommendations(user)
    learnt(app, inner, url, token_of(user))
    doctor = token_of(clinician)
    calls = inner.calls
    for _ in range(3):
        assert call(app, url, doctor)[0] == "200 OK"
    assert inner.calls == calls + 3
    assert AccessLog.objects.filter(actor=clinician, owner=user).count() == 3


def test_a_revoked_token_gets_djangos_401_though_the_path_is_learnt(front, user):
    app, inner = front
    client_token = credentials.FamilyRefreshToken.for_user(user).access_token
    token = str(client_token)
    learnt(app, inner, SUMMARY, token)
    assert call(app, SUMMARY, token)[0] == "200 OK"
    credentials.token_revoke(
        user_id=user.pk,
        jti=client_token["jti"],
        expires_at=datetime.fromtimestamp(client_token.payload["exp"], tz=UTC),
    )
    calls = inner.calls
    status, headers, _ = call(app, SUMMARY, token)
    assert status.startswith("401") and inner.calls == calls + 1
    other = token_of(user)
    assert call(app, SUMMARY, other)[0] == "200 OK"
    credentials.credentials_revoke_all(user=user)
    assert call(app, SUMMARY, other)[0].startswith("401")


def test_over_the_limit_is_djangos_429_and_each_request_counts_once(front, user, limits):
    app, inner = front
    token = token_of(user)
    learnt(app, inner, SUMMARY, token)  # two requests of the three a minute
    calls = inner.calls
    assert call(app, SUMMARY, token)[0] == "200 OK"  # the third, in front
    assert inner.calls == calls
    status, headers, _ = call(app, SUMMARY, token)
    assert status.startswith("429") and dict(headers)["Retry-After"] == "60"
    assert inner.calls == calls + 1
    limits[0] += 61
    assert [call(app, SUMMARY, token)[0] for _ in range(4)] == ["200 OK"] * 3 + [
        "429 Too Many Requests"
    ]


def test_refused_tokens_use_up_none_of_the_limit_in_front_either(front, user, limits):
    app, inner = front
    stolen = credentials.FamilyRefreshToken.for_user(user).access_token
    learnt(app, inner, SUMMARY, str(stolen))
    credentials.token_revoke(
        user_id=user.pk,
        jti=stolen["jti"],
        expires_at=datetime.fromtimestamp(stolen.payload["exp"], tz=UTC),
    )
    assert [call(app, SUMMARY, str(stolen))[0][:3] for _ in range(4)] == ["401"] * 4
    fresh = token_of(user)
    assert [call(app, SUMMARY, fresh)[0][:3] for _ in range(2)] == ["200", "429"]


def test_a_request_the_front_steps_aside_from_makes_one_round_trip(front, user, monkeypatch):
    """What the front's Lua call found is handed to Django's request: not fetched twice."""
    from tests.healthtrack.test_readcache import sent_commands

    app, inner = front
    url, token = recommendations(user), token_of(user)
    learnt(app, inner, url, token)
    rec_cache.invalidate(user.pk)
    calls = inner.calls
    with monkeypatch.context() as patch:
        sent = sent_commands(patch)
        assert call(app, url, token)[0] == "200 OK"  # a miss now: computed by Django
    assert inner.calls == calls + 1
    assert sent.count(b"EVALSHA") == 1, sent


def test_a_stale_version_is_not_served_in_front(front, user):
    app, inner = front
    url, token = recommendations(user), token_of(user)
    django = learnt(app, inner, url, token)
    assert call(app, url, token)[2] == django[2]
    rec_cache.invalidate(user.pk)  # what every write to an input does
    calls = inner.calls
    status, _, body = call(app, url, token)
    assert status == "200 OK" and b'"cached":false' in body.replace(b" ", b"")
    assert inner.calls == calls + 1


@pytest.mark.parametrize(
    "extra",
    [
        {"method": "HEAD"},
        {"HTTP_ORIGIN": "https://app.example"},
        {"HTTP_ACCEPT": "application/xml"},
        {"QUERY_STRING": "days=30&unknown=1"},
        {"wsgi.url_scheme": "https"},
    ],
)
def test_anything_but_a_plain_own_get_goes_through_django(front, user, extra):
    app, inner = front
    token = token_of(user)
    learnt(app, inner, SUMMARY, token)
    calls = inner.calls
    call(app, SUMMARY, token, **extra)
    assert inner.calls == calls + 1


def test_with_redis_down_the_front_steps_aside_to_django(user):
    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server")
    server = RedisServer()
    server.start()
    try:
        with override_settings(CACHES=redis_cache(server.url)):
            inner = CountingApp()
            app = CachedReadFront(inner)
            token = token_of(user)
            learnt(app, inner, SUMMARY, token)
            server.stop()
            calls = inner.calls
            status, _, body = call(app, SUMMARY, token)
            assert status == "200 OK" and b'"metrics"' in body
            assert inner.calls == calls + 1
    finally:
        server.cleanup()


def test_a_front_hit_writes_its_access_line_latency_and_request_id(front, user, caplog):
    app, inner = front
    url, token = recommendations(user), token_of(user)
    learnt(app, inner, url, token)

    def counted():
        return sum(
            s.value
            for m in observability.HTTP_DURATION.collect()
            for s in m.samples
            if s.name.endswith("_count") and s.labels.get("route") == "api-recommendations"
        )

    before, calls = counted(), inner.calls
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="healthtrack.access"):
        _, headers, _ = call(app, url, token, HTTP_X_REQUEST_ID="front-42-abcdef")
    assert inner.calls == calls
    assert dict(headers)["X-Request-ID"] == "front-42-abcdef"
    lines = [r for r in caplog.records if r.name == "healthtrack.access"]
    assert len(lines) == 1
    line = lines[0]
    assert (line.method, line.path, line.route, line.status, line.user_id) == (
        "GET",
        url[0],
        "api-recommendations",
        200,
        user.pk,
    )
    assert line.request_id == "front-42-abcdef"
    assert counted() == before + 1


def test_with_bench_stats_a_front_hit_reports_its_counters(front, user, settings):
    settings.BENCH_STATS = True
    app, inner = front
    token = token_of(user)
    learnt(app, inner, SUMMARY, token)
    calls = inner.calls
    headers = dict(call(app, SUMMARY, token)[1])
    assert inner.calls == calls
    assert headers["X-Bench-Queries"] == "0"
    assert int(headers["X-Bench-CPU-us"]) > 0


def test_an_answer_that_sets_a_cookie_is_never_learnt(user):
    from django.urls import resolve

    from accounts.api import readcache

    def django_like(environ, start_response):
        environ[readcache.OWN_HIT_NOTE] = (resolve(SUMMARY[0]), SUMMARY[0])
        start_response("200 OK", [("Content-Type", "application/json"), ("Set-Cookie", "a=b")])
        return [b"{}"]

    app = CachedReadFront(django_like)
    assert call(app, SUMMARY, token_of(user))[0] == "200 OK"
    assert app.learnt == {}
