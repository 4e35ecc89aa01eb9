"""The Celery application. Settings come from Django's settings under the CELERY_ prefix."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthtrack.settings")

app = Celery("healthtrack")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="healthtrack.ping")
def ping() -> str:
    """Round trip through the broker and a worker; used by probes and the worker test."""
    return "pong"
