"""A task through a real Celery worker process over Redis (only when REDIS_URL is set)."""

from __future__ import annotations

import pytest
from django.conf import settings

from healthtrack.celery import app, ping
from tests.healthtrack.servers import celery_worker

# The worker or server runs in another process, on the real clock.
pytestmark = pytest.mark.real_clock


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL (a real broker)")
def test_a_real_worker_runs_a_task_over_redis():
    with celery_worker():
        app.conf.task_always_eager = False
        result = ping.delay()
        assert result.get(timeout=90) == "pong"
        assert result.successful()


@pytest.mark.parametrize(
    "task_name, queue",
    [
        ("metrics.tasks.recompute_rollups", "ingest"),
        ("insights.compute_recommendations", "recommendations"),
        ("metrics.tasks.import_apple_health", "imports"),
        ("accounts.tasks.purge_deleted_accounts", "maintenance"),
        ("healthtrack.ping", "default"),
    ],
)
def test_tasks_are_routed_to_their_queue(task_name, queue):
    route = app.amqp.router.route({}, task_name)
    assert route["queue"].name == queue
