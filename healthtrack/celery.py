"""The Celery application. Settings come from Django's settings under the CELERY_ prefix."""

from __future__ import annotations

import functools
import os
import time

from celery import Celery, signals
from celery.worker import consumer
from django.db import close_old_connections
from prometheus_client import Counter

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


def recycle_old_connections(sender=None, **kwargs) -> None:
    """Before and after each task a worker runs, what Django does around each request: close
    a database connection that broke or outlived CONN_MAX_AGE, and check the others before
    their next use (CONN_HEALTH_CHECKS). Celery's Django fixup leaves them open between tasks
    when CELERY_DB_REUSE_MAX is set. A task run eagerly (in a request or a test) is left alone:
    it shares its caller's connection and transaction."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    close_old_connections()


# CPU seconds of the thread that ran each task, from before its prerun signal's receivers to
# after its postrun's (the task's own work, its database checks and metrics), by task: with
# `healthtrack_celery_tasks_total`, what a task of each kind costs; the worker's CPU beyond it
# is Celery's own per task (broker, acks, pool). bench/load.py reads it for its cost model.
TASK_CPU = Counter(
    "healthtrack_celery_task_cpu_seconds", "CPU seconds spent running tasks, by task.", ["task"]
)
_task_cpu_started: dict[str, float] = {}


def task_cpu_start(task_id=None, task=None, **kwargs) -> None:
    if task_id is not None and not getattr(task.request, "is_eager", False):
        _task_cpu_started[task_id] = time.thread_time()


def task_cpu_stop(task_id=None, task=None, **kwargs) -> None:
    started = _task_cpu_started.pop(task_id, None)
    if started is not None:
        TASK_CPU.labels(task=task.name).inc(time.thread_time() - started)


# in this order: the CPU count starts before the connection checks and stops after them
signals.task_prerun.connect(task_cpu_start, weak=False)
signals.task_prerun.connect(recycle_old_connections, weak=False)
signals.task_postrun.connect(recycle_old_connections, weak=False)
signals.task_postrun.connect(task_cpu_stop, weak=False)


@app.task(name="healthtrack.ping")
def ping() -> str:
    """Round trip through the broker and a worker; used by probes and the worker test."""
    return "pong"


class Consumer(consumer.Consumer):
    """The worker's broker consumer (CELERY_WORKER_CONSUMER), with two changes:

    - It survives losing the broker with tasks in flight. Celery 5.7.0's
      `on_connection_error_after_connected` calls `connection.collect()`, which detaches the
      transport (`transport.client = None`) but keeps the default channel, then
      `connection.close()`, which closes that channel: kombu's Redis channel restores its
      unacknowledged messages (a countdown task, an acks_late task running) through a new
      pool built from `transport.client.hostname`, and the AttributeError kills the worker
      for good ("Unrecoverable error"). Celery 5.6 did not close after collect. Here the
      close that follows a collect forgets the detached channel, as 5.6 did; the unacked
      messages stay in Redis and are redelivered (visibility timeout). docs/operations-faults.md
    - It reconnects at most WORKER_BROKER_RETRY_MAX_SECONDS apart (Celery waits 2, 4, 6 ...
      30 s, so after a long outage the worker could idle for 30 s with the broker back).
    """

    def on_connection_error_after_connected(self, exc):
        connection = self.connection
        if connection is not None:
            close = connection.close

            def close_after_collect():
                if connection._transport is None:  # collect() ran: nothing left to close
                    connection._default_channel = None
                    connection._connection = None
                return close()

            connection.close = close_after_collect
        return super().on_connection_error_after_connected(exc)

    def ensure_connected(self, conn):
        from django.conf import settings

        pause = float(settings.WORKER_BROKER_RETRY_MAX_SECONDS)
        conn.ensure_connection = functools.partial(
            conn.ensure_connection, interval_start=0, interval_step=pause, interval_max=pause
        )
        return super().ensure_connected(conn)
