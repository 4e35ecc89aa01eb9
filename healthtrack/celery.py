"""The Celery application. Settings come from Django's settings under the CELERY_ prefix."""

from __future__ import annotations

import os

from celery import Celery, signals

from healthtrack import observability

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthtrack.settings")

app = Celery("healthtrack")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Task outcome counters for /metrics, and a worker's own metrics port (WORKER_METRICS_PORT).
signals.task_success.connect(observability.count_success, weak=False)
signals.task_failure.connect(observability.count_failure, weak=False)
signals.task_retry.connect(observability.count_retry, weak=False)
signals.worker_init.connect(observability.start_worker_metrics_server, weak=False)


@app.task(name="healthtrack.ping")
def ping() -> str:
    """Round trip through the broker and a worker; used by probes and the worker test."""
    return "pong"
