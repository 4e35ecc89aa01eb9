"""Fault injection (`make test-faults`): HealthTrack run as production runs it, under load,
while its services fail.

One stack for the module, every process its own and on 127.0.0.1: a PostgreSQL cluster and a
redis-server on free ports, the HTTP server (healthtrack/server.py, 4 workers), a Celery worker
on every queue and Celery beat (the outbox relay every few seconds). Threads write and read
through the API (bounded in number and in time). The scenarios, in order:

1. PostgreSQL stopped for a few seconds under write load, then started;
2. Redis shut down and restarted under mixed load; then one person's writes during a Redis
   outage, whose recommendations must be refreshed within a minute of Redis returning;
3. the Celery worker SIGKILLed and started again;
4. a web server worker SIGKILLed (clients retry with their Idempotency-Key).

Each asserts: every 2xx write is on disk (and none twice), no 500 and no HTML from the API,
the API (and the worker) answer again within 5 s of the service returning, and follow-up work
(the recommendations) catches up. At the end the daily rollups equal a recomputation.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path

import psycopg
import pytest

from tests.healthtrack.servers import (
    ALL_QUEUES,
    ROOT,
    PostgresCluster,
    RedisServer,
    WebServer,
    pg_binary,
    server_env,
    start_celery_worker,
    wait_until,
)

pytestmark = [
    pytest.mark.faults,
    pytest.mark.real_clock,
    pytest.mark.skipif(
        not (shutil.which("redis-server") and pg_binary("initdb") and pg_binary("pg_ctl")),
        reason="needs redis-server and PostgreSQL's initdb",
    ),
]

PASSWORD = "Faults-Pass-2026!"
WRITERS, READERS = 4, 2  # threads
RECOVERY_SECONDS = 5.0
WEB_WORKERS = 4  # as the Dockerfile runs the server
CATCH_UP_SECONDS = 60.0
# Readings go on one day two days back, so each writer's daily rollup is one row.
DAY = (datetime.now(UTC) - timedelta(days=2)).replace(hour=8, minute=0, second=0, microsecond=0)


# --- the stack ---------------------------------------------------------------------------------
@dataclass
class Stack:
    tmp: Path
    env: dict[str, str]
    postgres: PostgresCluster
    redis: RedisServer
    web: WebServer | None = None
    worker: subprocess.Popen | None = None
    beat: subprocess.Popen | None = None
    users: list[dict] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.web.url

    def start_worker(self) -> None:
        self.worker = start_celery_worker(self.env, queues=ALL_QUEUES, log=self.tmp / "worker.log")

    def start_beat(self) -> None:
        self.beat = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "healthtrack",
                "beat",
                "-l",
                "warning",
                "--pidfile",
                str(self.tmp / "beat.pid"),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=(self.tmp / "beat.log").open("ab"),
            stderr=subprocess.STDOUT,
        )

    def sql(self, query: str, params=()) -> list[tuple]:
        with psycopg.connect(self.postgres.url("healthtrack"), autocommit=True) as conn:
            return conn.execute(query, params).fetchall()

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return done.stdout


def _stop(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    postgres, redis_server = PostgresCluster(), RedisServer()
    try:
        postgres.start()
        with psycopg.connect(postgres.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE healthtrack")
        redis_server.start()
        env = server_env(
            tmp,
            DATABASE_URL=postgres.url("healthtrack"),
            REDIS_URL=redis_server.url,
            LOG_LEVEL="WARNING",
            # One client address for all the load: the per-IP limits would refuse it.
            API_RATE_PER_IP="1000000/min",
            API_BURST_PER_IP="100000/s",
            RATELIMIT_ENABLE="false",
            CELERY_TASK_ALWAYS_EAGER="false",
            RECOMMENDATIONS_DEBOUNCE_SECONDS="1",
            OUTBOX_RELAY_SECONDS="3",
            WORKER_BROKER_RETRY_MAX_SECONDS="1",
            DB_CONN_MAX_AGE="60",
        )
        stack = Stack(tmp=tmp, env=env, postgres=postgres, redis=redis_server)
        stack.manage("migrate", "--noinput", "-v", "0")
        stack.web = WebServer(env, WEB_WORKERS, tmp / "web.log")
        stack.start_worker()
        stack.start_beat()
        stack.users = [register(stack.url, f"writer{i}") for i in range(WRITERS + READERS)]
        yield stack
    finally:
        if "stack" in locals():
            for process in (stack.beat, stack.worker):
                _stop(process)
            if stack.web is not None:
                stack.web.stop()
        redis_server.cleanup()
        postgres.cleanup()


# --- HTTP and load -----------------------------------------------------------------------------
@dataclass
class Result:
    sent: float
    done: float
    kind: str  # "write" or "read"
    status: int  # 0: no HTTP answer (connection refused or reset)
    content_type: str = ""
    retry_after: str | None = None
    body: dict | list | None = None
    key: str = ""
    user: int = 0
    at: str = ""


def call(url: str, method: str = "GET", body: dict | None = None, token: str = "", key: str = ""):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if key:
        headers["Idempotency-Key"] = key
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
            status, head, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, head, raw = error.code, error.headers, error.read()
    except (OSError, urllib.error.URLError, ConnectionError):
        return 0, "", None, None
    ctype = head.get("Content-Type", "")
    parsed = json.loads(raw) if ctype.startswith("application/json") and raw else None
    return status, ctype, head.get("Retry-After"), parsed


def register(base: str, name: str) -> dict:
    email = f"{name}-{uuid.uuid4().hex[:6]}@example.org"
    username = email.split("@")[0]
    status, _, _, body = call(
        base + "/api/v1/users/register",
        "POST",
        {"email": email, "username": username, "password": PASSWORD},
    )
    assert status == 202, body  # the same answer whether or not the name was free (issue 19)
    status, _, _, pair = call(
        base + "/api/v1/auth/token/", "POST", {"username": username, "password": PASSWORD}
    )
    assert status == 200, pair
    status, _, _, me = call(base + "/api/v1/users/me", token=pair["access"])
    assert status == 200, me
    return {"id": me["id"], "token": pair["access"]}


_seconds = itertools.count(1)
_seconds_lock = threading.Lock()


def next_reading_time() -> str:
    with _seconds_lock:
        n = next(_seconds)
    return (DAY + timedelta(seconds=n)).isoformat()


class Load:
    """WRITERS threads posting steps readings (each with its own Idempotency-Key, retried
    with it on a dropped connection when `retry_dropped`) and READERS threads listing them;
    every answer is recorded."""

    def __init__(self, stack: Stack, *, retry_dropped: bool = False):
        self.stack, self.retry_dropped = stack, retry_dropped
        self.results: list[Result] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._write, args=(stack.users[i],), daemon=True)
            for i in range(WRITERS)
        ] + [
            threading.Thread(target=self._read, args=(stack.users[WRITERS + i],), daemon=True)
            for i in range(READERS)
        ]

    def _record(self, result: Result) -> None:
        with self._lock:
            self.results.append(result)

    def _write(self, user: dict) -> None:
        while not self._stop.is_set():
            at, key = next_reading_time(), uuid.uuid4().hex
            reading = {"metric_type": "steps", "value": 100, "unit": "count", "recorded_at": at}
            for _ in range(40 if self.retry_dropped else 1):
                sent = time.monotonic()
                status, ctype, retry_after, body = call(
                    self.stack.url + "/api/v1/health-metrics",
                    "POST",
                    reading,
                    user["token"],
                    key,
                )
                self._record(
                    Result(
                        sent,
                        time.monotonic(),
                        "write",
                        status,
                        ctype,
                        retry_after,
                        body,
                        key,
                        user["id"],
                        at,
                    )
                )
                if status != 0:
                    break
                time.sleep(0.1)
            time.sleep(0.02)

    def _read(self, user: dict) -> None:
        while not self._stop.is_set():
            sent = time.monotonic()
            status, ctype, retry_after, body = call(
                self.stack.url + "/api/v1/health-metrics?metric_type=steps", token=user["token"]
            )
            self._record(
                Result(
                    sent,
                    time.monotonic(),
                    "read",
                    status,
                    ctype,
                    retry_after,
                    None if 200 <= status < 300 else body,  # (a page of rows: not kept)
                )
            )
            time.sleep(0.05)

    @contextlib.contextmanager
    def running(self):
        for thread in self._threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in self._threads:
                thread.join(timeout=30)

    def acknowledged(self) -> list[Result]:
        return [r for r in self.results if r.kind == "write" and 200 <= r.status < 300]


def assert_clean_api(results: list[Result]) -> None:
    """No 500 and no HTML; a 503 is JSON `service_unavailable` with Retry-After."""
    answered = [r for r in results if r.status]
    assert answered, "no request was answered"
    assert not [r for r in answered if r.status >= 500 and r.status != 503], "a 5xx other than 503"
    assert all(r.content_type.startswith("application/json") for r in answered), "non-JSON answer"
    for r in answered:
        if r.status == 503:
            assert r.retry_after and (r.body or {}).get("code") == "service_unavailable", r


def assert_recovered(results: list[Result], since: float) -> None:
    """Every request sent RECOVERY_SECONDS after `since` succeeded, and some were sent."""
    late = [r for r in results if r.sent >= since + RECOVERY_SECONDS]
    assert late, "no request was sent after the recovery window"
    failed = [(r.kind, r.status) for r in late if not 200 <= r.status < 300]
    assert not failed, (
        f"still failing {RECOVERY_SECONDS} s after the service returned: {failed[:5]}"
    )


def assert_on_disk_once(stack: Stack, load: Load) -> None:
    """Every acknowledged write is stored, exactly once (by user and time), under its id."""
    acked = load.acknowledged()
    assert acked
    stored: dict[tuple[int, str], list[int]] = {}
    for pk, user_id, recorded_at in stack.sql(
        "SELECT id, user_id, recorded_at FROM metrics_healthmetric WHERE metric_type = 'steps'"
    ):
        stored.setdefault((user_id, recorded_at.astimezone(UTC).isoformat()), []).append(pk)
    for r in acked:
        at = datetime.fromisoformat(r.at).astimezone(UTC).isoformat()
        assert stored.get((r.user, at)) == [r.body["id"]], f"write at {r.at} not stored once"


def assert_derived_work_catches_up(stack: Stack, load: Load) -> None:
    """Each writer's recommendations are computed after its last acknowledged write."""
    last_ack: dict[int, float] = {}
    for r in load.acknowledged():
        last_ack[r.user] = max(last_ack.get(r.user, 0), r.done)
    wall = time.time() - time.monotonic()  # monotonic -> wall clock

    def caught_up() -> bool:
        rows = dict(
            stack.sql(
                "SELECT user_id, computed_at FROM insights_recommendationstate "
                "WHERE user_id = ANY(%s)",
                (list(last_ack),),
            )
        )
        return all(
            rows.get(user) is not None and rows[user].timestamp() > done + wall
            for user, done in last_ack.items()
        )

    wait_until(caught_up, timeout=CATCH_UP_SECONDS, interval=1.0)


def ping_worker(stack: Stack, timeout: float) -> None:
    from celery import Celery

    client = Celery("faults-probe", broker=stack.redis.url, backend=stack.redis.url)
    client.conf.task_default_queue = "default"
    try:
        assert client.send_task("healthtrack.ping").get(timeout=timeout) == "pong"
    finally:
        client.close()


# Stack traces the web processes may log in one outage: the first of each kind of error, per
# web server worker and logger (healthtrack.outages.RepeatedErrorFilter), not one per request.
MAX_STACKS_PER_OUTAGE = 20


def web_log_size(stack: Stack) -> int:
    return stack.web.log.stat().st_size


def assert_quiet_log(stack: Stack, since: int, failed_requests: int, security_counts, name: str):
    with stack.web.log.open("rb") as log:
        log.seek(since)
        lines = log.read().decode(errors="replace").splitlines()
    stacks = sum('"stack"' in line for line in lines)
    security_counts[f"faults {name}: stack traces logged"] += stacks
    assert stacks <= MAX_STACKS_PER_OUTAGE, f"{stacks} stack traces for {failed_requests} failures"


def count(security_counts, scenario: str, load: Load) -> None:
    """What the run saw, printed with the security checks at the end of the run."""
    writes = [r for r in load.results if r.kind == "write"]
    security_counts[f"faults {scenario}: writes acknowledged and on disk"] += len(
        load.acknowledged()
    )
    security_counts[f"faults {scenario}: clean 503s"] += sum(r.status == 503 for r in load.results)
    security_counts[f"faults {scenario}: dropped connections"] += sum(r.status == 0 for r in writes)


# --- the scenarios -----------------------------------------------------------------------------
def test_postgresql_stopped_and_started_under_write_load(stack, security_counts):
    load, log_start = Load(stack), web_log_size(stack)
    with load.running():
        time.sleep(2)
        stack.postgres.stop()
        time.sleep(4)
        stack.postgres.start()
        back = time.monotonic()
        time.sleep(RECOVERY_SECONDS + 3)
    assert_clean_api(load.results)
    outage = [r for r in load.results if r.status == 503]
    assert outage, "the outage was not seen (no 503)"
    assert_quiet_log(stack, log_start, len(outage), security_counts, "postgresql")
    assert_recovered(load.results, back)
    assert_on_disk_once(stack, load)
    assert_derived_work_catches_up(stack, load)
    count(security_counts, "postgresql", load)


def test_redis_shut_down_and_restarted_under_mixed_load(stack, security_counts):
    load, log_start = Load(stack), web_log_size(stack)
    with load.running():
        time.sleep(2)
        stack.redis.stop()
        down, down_wall = time.monotonic(), time.time()
        time.sleep(5)
        stack.redis.start()
        back = time.monotonic()
        time.sleep(RECOVERY_SECONDS + 3)
    assert_clean_api(load.results)
    # The web side degrades to cache misses: reads and writes keep working during the outage.
    during = [r for r in load.results if down + 0.5 <= r.sent < back]
    assert during and all(200 <= r.status < 300 for r in during)
    # Each of those met a dead cache (errors ignored, and logged): the log stays short.
    assert_quiet_log(stack, log_start, len(during), security_counts, "redis")
    assert_recovered(load.results, back)
    assert stack.worker.poll() is None, "the Celery worker died with its broker"
    ping_worker(stack, timeout=RECOVERY_SECONDS)
    # Writes during the outage left their follow-up work in the outbox (not dropped) ...
    parked = stack.sql(
        "SELECT count(*) FROM accounts_outboxtask "
        "WHERE dedupe_key LIKE 'recommendations:%%' AND created_at >= to_timestamp(%s)",
        (down_wall,),
    )
    assert parked[0][0] > 0
    # ... and the relay delivers all of it once the broker is back.
    wait_until(
        lambda: (
            stack.sql("SELECT count(*) FROM accounts_outboxtask WHERE sent_at IS NULL") == [(0,)]
        ),
        timeout=CATCH_UP_SECONDS,
        interval=1.0,
    )
    assert_on_disk_once(stack, load)
    assert_derived_work_catches_up(stack, load)
    count(security_counts, "redis", load)


def test_writes_during_a_redis_outage_refresh_recommendations_within_a_minute(stack):
    """Derived work is never dropped (issue 22, point 3): with Redis (cache and broker) down,
    each write records its recommendation refresh in the outbox in its own transaction (one
    pending row per person: the writes coalesce); once Redis is back the relay delivers it
    and the person's recommendations are recomputed within a minute."""
    sleeper = register(stack.url, "sleeper")
    key = f"recommendations:{sleeper['id']}"
    today = datetime.now(UTC).date()
    stack.redis.stop()
    try:
        # Short nights on four days: enough for the insufficient-sleep recommendation.
        for days_back in range(1, 5):
            night = datetime.combine(today - timedelta(days=days_back), dt_time(2), tzinfo=UTC)
            reading = {"metric_type": "sleep", "value": 300, "unit": "min"}
            status, _, _, body = call(
                stack.url + "/api/v1/health-metrics",
                "POST",
                {**reading, "recorded_at": night.isoformat()},
                sleeper["token"],
                uuid.uuid4().hex,
            )
            assert status == 201, body
        last_write = datetime.now(UTC)
        parked = stack.sql(
            "SELECT count(*) FROM accounts_outboxtask WHERE dedupe_key = %s AND sent_at IS NULL",
            (key,),
        )
        assert parked == [(1,)], "the outage's writes did not leave one pending refresh"
        assert stack.sql(
            "SELECT computed_at FROM insights_recommendationstate WHERE user_id = %s",
            (sleeper["id"],),
        ) in ([], [(None,)])
    finally:
        stack.redis.start()
    back = datetime.now(UTC)

    def refreshed():
        rows = stack.sql(
            "SELECT computed_at FROM insights_recommendationstate WHERE user_id = %s",
            (sleeper["id"],),
        )
        return rows and rows[0][0] is not None and rows[0][0] > last_write and rows[0][0]

    try:
        wait_until(refreshed, timeout=CATCH_UP_SECONDS, interval=0.5)
    except TimeoutError:
        rows = stack.sql(
            "SELECT created_at, attempts, last_error, sent_at FROM accounts_outboxtask "
            "WHERE dedupe_key = %s ORDER BY id",
            (key,),
        )
        raise AssertionError(f"not refreshed within a minute; its outbox rows: {rows}") from None
    computed = refreshed()
    assert computed - back <= timedelta(seconds=CATCH_UP_SECONDS)
    # The recommendation rows themselves were written by that computation.
    rows = stack.sql(
        "SELECT insight_type, created_at FROM insights_healthinsight WHERE user_id = %s "
        "AND kind = 'recommendation' AND superseded_at IS NULL",
        (sleeper["id"],),
    )
    assert [row[0] for row in rows] == ["insufficient_sleep"]
    assert all(last_write < row[1] <= back + timedelta(seconds=CATCH_UP_SECONDS) for row in rows)
    assert stack.sql(
        "SELECT count(*) FROM accounts_outboxtask WHERE dedupe_key = %s AND sent_at IS NULL",
        (key,),
    ) == [(0,)]


def test_celery_worker_killed_and_restarted(stack, security_counts):
    load = Load(stack)
    with load.running():
        time.sleep(2)
        stack.worker.send_signal(signal.SIGKILL)
        stack.worker.wait()
        time.sleep(3)
        stack.start_worker()
        back = time.monotonic()
        time.sleep(RECOVERY_SECONDS + 3)
    assert_clean_api(load.results)
    assert all(200 <= r.status < 300 for r in load.results), "the API depends on the worker"
    assert_recovered(load.results, back)
    ping_worker(stack, timeout=30)
    assert_on_disk_once(stack, load)
    assert_derived_work_catches_up(stack, load)
    count(security_counts, "celery worker", load)


def test_web_server_worker_killed_and_retries_with_the_key_store_once(stack, security_counts):
    load = Load(stack, retry_dropped=True)
    with load.running():
        time.sleep(2)
        victim = stack.web.workers()[0]
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        wait_until(
            lambda: len(stack.web.workers()) == WEB_WORKERS and victim not in stack.web.workers(),
            timeout=30,
        )
        time.sleep(RECOVERY_SECONDS + 3)
    assert_clean_api(load.results)
    assert_recovered(load.results, killed)
    # A retried key is one row: a replay, not a second write.
    by_key: dict[str, set] = {}
    for r in load.acknowledged():
        by_key.setdefault(r.key, set()).add(r.body["id"])
    assert all(len(ids) == 1 for ids in by_key.values())
    assert_on_disk_once(stack, load)
    assert_derived_work_catches_up(stack, load)
    count(security_counts, "web server worker", load)


def test_rollups_equal_a_recomputation(stack):
    script = (
        "import json\n"
        "from metrics import rollups\n"
        "from metrics.models import DailyRollup\n"
        "def state():\n"
        "    fields = ('user_id', 'metric_type', 'day', 'value', 'count')\n"
        "    rows = DailyRollup.objects.values_list(*fields)\n"
        "    return sorted(rows)\n"
        "before = state()\n"
        "for user_id in sorted({row[0] for row in before}):\n"
        "    rollups.recompute_all(user_id=user_id)\n"
        "print(json.dumps({'before': before, 'after': state()}, default=str))\n"
    )
    result = json.loads(stack.manage("shell", "-c", script).strip().splitlines()[-1])
    assert result["before"], "no rollups were written"
    assert result["before"] == result["after"]
    raw = stack.sql(
        "SELECT user_id, sum(value), count(*) FROM metrics_healthmetric "
        "WHERE metric_type = 'steps' GROUP BY user_id"
    )
    daily = {row[0]: (row[3], row[4]) for row in result["after"] if row[1] == "steps"}
    assert {user: (float(total), count) for user, total, count in raw} == daily
