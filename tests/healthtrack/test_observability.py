"""JSON access log, /metrics (who may scrape, what it exposes), cache and task counters."""

from __future__ import annotations

import io
import json
import logging
import math
import random
import re
from datetime import UTC, datetime

import pytest
from django.http import Http404
from django.urls import include, path
from django_otp import DEVICE_ID_SESSION_KEY
from prometheus_client import REGISTRY

from accounts import otp
from healthtrack.celery import app as celery_app
from healthtrack.core.counters import cache_hit, cache_miss, cached
from healthtrack.logs import JsonFormatter, iso_time, safe_path
from healthtrack.outages import RepeatedErrorFilter
from healthtrack.request_id import RequestIdLogFilter
from tests.accounts.factories import UserFactory

TOKEN = "scrape-token-0123456789abcdef"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def share_page(request, token: str):
    raise Http404("no such share")


# The project's URLs too: the 404 page links to them.
urlpatterns = [
    path("share/<str:token>", share_page, name="share-page"),
    path("", include("healthtrack.urls")),
]


# --- access log -------------------------------------------------------------------------------
@pytest.mark.django_db
def test_each_request_writes_one_json_access_line(client, json_logs):
    client.get("/health?patient=alice&weight=81", HTTP_X_REQUEST_ID="req-access-01")
    [entry] = json_logs.entries("healthtrack.access")
    assert entry["request_id"] == "req-access-01"
    assert entry["method"] == "GET"
    assert entry["path"] == "/health"
    assert entry["route"] == "health"
    assert entry["status"] == 200
    assert entry["duration_ms"] >= 0
    assert entry["level"] == "INFO"
    assert "user_id" not in entry
    assert "alice" not in json_logs.text() and "81" not in entry["message"]


@pytest.mark.django_db
def test_the_access_line_written_straight_to_the_json_handler_is_the_formatters_line(client):
    """As LOGGING configures it (one JSON console handler) the access line skips the
    LogRecord; it must be the very line the formatter writes for the record."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdLogFilter())
    handler.addFilter(RepeatedErrorFilter())
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    try:
        client.get("/health?patient=alice", HTTP_X_REQUEST_ID="req-direct-01")
    finally:
        root.handlers[:] = saved
        root.setLevel(level)
    [line] = [x for x in stream.getvalue().splitlines() if '"healthtrack.access"' in x]
    written = json.loads(line)
    fields = {k: written[k] for k in ("method", "path", "route", "status", "duration_ms")}
    record = logging.makeLogRecord(
        {
            "name": "healthtrack.access",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "%s %s %s",
            "args": ("GET", "/health", 200),
            "request_id": "req-direct-01",
            **fields,
        }
    )
    expected = json.loads(JsonFormatter().format(record))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", written["time"])
    assert {**written, "time": "-"} == {**expected, "time": "-"}
    assert written["message"] == "GET /health 200" and "alice" not in line


@pytest.mark.django_db
def test_the_access_line_names_the_jwt_user(api_client, user, json_logs):
    from rest_framework_simplejwt.tokens import RefreshToken

    token = RefreshToken.for_user(user).access_token
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api_client.get("/api/v1/users/me").status_code == 200
    [entry] = json_logs.entries("healthtrack.access")
    assert entry["user_id"] == user.pk
    assert entry["route"] == "api-me"
    assert str(token) not in json_logs.text()


@pytest.mark.django_db
def test_the_access_line_names_the_session_user(client, user, json_logs):
    client.force_login(user)
    client.get("/api/v1/users/me")
    assert json_logs.entries("healthtrack.access")[0]["user_id"] == user.pk


@pytest.mark.urls(__name__)
def test_a_secret_url_parameter_is_replaced_in_every_record(client, json_logs):
    client.get("/share/tok-SECRET-4242?code=999111")
    [access] = json_logs.entries("healthtrack.access")
    assert access["path"] == "/share/{token}"
    [not_found] = json_logs.entries("django.request")
    assert not_found["message"] == "Not Found: /share/{token}"
    assert "SECRET-4242" not in "".join(json_logs.lines)
    assert "999111" not in json_logs.text()


def test_safe_path_keeps_ids_and_cuts_long_paths():
    assert safe_path("/api/v1/users/12", {"pk": 12}) == "/api/v1/users/12"
    assert safe_path("/x/abc/def", {"access_code": "def"}) == "/x/abc/{access_code}"
    assert len(safe_path("/" + "a" * 1000)) == 200


def test_a_lines_time_is_datetimes_to_the_millisecond_at_every_rounding_edge():
    def expected(created):
        return datetime.fromtimestamp(created, tz=UTC).isoformat(timespec="milliseconds")

    moments = [0.0, 0.5, 59.9999995, 86399.9999996, 1_796_560_682.0]
    for second in (1_796_560_682, 1_796_560_683, 1_796_646_399):  # the last: before midnight
        for fraction in (0.0, 0.0005, 0.0004995, 0.999, 0.9995, 0.9999994, 0.9999995, 0.0000025):
            moment = second + fraction
            moments += [moment, math.nextafter(moment, 0), math.nextafter(moment, math.inf)]
    rng = random.Random(15)
    moments += [rng.uniform(1.7e9, 1.8e9) for _ in range(2000)]
    moments += [-1.25, -0.0004]  # before the epoch: datetime's own path
    for created in moments:  # the same second twice in a row, and seconds apart
        assert iso_time(created) == expected(created), created


def test_extra_fields_outside_the_allow_list_are_dropped():
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "saved", None, None)
    record.weight_kg = 81.5
    record.status = 201
    entry = json.loads(JsonFormatter().format(record))
    assert entry["status"] == 201
    assert "weight_kg" not in entry and "81.5" not in json.dumps(entry)
    assert entry["request_id"] == "-"


def test_an_exception_is_logged_as_type_and_stack_without_its_message():
    reading = "".join(["72", ".5 kg"])  # the source lines in the stack are code, not data
    try:
        int(reading)
    except ValueError:
        import sys

        record = logging.LogRecord(
            "app", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["exc_type"] == "ValueError"
    assert "test_an_exception_is_logged" in entry["stack"]
    assert "72.5" not in json.dumps(entry)


def test_a_celery_failure_line_names_the_exception_type_only():
    import sys

    from celery.app.trace import LOG_FAILURE

    reading = 300 + 12
    try:
        raise ValueError(f"glucose {reading} mg/dL for user 7")
    except ValueError:
        exc_info = sys.exc_info()
    context = {
        "hostname": "w1",
        "id": "abc",
        "name": "insights.tasks.refresh",
        "exc": repr(exc_info[1]),
        "traceback": "Traceback ... glucose 312",
        "args": "(7, 312)",
        "kwargs": "{'glucose': 312}",
        "description": "raised unexpected",
        "internal": False,
    }
    record = logging.LogRecord(
        "celery.app.trace", logging.ERROR, __file__, 1, LOG_FAILURE.strip(), (context,), exc_info
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "Task insights.tasks.refresh[abc] raised unexpected: ValueError"
    assert "312" not in json.dumps(entry)


# --- /metrics: who may scrape -----------------------------------------------------------------
@pytest.mark.django_db
def test_metrics_is_404_for_anonymous_and_patients(client, user, settings):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 404
    client.force_login(user)
    assert client.get("/metrics").status_code == 404


@pytest.mark.django_db
def test_metrics_answers_a_staff_session(client, settings):
    settings.ADMIN_REQUIRE_2FA = False
    client.force_login(UserFactory(is_staff=True))
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert b"healthtrack_http_request_duration_seconds" in response.content


@pytest.mark.django_db
def test_metrics_needs_a_verified_staff_session_when_2fa_is_required(client, settings):
    settings.ADMIN_REQUIRE_2FA = True
    staff = UserFactory(is_staff=True)
    device = otp.otp_provision(user=staff)
    device.confirmed = True
    device.save()
    client.force_login(staff)
    assert client.get("/metrics").status_code == 404
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    assert client.get("/metrics").status_code == 200


@pytest.mark.django_db
def test_metrics_answers_the_scrape_token_only(client, settings):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION=TOKEN).status_code == 404
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


# --- /metrics: what it says -------------------------------------------------------------------
@pytest.mark.django_db
def test_latency_is_labelled_by_route_name_never_by_raw_path(client, auth_client, user, settings):
    settings.METRICS_TOKEN = TOKEN
    labels = {"route": "api-user-detail", "method": "GET", "status": "2xx"}
    before = sample("healthtrack_http_request_duration_seconds_count", **labels)
    assert auth_client.get(f"/api/v1/users/{user.pk}").status_code == 200
    assert client.get("/no/such/page/8675309").status_code == 404
    assert sample("healthtrack_http_request_duration_seconds_count", **labels) == before + 1

    body = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    routes = set(re.findall(r'route="([^"]*)"', body))
    assert {"api-user-detail", "unmatched"} <= routes
    # (Digits in a name are no id: the admin's `jsi18n` view and django-oauth-toolkit's
    # `oauth2_provider` admin pages are hit by the authorisation matrix.)
    names = {r.replace("oauth2_provider", "oauth_provider") for r in routes - {"admin:jsi18n"}}
    assert not any("/" in r or re.search(r"\d", r) for r in names), routes
    assert 'status="4xx"' in body


def test_cache_counters_count_hits_and_misses():
    before_hits = sample("healthtrack_cache_hits_total", cache="user_profile")
    before_misses = sample("healthtrack_cache_misses_total", cache="user_profile")
    calls = []

    def compute():
        calls.append(1)
        return None  # a cached None is still a hit

    assert cached("user_profile", "user:profile:1", compute, 60) is None
    assert cached("user_profile", "user:profile:1", compute, 60) is None
    cache_hit("user_profile")
    cache_miss("user_profile")
    assert calls == [1]
    assert sample("healthtrack_cache_hits_total", cache="user_profile") == before_hits + 2
    assert sample("healthtrack_cache_misses_total", cache="user_profile") == before_misses + 2


@pytest.mark.parametrize("name", ["recommendations:user:7", "User", "", "goals-7"])
def test_a_cache_name_holding_a_key_or_id_is_refused(name):
    with pytest.raises(ValueError):
        cache_hit(name)


@celery_app.task(name="tests.observability.flaky", bind=True, max_retries=1)
def flaky(self, fail: str = "never") -> str:
    if fail == "always":
        raise RuntimeError("boom")
    if fail == "once" and self.request.retries == 0:
        raise self.retry(countdown=0)
    return "ok"


def test_task_outcomes_are_counted():
    def count(state):
        return sample("healthtrack_celery_tasks_total", task=flaky.name, state=state)

    before = {s: count(s) for s in ("success", "failure", "retry")}
    flaky.apply(kwargs={"fail": "never"})
    flaky.apply(kwargs={"fail": "always"}, throw=False)
    flaky.apply(kwargs={"fail": "once"}, throw=False)
    assert count("success") == before["success"] + 2  # the plain run and the retried one
    assert count("failure") == before["failure"] + 1
    assert count("retry") == before["retry"] + 1
