"""Outages answer 503 (JSON on the API, a page elsewhere), the error pages render from the
static files the image builds, and repeated connection errors do not flood the log.

The outages here are real connection failures (a PostgreSQL connection to a port nobody
listens on, a Redis client likewise); whole servers going away under load are in
`tests/faults/` (`make test-faults`)."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from pathlib import Path

import psycopg
import pytest
import redis
from django.core.management import call_command
from django.db import OperationalError
from django.test import RequestFactory
from django_redis.exceptions import ConnectionInterrupted
from redis.backoff import NoBackoff
from redis.retry import Retry

from healthtrack import outages
from tests.healthtrack.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def database_outage() -> OperationalError:
    """The error Django raises when PostgreSQL does not answer: a real connection attempt,
    wrapped the way Django's DatabaseErrorWrapper wraps it."""
    try:
        psycopg.connect(host="127.0.0.1", port=free_port(), dbname="none", connect_timeout=2)
    except psycopg.OperationalError as error:
        try:
            raise OperationalError(*error.args) from error
        except OperationalError as wrapped:
            return wrapped
    raise AssertionError("connected to a port nobody listens on")


def redis_outage() -> ConnectionInterrupted:
    """What django-redis raises when Redis does not answer (a real connection attempt)."""
    try:
        redis.Redis(port=free_port(), retry=Retry(NoBackoff(), 0)).ping()
    except redis.ConnectionError as error:
        try:
            raise ConnectionInterrupted(connection=None) from error
        except ConnectionInterrupted as wrapped:
            return wrapped
    raise AssertionError("connected to a port nobody listens on")


def answer_while_handling(error: BaseException, path: str):
    """handler500 as Django calls it: inside the `except` of the failed request."""
    request = RequestFactory().get(path)
    try:
        raise error
    except BaseException:
        return outages.server_error(request)


# --- 503 on the API and on pages -----------------------------------------------------------
def test_a_database_outage_is_a_json_503_with_retry_after_on_the_api(settings):
    settings.OUTAGE_RETRY_AFTER_SECONDS = 7
    before = _counted("database")
    response = answer_while_handling(database_outage(), "/api/v1/health-metrics")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "7"
    body = json.loads(response.content)
    assert body["code"] == "service_unavailable"
    assert "database" in body["detail"].lower()
    assert _counted("database") == before + 1


def test_a_redis_outage_that_reaches_a_view_is_a_json_503(settings):
    response = answer_while_handling(redis_outage(), "/api/v1/imports/")
    assert response.status_code == 503
    assert json.loads(response.content)["code"] == "service_unavailable"
    assert response["Retry-After"] == "5"


def test_a_database_outage_on_a_page_is_the_friendly_503_page():
    response = answer_while_handling(database_outage(), "/dashboard/")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert response["Retry-After"] == "5"
    assert b"briefly unavailable" in response.content


def test_any_other_error_stays_a_500_and_is_json_on_the_api():
    api = answer_while_handling(ValueError("a bug"), "/api/v1/goals")
    assert api.status_code == 500
    assert json.loads(api.content) == {"detail": "Server error.", "code": "server_error"}
    page = answer_while_handling(ValueError("a bug"), "/dashboard/")
    assert page.status_code == 500 and b"Something went wrong" in page.content


@pytest.mark.parametrize(
    "make, service",
    [(database_outage, "database"), (redis_outage, "redis"), (lambda: ValueError(), None)],
)
def test_outage_service_names_the_service_that_failed(make, service):
    assert outages.outage_service(make()) == service


def _counted(service: str) -> float:
    return outages.OUTAGE_RESPONSES.labels(service=service)._value.get()


# --- the error pages, from the static files the image builds --------------------------------
# Compressing every file (.gz, .br) takes minutes on a small machine and changes no page;
# the manifest, which `{% static %}` needs with DEBUG off, is built exactly as in the image.
NO_COMPRESSION = ["css", "js", "map", "svg", "html", "txt", "json", "png", "gif", "jpg"]
NO_COMPRESSION += ["woff", "woff2", "ttf", "eot", "otf", "ico", "md", "LICENSE"]


@pytest.fixture
def production_static(settings, tmp_path):
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    settings.WHITENOISE_SKIP_COMPRESS_EXTENSIONS = NO_COMPRESSION
    return settings


def test_without_collectstatic_the_error_page_cannot_render(production_static):
    with pytest.raises(ValueError, match="Missing staticfiles manifest"):
        answer_while_handling(ValueError("a bug"), "/dashboard/")


@pytest.mark.django_db
def test_after_collectstatic_the_404_500_and_503_pages_render_with_debug_off(
    production_static, client
):
    call_command("collectstatic", interactive=False, verbosity=0)
    hashed_css = re.compile(rb'href="/static/css/app\.[0-9a-f]{12}\.css"')

    not_found = client.get("/no-such-page/")
    assert not_found.status_code == 404
    assert hashed_css.search(not_found.content)

    server_error = answer_while_handling(ValueError("a bug"), "/dashboard/")
    assert server_error.status_code == 500
    assert hashed_css.search(server_error.content)

    unavailable = answer_while_handling(database_outage(), "/dashboard/")
    assert unavailable.status_code == 503
    assert hashed_css.search(unavailable.content)


def test_the_image_collects_static_files_at_build_time():
    dockerfile = (ROOT / "Dockerfile").read_text()
    build = dockerfile.index("collectstatic --noinput")
    assert dockerfile.rfind("RUN", 0, build) > dockerfile.index("COPY . .")
    assert build < dockerfile.index("CMD")


# --- quiet logs ----------------------------------------------------------------------------
def _record(error: BaseException, name: str = "django.request") -> logging.LogRecord:
    try:
        raise error
    except BaseException:
        return logging.LogRecord(
            name, logging.ERROR, __file__, 1, "Service Unavailable: %s", ("/api/x",), sys.exc_info()
        )


@pytest.mark.real_clock  # the filter counts on the monotonic clock
def test_repeated_connection_errors_log_the_first_with_a_stack_then_a_count():
    quiet = outages.RepeatedErrorFilter(interval=0.5)
    error, other = database_outage(), redis_outage()
    first = _record(error)
    assert quiet.filter(first) is True and first.exc_info is not None
    assert [quiet.filter(_record(error)) for _ in range(200)] == [False] * 200
    # Another logger or another error type is its own burst.
    assert quiet.filter(_record(other)) is True
    time.sleep(0.6)
    summary = _record(error)
    assert quiet.filter(summary) is True
    assert summary.exc_info is None
    assert summary.getMessage() == (
        "Service Unavailable: /api/x (again; 200 more like this in the last 0.5 s were not logged)"
    )


def test_other_errors_are_never_dropped():
    quiet = outages.RepeatedErrorFilter(interval=60)
    assert all(quiet.filter(_record(ValueError("a bug"))) for _ in range(20))
    plain = logging.LogRecord("x", logging.WARNING, __file__, 1, "hello", (), None)
    assert quiet.filter(plain) is True


def test_the_console_handler_rate_limits_connection_errors(settings):
    assert "repeated_errors" in settings.LOGGING["handlers"]["console"]["filters"]
