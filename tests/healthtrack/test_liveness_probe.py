"""`GET /health` answered in front of Django's middleware chain (healthtrack/health.py)."""

from __future__ import annotations

import io
import logging

import pytest
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections

from healthtrack import observability
from healthtrack.health import LivenessProbe


class CountingApp:
    """Django's WSGI handler, counting the requests that reach it."""

    def __init__(self):
        self.django = get_wsgi_application()
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.django(environ, start_response)


def environ(path="/health", method="GET", host="localhost", **extra):
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "HTTP_HOST": host,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **extra,
    }


def call(app, **kwargs):
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app(environ(**kwargs), start_response))
    return seen["status"], seen["headers"], body


@pytest.fixture(autouse=True)
def no_connection_handling():
    """As Django's test client does: the handler's request signals would reach for the
    database connection, which these tests (no `django_db`) must not touch."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def probe(settings):
    settings.ALLOWED_HOSTS = ["localhost"]
    settings.HEALTHTRACK_VERSION = "7.7.7"
    inner = CountingApp()
    return LivenessProbe(inner), inner


def test_repeated_probes_are_answered_without_django_with_the_same_answer(probe):
    app, inner = probe
    first = call(app)
    second = call(app)
    third = call(app)
    assert inner.calls == 1
    assert first[0] == second[0] == third[0] == "200 OK"
    assert first[2] == second[2] == third[2] == b'{"status": "ok", "version": "7.7.7"}'
    without_id = [
        {k: v for k, v in h.items() if k != "X-Request-ID"} for _, h, _ in (first, second)
    ]
    assert without_id[0] == without_id[1]
    assert without_id[1]["Content-Security-Policy"].startswith("default-src 'self'")
    assert without_id[1]["X-Content-Type-Options"] == "nosniff"
    assert without_id[1]["X-Frame-Options"] == "DENY"
    assert second[1]["X-Request-ID"] != third[1]["X-Request-ID"]


def test_a_sane_incoming_request_id_is_echoed_and_a_forged_one_replaced(probe):
    app, _ = probe
    call(app)
    assert call(app, HTTP_X_REQUEST_ID="lb-1234abcd")[1]["X-Request-ID"] == "lb-1234abcd"
    forged = call(app, HTTP_X_REQUEST_ID="bad id\nwith newline")[1]["X-Request-ID"]
    assert forged != "bad id\nwith newline" and len(forged) == 32


def test_each_probe_still_writes_its_access_line_and_latency(probe, caplog):
    app, inner = probe
    call(app)

    counted = [
        s.value
        for m in observability.HTTP_DURATION.collect()
        for s in m.samples
        if s.name.endswith("_count") and s.labels.get("route") == "health"
    ]
    before = counted[0] if counted else 0
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="healthtrack.access"):
        call(app, HTTP_X_REQUEST_ID="probe-42-abcdef")
    assert inner.calls == 1
    lines = [r for r in caplog.records if r.name == "healthtrack.access"]
    assert len(lines) == 1
    assert (lines[0].method, lines[0].path, lines[0].route, lines[0].status) == (
        "GET",
        "/health",
        "health",
        200,
    )
    assert lines[0].request_id == "probe-42-abcdef"
    after = [
        s.value
        for m in observability.HTTP_DURATION.collect()
        for s in m.samples
        if s.name.endswith("_count") and s.labels.get("route") == "health"
    ][0]
    assert after == before + 1


def test_a_scheme_not_answered_yet_goes_through_django_once(probe):
    app, inner = probe
    call(app)
    call(app, HTTP_X_FORWARDED_PROTO="https")
    call(app, HTTP_X_FORWARDED_PROTO="https")
    call(app)
    assert inner.calls == 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"method": "HEAD"},
        {"method": "POST"},
        {"path": "/health/"},
        {"HTTP_ORIGIN": "https://app.example"},
    ],
)
def test_anything_but_a_plain_get_goes_through_django(probe, kwargs):
    app, inner = probe
    call(app)
    call(app, **kwargs)
    call(app, **kwargs)
    assert inner.calls == 3


def test_a_failed_first_answer_is_not_kept(settings):
    settings.ALLOWED_HOSTS = ["localhost"]
    answers = iter(["503 Service Unavailable", "200 OK", "200 OK"])
    calls = []

    def flaky(environ, start_response):
        calls.append(1)
        start_response(next(answers), [("Content-Type", "application/json")])
        return [b"{}"]

    app = LivenessProbe(flaky)
    assert call(app)[0].startswith("503")
    assert call(app)[0] == "200 OK"
    assert call(app)[0] == "200 OK"
    assert len(calls) == 2
