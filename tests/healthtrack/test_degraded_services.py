"""Degraded services, each against the real service, started and stopped inside the test
(`make test-services`). The shared PostgreSQL (5432) and Redis (6379) are never touched:
every test starts its own redis-server or PostgreSQL cluster on a free port.

- Redis down: API reads and writes succeed (cache bypassed), the per-IP throttle and the
  login rate limits fail open, the database-backed lock-out still holds, /ready says 503.
- Celery broker down: the write commits, its outbox row stays pending, and once the broker
  is back the relay publishes it.
- PostgreSQL restart, or its connections' backends terminated: the very next request succeeds
  (CONN_HEALTH_CHECKS, healthtrack/db/base.py), /ready reports the outage and the recovery.
"""

from __future__ import annotations

import json
import shutil
import time

import kombu.pools
import psycopg
import pytest
import redis
from django.db import transaction

from accounts.models import User
from healthtrack.celery import app as celery_app
from healthtrack.core import outbox
from healthtrack.core.models import OutboxTask
from tests.accounts.factories import PASSWORD, UserFactory
from tests.healthtrack.servers import (
    PostgresCluster,
    RedisServer,
    http,
    pg_binary,
    server_env,
    web_server,
)

# Its servers run in other processes, on the real clock.
pytestmark = [pytest.mark.services, pytest.mark.real_clock]

needs_redis = pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")
needs_postgres = pytest.mark.skipif(
    not (pg_binary("initdb") and pg_binary("pg_ctl")), reason="needs PostgreSQL's initdb"
)


@pytest.fixture
def own_redis():
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


def redis_cache(url: str) -> dict:
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "ht-degraded",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }


def ready(client) -> tuple[int, dict]:
    response = client.get("/ready")
    return response.status_code, response.json()["checks"]


def token_status(client, username: str, password: str, ip: str) -> int:
    return client.post(
        "/api/v1/auth/token/",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=ip,
    ).status_code


# --- Redis ------------------------------------------------------------------------------------
@needs_redis
@pytest.mark.django_db
def test_with_redis_down_the_api_keeps_working_and_ready_says_so(
    own_redis, settings, client, api_client, security_counts
):
    settings.REDIS_URL = own_redis.url
    settings.CACHES = redis_cache(own_redis.url)
    settings.RATELIMIT_ENABLE = True
    settings.API_THROTTLE_RATES = {"ip_minute": "600/min", "ip_burst": "3/s"}
    settings.AUTH_RATE_LIMIT = "100/m"
    patient = UserFactory(username="rita")

    # Redis up: the limiter is live and the probe is happy.
    assert ready(client)[0] == 200
    api_client.force_authenticate(patient)
    live = [
        api_client.get("/api/v1/users/me", REMOTE_ADDR="10.0.0.1").status_code for _ in range(4)
    ]
    assert live == [200, 200, 200, 429]
    api_client.force_authenticate(None)

    own_redis.stop()

    # Log in for real (JWT), then read and write.
    pair = api_client.post(
        "/api/v1/auth/token/",
        {"username": "rita", "password": PASSWORD},
        format="json",
        REMOTE_ADDR="10.0.0.2",
    )
    assert pair.status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair.json()['access']}")
    created = api_client.post(
        "/api/v1/nutrition-logs",
        {"meal_type": "lunch", "calories": 500, "logged_at": "2026-03-10T12:00:00Z"},
        format="json",
        REMOTE_ADDR="10.0.0.3",
    )
    assert created.status_code == 201, created.content
    patched = api_client.patch(
        f"/api/v1/users/{patient.pk}", {"height_cm": 172}, format="json", REMOTE_ADDR="10.0.0.4"
    )
    assert patched.status_code == 200
    # The per-IP throttle fails open: no counter, no refusal.
    reads = [
        api_client.get("/api/v1/nutrition-logs", REMOTE_ADDR="10.0.0.5").status_code
        for _ in range(6)
    ]
    assert reads == [200] * 6
    assert (
        len(api_client.get("/api/v1/nutrition-logs", REMOTE_ADDR="10.0.0.6").json()["results"]) == 1
    )

    # Login rate limits fail open too, but the lock-out lives in the database and holds.
    assert [token_status(api_client, "rita", "Wrong-1!", "10.0.1.1") for _ in range(5)] == (
        [401] * 4 + [429]
    )
    assert token_status(api_client, "rita", PASSWORD, "10.0.1.2") == 429

    status, checks = ready(client)
    assert status == 503
    assert checks["cache"]["ok"] is False and checks["database"]["ok"] is True

    own_redis.start()
    assert ready(client)[0] == 200
    security_counts["degraded-service scenarios passed"] += 1


# --- Celery broker ----------------------------------------------------------------------------
@pytest.fixture
def broker(own_redis, settings):
    """Celery publishing to `own_redis` (not eager), restored afterwards."""
    conf = celery_app.conf
    saved = (conf.broker_url, conf.task_always_eager)

    def reset_pools():
        if celery_app._pool is not None:
            celery_app._pool.force_close_all()
        celery_app._pool = None
        celery_app.amqp._producer_pool = None
        # kombu's process-wide producer pools still hold the closed connections: a later
        # test's `.delay()` would fail with "Acquire on closed pool".
        kombu.pools.reset()

    conf.broker_url = own_redis.url
    conf.task_always_eager = False
    outbox._set_breaker(open_=False)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.REDIS_URL = own_redis.url
    settings.CACHES = redis_cache(own_redis.url)
    reset_pools()
    try:
        yield own_redis
    finally:
        conf.broker_url, conf.task_always_eager = saved
        outbox._set_breaker(open_=False)
        reset_pools()


def queued(server: RedisServer, queue: str = "default") -> list[dict]:
    messages = redis.Redis(port=server.port).lrange(queue, 0, -1)
    return [json.loads(m)["headers"] for m in messages]


@needs_redis
@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_writes_succeed_and_the_relay_sends_later(
    broker, client, security_counts
):
    # Broker up: published at commit.
    with transaction.atomic():
        outbox.enqueue_on_commit("healthtrack.ping", {}, dedupe_key="ping:up")
    assert [h["task"] for h in queued(broker)] == ["healthtrack.ping"]
    assert OutboxTask.objects.pending().count() == 0

    broker.stop()
    with transaction.atomic():
        patient = UserFactory(username="while-down")
        row = outbox.enqueue_on_commit("healthtrack.ping", {}, dedupe_key="ping:down")
    assert User.objects.filter(pk=patient.pk).exists()  # the write committed
    row.refresh_from_db()
    assert row.sent_at is None and row.attempts == 1
    assert "onnect" in row.last_error  # "Error 111 connecting to ..." / ConnectionError
    status, checks = ready(client)
    assert status == 503 and checks["broker"]["ok"] is False
    # A relay run while the broker is still down leaves it pending.
    assert outbox.outbox_relay() == {"sent": 0, "pending": 1}

    broker.start()  # an empty Redis on the same port
    assert outbox.outbox_relay() == {"sent": 1, "pending": 0}
    assert [h["task"] for h in queued(broker)] == ["healthtrack.ping"]
    row.refresh_from_db()
    assert row.sent_at is not None and row.attempts == 3
    assert ready(client)[0] == 200
    security_counts["degraded-service scenarios passed"] += 1


@needs_redis
@pytest.mark.django_db(transaction=True)
def test_with_redis_down_a_writes_follow_up_work_waits_in_the_outbox(broker, security_counts):
    """The debounce lock lives in Redis; with Redis down the trigger used to be dropped
    (the cache's failed `add` read as "already scheduled"). Now it goes to the outbox."""
    from datetime import UTC, datetime, timedelta

    from metrics.services import metric_create

    patient = UserFactory(username="offline-writer")
    broker.stop()
    # Yesterday's steps: an input of the recommendations (today's are not one yet).
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1, hours=3)
    for minute in range(3):
        metric_create(
            user=patient,
            metric_type="steps",
            value=1000 + minute,
            unit="count",
            recorded_at=start + timedelta(minutes=minute),
        )
    rows = OutboxTask.objects.filter(dedupe_key=f"recommendations:{patient.pk}")
    assert [(r.task_name, r.kwargs, r.sent_at) for r in rows] == [
        ("insights.compute_recommendations", {"user_id": patient.pk}, None)
    ]  # one pending row for the three writes

    broker.start()
    assert outbox.outbox_relay()["pending"] == 0
    assert [h["task"] for h in queued(broker, "recommendations")] == [
        "insights.compute_recommendations"
    ]
    security_counts["degraded-service scenarios passed"] += 1


# --- PostgreSQL -------------------------------------------------------------------------------
@pytest.fixture
def own_postgres():
    cluster = PostgresCluster()
    try:
        cluster.start()
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE healthtrack")
        yield cluster
    finally:
        cluster.cleanup()


@needs_postgres
def test_after_a_postgresql_restart_the_next_request_succeeds(
    own_postgres, tmp_path, security_counts
):
    import subprocess
    import sys

    from tests.healthtrack.servers import ROOT

    env = server_env(tmp_path, DATABASE_URL=own_postgres.url("healthtrack"))
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    with web_server(env, log=tmp_path / "web.log") as server:

        def call(method: str, path: str, body: dict | None = None, token: str = ""):
            headers = {"Content-Type": "application/json"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            data = json.dumps(body).encode() if body is not None else None
            status, response_headers, raw = http(
                method, server.url + path, body=data, headers=headers
            )
            is_json = response_headers.get("Content-Type", "").startswith("application/json")
            return status, json.loads(raw) if is_json else None

        registration = {"email": "pg@example.org", "username": "pg", "password": PASSWORD}
        assert call("POST", "/api/v1/users/register", registration)[0] == 202
        status, pair = call("POST", "/api/v1/auth/token/", {"username": "pg", "password": PASSWORD})
        assert status == 200
        token = pair["access"]
        assert call("GET", "/api/v1/users/me", token=token)[0] == 200  # opens the connection

        own_postgres.restart()
        assert call("GET", "/api/v1/users/me", token=token)[0] == 200  # the very next request
        assert call("GET", "/ready")[0] == 200

        # Every web connection's backend ended, nothing restarted (an idle timeout, an admin):
        # the health check sees the server's goodbye on the socket and reconnects.
        with psycopg.connect(own_postgres.url("postgres"), autocommit=True) as admin:
            ended = admin.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000))"
                " FROM pg_stat_activity WHERE datname = 'healthtrack'"
            ).fetchone()[0]
        assert ended >= 1
        assert call("GET", "/api/v1/users/me", token=token)[0] == 200
        assert call("GET", "/ready")[0] == 200

        own_postgres.stop()
        status, body = call("GET", "/ready")
        assert status == 503
        assert body["checks"]["database"]["ok"] is False
        assert body["checks"]["cache"]["ok"] is True
        # The API answers the outage as JSON 503 with Retry-After, never an HTML 500.
        meal = {"meal_type": "lunch", "calories": 500, "logged_at": "2026-03-10T12:00:00Z"}
        status, body = call("POST", "/api/v1/nutrition-logs", meal, token=token)
        assert status == 503 and body["code"] == "service_unavailable"

        own_postgres.start()
        assert call("GET", "/ready")[0] == 200
        assert call("GET", "/api/v1/users/me", token=token)[0] == 200
    security_counts["degraded-service scenarios passed"] += 1


# --- Celery worker and its broker ---------------------------------------------------------------
@needs_redis
def test_a_worker_survives_a_broker_restart_and_runs_tasks_queued_after_it(own_redis, tmp_path):
    """Celery 5.7.0 died here for good (AttributeError in kombu's restore_unacked, see
    docs/operations-faults.md): a countdown task the worker holds unacknowledged when the
    broker goes away is what sends it down that path."""
    from celery import Celery

    from tests.healthtrack.servers import celery_worker, wait_until

    client = Celery("probe", broker=own_redis.url, backend=own_redis.url)
    client.conf.task_default_queue = "default"
    env = {"REDIS_URL": own_redis.url, "HEALTHTRACK_VAR_DIR": str(tmp_path)}
    with celery_worker(**env) as worker:
        assert client.send_task("healthtrack.ping").get(timeout=60) == "pong"
        client.send_task("healthtrack.ping", countdown=600)  # held by the worker, unacked
        wait_until(lambda: not redis.Redis(port=own_redis.port).llen("default"), timeout=20)

        own_redis.stop()
        time.sleep(4)  # the worker notices and retries
        assert worker.poll() is None, "the worker exited when the broker went away"
        own_redis.start()
        back = time.monotonic()
        assert client.send_task("healthtrack.ping").get(timeout=30) == "pong"
        assert time.monotonic() - back < 5  # reconnected within seconds
        assert worker.poll() is None
