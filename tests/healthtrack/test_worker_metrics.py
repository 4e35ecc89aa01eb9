"""A real Celery worker counts task outcomes and serves them on WORKER_METRICS_PORT
(only when REDIS_URL is set: it needs a broker)."""

from __future__ import annotations

import re

import pytest
from django.conf import settings

from healthtrack.celery import app, ping
from tests.healthtrack.servers import celery_worker, free_port, http, wait_until

# The worker or server runs in another process, on the real clock.
pytestmark = pytest.mark.real_clock


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL (a real broker)")
def test_a_worker_serves_its_task_counts():
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"

    def successes() -> float:
        try:
            body = http("GET", url, timeout=2)[2].decode()
        except OSError:
            return -1.0
        found = re.search(
            r'healthtrack_celery_tasks_total\{state="success",task="healthtrack.ping"\} (\S+)',
            body,
        )
        return float(found.group(1)) if found else 0.0

    with celery_worker(WORKER_METRICS_PORT=str(port), LOG_LEVEL="WARNING"):
        app.conf.task_always_eager = False
        wait_until(lambda: successes() >= 0, timeout=90, interval=0.2)
        assert ping.delay().get(timeout=90) == "pong"
        wait_until(lambda: successes() == 1.0, timeout=30, interval=0.1)


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL (a real broker)")
def test_a_worker_counts_the_cpu_each_kind_of_task_took():
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"

    def cpu_seconds() -> float | None:
        try:
            body = http("GET", url, timeout=2)[2].decode()
        except OSError:
            return None
        found = re.search(
            r'healthtrack_celery_task_cpu_seconds_total\{task="healthtrack.ping"\} (\S+)', body
        )
        return float(found.group(1)) if found else 0.0

    with celery_worker(WORKER_METRICS_PORT=str(port), LOG_LEVEL="WARNING"):
        app.conf.task_always_eager = False
        wait_until(lambda: cpu_seconds() is not None, timeout=90, interval=0.2)
        assert cpu_seconds() == 0.0
        assert ping.delay().get(timeout=90) == "pong"
        wait_until(lambda: (cpu_seconds() or 0.0) > 0.0, timeout=30, interval=0.1)


def test_a_task_run_eagerly_is_not_counted_as_a_workers_cpu():
    from healthtrack.celery import TASK_CPU

    before = TASK_CPU.labels(task="healthtrack.ping")._value.get()

    assert ping.apply().get() == "pong"

    assert TASK_CPU.labels(task="healthtrack.ping")._value.get() == before
