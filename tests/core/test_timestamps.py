"""PostgreSQL timestamps are read by psycopg's C loader, giving exactly the datetimes Django's
own loader gives (healthtrack/core/timestamps.py)."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader

from healthtrack.core.timestamps import TIMESTAMPTZ_OID, UTCTimestamptzLoader

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's loaders"),
]

VALUES = [
    "2026-03-31 23:59:59.999999+00",
    "2026-03-29 01:30:00+02",
    "1901-12-13 20:45:52.5-05:30",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
]


def _read(cursor) -> list[datetime.datetime]:
    cursor.execute("SELECT v::timestamptz FROM unnest(%s::text[]) AS v", [VALUES])
    return [row[0] for row in cursor.fetchall()]


def test_connections_read_timestamps_with_the_c_loader():
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, 0)
    assert loader is UTCTimestamptzLoader


def test_the_c_loader_gives_djangos_datetimes(django_user_model):
    with connection.cursor() as cursor:
        fast = _read(cursor)
    with connection.cursor() as cursor:

        class DjangosLoader(BaseTzLoader):
            timezone = datetime.UTC

        cursor.cursor.adapters.register_loader("timestamptz", DjangosLoader)
        djangos = _read(cursor)
    assert fast == djangos
    assert [value.tzinfo for value in fast] == [datetime.UTC] * len(VALUES)
    assert fast[1] == datetime.datetime(2026, 3, 28, 23, 30, tzinfo=datetime.UTC)
    user = django_user_model.objects.create(username="t")
    user.refresh_from_db()
    assert user.date_joined.tzinfo is datetime.UTC
