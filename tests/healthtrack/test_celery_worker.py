"""A task through a real Celery worker process over Redis (only when REDIS_URL is set)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from healthtrack.celery import app, ping

# The worker or server runs in another process, on the real clock.
pytestmark = pytest.mark.real_clock

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL (a real broker)")
def test_a_real_worker_runs_a_task_over_redis():
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "healthtrack",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "CELERY_TASK_ALWAYS_EAGER": "false"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    app.conf.task_always_eager = False
    try:
        result = ping.delay()
        assert result.get(timeout=90) == "pong"
        assert result.successful()
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()


@pytest.mark.parametrize(
    "task_name, queue",
    [
        ("metrics.tasks.recompute_rollups", "ingest"),
        ("insights.tasks.compute_recommendations", "recommendations"),
        ("metrics.tasks.import_apple_health", "imports"),
        ("accounts.tasks.purge_deleted_accounts", "maintenance"),
        ("healthtrack.ping", "default"),
    ],
)
def test_tasks_are_routed_to_their_queue(task_name, queue):
    route = app.amqp.router.route({}, task_name)
    assert route["queue"].name == queue
