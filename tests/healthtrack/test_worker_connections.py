"""A Celery worker keeps its database connection between tasks, as a web process does between
requests: closed when it outlived CONN_MAX_AGE or broke, kept otherwise (issue 15)."""

from __future__ import annotations

import time

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.conf import settings
from django.db import connection

from healthtrack.celery import app, ping, recycle_old_connections

pytestmark = pytest.mark.django_db(transaction=True)


def run_task_signals(task=ping):
    recycle_old_connections(sender=task)


@pytest.fixture
def closable():
    """SQLite's in-memory test database ignores close(): these run on PostgreSQL (CI)."""
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("the in-memory SQLite test database is never closed")


def test_celerys_fixup_leaves_connections_open_between_tasks():
    fixup = DjangoWorkerFixup(app)

    assert fixup.db_reuse_max == settings.CELERY_DB_REUSE_MAX > 0
    connection.ensure_connection()
    opened = connection.connection
    fixup.close_database()  # what the fixup runs before and after each task
    assert connection.connection is opened


def test_a_connection_past_its_age_is_closed_before_the_next_task(closable):
    connection.ensure_connection()
    connection.close_at = time.monotonic() - 1

    run_task_signals()

    assert connection.connection is None


def test_a_connection_within_its_age_is_kept_for_the_next_task():
    connection.ensure_connection()
    opened = connection.connection
    connection.close_at = time.monotonic() + 60

    run_task_signals()

    assert connection.connection is opened


def test_a_task_run_eagerly_leaves_its_callers_connection_alone(closable):
    connection.ensure_connection()
    opened = connection.connection
    connection.close_at = time.monotonic() - 1
    ping.push_request(is_eager=True)
    try:
        run_task_signals()
    finally:
        ping.pop_request()

    assert connection.connection is opened
