"""The Celery application. Settings come from Django's settings under the CELERY_ prefix."""

from __future__ import annotations

import functools
import os

from celery import Celery, signals
from celery.worker import consumer

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


class Consumer(consumer.Consumer):
    """The worker's broker consumer, reconnecting at most WORKER_BROKER_RETRY_MAX_SECONDS
    apart. Celery's consumer retries 2, 4, 6 ... 30 s apart, so after a long broker outage the
    worker could sit idle for up to 30 s after the broker is back."""

    def ensure_connected(self, conn):
        from django.conf import settings

        pause = float(settings.WORKER_BROKER_RETRY_MAX_SECONDS)
        conn.ensure_connection = functools.partial(
            conn.ensure_connection, interval_start=0, interval_step=pause, interval_max=pause
        )
        return super().ensure_connected(conn)
