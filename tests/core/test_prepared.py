"""healthtrack.core.prepared: the statements a measurement write runs under the person's lock
are planned once per connection on PostgreSQL, give the same answers, are seen by Django's
query capture, and survive a rolled-back transaction; behind PgBouncer (transaction mode) and
on SQLite the cursor is the ordinary one."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from healthtrack.core.prepared import prepared_cursor

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's"
)

SQL = "SELECT %s + 1, %s"


def _run(a: int, b: str) -> tuple:
    with prepared_cursor() as cursor:
        cursor.execute(SQL, [a, b])
        return cursor.fetchone()


def _prepared_here() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_prepared_statement_answers_as_the_ordinary_cursor():
    assert _run(41, "zone") == (42, "zone")
    assert _run(1, "again") == (2, "again")


def test_prepared_statements_are_captured_like_any_other():
    with CaptureQueriesContext(connection) as queries:
        _run(1, "x")
    assert any("+ 1" in q["sql"] for q in queries.captured_queries)


@on_postgresql
def test_a_statement_is_planned_once_per_connection():
    _run(1, "a")
    _run(2, "b")
    assert _prepared_here().count("SELECT $1 + 1, $2") == 1


@on_postgresql
def test_a_statement_prepared_in_a_rolled_back_transaction_is_prepared_again():
    with pytest.raises(RuntimeError), transaction.atomic():
        assert _run(1, "a") == (2, "a")
        raise RuntimeError
    assert _run(2, "b") == (3, "b")
    with transaction.atomic():
        assert _run(3, "c") == (4, "c")


@on_postgresql
def test_behind_pgbouncer_nothing_is_prepared(monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "DISABLE_SERVER_SIDE_CURSORS", True)
    assert _run(5, "pooled") == (6, "pooled")
    assert "SELECT $1 + 1, $2" not in _prepared_here()
