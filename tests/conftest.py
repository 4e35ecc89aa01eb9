"""Fixtures shared by every app's tests: fast hashing, a clean cache, eager Celery, users."""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections import Counter
from datetime import UTC, datetime
from datetime import time as clock_time
from types import SimpleNamespace
from unittest import mock

import django_ratelimit.core
import pytest
import time_machine
from celery import current_app
from django.core.cache import cache
from rest_framework.test import APIClient

from healthtrack.celery import app as celery_app
from healthtrack.core import outbox
from healthtrack.core.api import throttles
from healthtrack.logs import JsonFormatter
from healthtrack.request_id import RequestIdLogFilter
from tests.accounts.care_factories import CareTeamFactory
from tests.accounts.factories import ClinicianFactory, UserFactory
from tests.healthtrack.servers import RedisServer


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Rate limits are off by default in tests; the rate-limit tests switch them on.
    settings.RATELIMIT_ENABLE = False
    celery_app.conf.task_always_eager = True
    cache.clear()
    yield
    cache.clear()


# The time of day every test runs at (on the machine's real UTC date, the clock ticking from
# there). Tests put "today's" readings at fixed hours, and the API refuses readings more than an
# hour in the future: run just after midnight, "today at noon" would be refused. 21:00 leaves
# room before and after in the same day.
TEST_TIME_OF_DAY = clock_time(21, 0)


@pytest.fixture(autouse=True)
def _evening_clock(request):
    """Each test runs at `TEST_TIME_OF_DAY` of today (UTC), whatever the hour of the run.
    Tests marked `real_clock` (servers in other processes, which keep the real clock) don't."""
    if request.node.get_closest_marker("real_clock"):
        yield
        return
    today = datetime.now(UTC).date()
    with time_machine.travel(datetime.combine(today, TEST_TIME_OF_DAY, tzinfo=UTC), tick=True):
        yield


@pytest.fixture(autouse=True)
def _one_rate_limit_window(monkeypatch, _evening_clock):
    """django-ratelimit counts in fixed windows: a test whose requests straddled a window's end
    would see its count start again. Its clock stands still for the length of a test, so the
    count each test asserts is the one the limit sees. (Servers started by a test run their
    own clock: see `tests.healthtrack.servers.wait_for_a_fresh_window`.)"""
    now = time.time()
    monkeypatch.setattr(django_ratelimit.core, "time", SimpleNamespace(time=lambda: now))


@pytest.fixture(scope="session")
def _session_meal_photo_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("meal-photos")


def _meal_photo_storage(settings, location) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "meal_photos": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }


@pytest.fixture(autouse=True)
def _meal_photos_never_in_the_repo(settings, _session_meal_photo_dir):
    """No test writes meal photos under var/ (or to S3 from a developer's environment)."""
    _meal_photo_storage(settings, _session_meal_photo_dir)


@pytest.fixture
def meal_photo_root(settings, tmp_path):
    """An empty private meal-photo storage of this test's own: assert on its files."""
    root = tmp_path / "meal-photos"
    root.mkdir()
    _meal_photo_storage(settings, root)
    return root


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def auth_client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def other_client(other_user):
    client = APIClient()
    client.force_authenticate(other_user)
    return client


@pytest.fixture
def page_client(client, user):
    """The browser pages' test client, signed in (session) as `user`."""
    client.force_login(user)
    return client


@pytest.fixture
def clinician(db):
    """A clinician (role clinician, staff) with no patient yet."""
    return ClinicianFactory()


@pytest.fixture
def care_team(clinician, user):
    """`clinician` cares for `user` (an active care-team membership)."""
    return CareTeamFactory(clinician=clinician, patient=user)


@pytest.fixture
def clinician_client(clinician):
    client = APIClient()
    client.force_authenticate(clinician)
    return client


class LogCapture(logging.Handler):
    """Every record, and each as the JSON line production writes (`healthtrack.logs`)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []
        self.setFormatter(JsonFormatter())
        self.addFilter(RequestIdLogFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))

    def entries(self, logger: str | None = None) -> list[dict]:
        parsed = [json.loads(line) for line in self.lines]
        return [e for e in parsed if logger is None or e["logger"] == logger]

    def text(self) -> str:
        """The JSON lines plus each record's message and arguments (what a plain formatter
        would print)."""
        parts = list(self.lines)
        for record in self.records:
            parts.append(record.getMessage())
            parts.append(repr(record.args))
        return "\n".join(parts)


@pytest.fixture
def json_logs():
    """Capture every log record (root at DEBUG) for the duration of the test."""
    handler = LogCapture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


# --- Security counts printed at the end of the run (issue 9 asks CI to show them) -------------
# Tests add what they verified, e.g. `security_counts["bad inputs tried"] += len(cases)`;
# later rounds add "URLs x roles checked", "fuzz cases run", "concurrent writers".
SECURITY_COUNTS: Counter[str] = Counter()


@pytest.fixture
def security_counts() -> Counter[str]:
    return SECURITY_COUNTS


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not SECURITY_COUNTS:
        return
    terminalreporter.section("security checks")
    for name, count in sorted(SECURITY_COUNTS.items()):
        terminalreporter.write_line(f"{name}: {count}")


# A redis-server of the module's own (tests that need a real Redis: Lua, one round trip).
@pytest.fixture(scope="module")
def redis_server():
    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server")
    server = RedisServer()
    server.start()
    yield server
    server.cleanup()


# The API's rate limits on, a tight per-user minute, and the throttles' clock in the test's
# hands (advance `limits[0]`).
@pytest.fixture
def limits(settings, monkeypatch):
    settings.RATELIMIT_ENABLE = True
    settings.API_THROTTLE_RATES = {"ip_minute": "10000/min", "ip_burst": "10000/s"}
    settings.API_USER_THROTTLE_RATES = {
        "user_minute": "3/min",
        "user_sync": "100/min",
        "user_imports": "100/min",
        "user_exports": "100/min",
        "user_recommendations": "100/min",
    }
    now = [3_000_000.0]
    monkeypatch.setattr(throttles._IPThrottle, "timer", staticmethod(lambda: now[0]))
    return now


@pytest.fixture
def broker():
    """A worker-backed Celery (not eager) whose published messages are recorded: yields the
    mock of `send_task` (a module may define its own `broker`, e.g. a real one)."""
    saved = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = False
    outbox._set_breaker(open_=False)
    try:
        with mock.patch.object(current_app, "send_task") as send:
            yield send
    finally:
        current_app.conf.task_always_eager = saved
        outbox._set_breaker(open_=False)
