"""A real Celery worker counts task outcomes and serves them on WORKER_METRICS_PORT
(only when REDIS_URL is set: it needs a broker)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from django.conf import settings

from healthtrack.celery import app, ping
from tests.healthtrack.servers import ROOT, free_port, http, wait_until

# The worker or server runs in another process, on the real clock.
pytestmark = pytest.mark.real_clock


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL (a real broker)")
def test_a_worker_serves_its_task_counts():
    port = free_port()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "healthtrack",
            "worker",
            "--pool=solo",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "WORKER_METRICS_PORT": str(port),
            "LOG_LEVEL": "WARNING",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    app.conf.task_always_eager = False
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

    try:
        wait_until(lambda: successes() >= 0, timeout=90, interval=0.2)
        assert ping.delay().get(timeout=90) == "pong"
        wait_until(lambda: successes() == 1.0, timeout=30, interval=0.1)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
