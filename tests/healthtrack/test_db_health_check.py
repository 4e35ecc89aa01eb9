"""The database connection's health check (healthtrack/db/base.py): a persistent connection
whose socket has nothing to read is used without a `SELECT 1` round trip; one the server ended
(`pg_terminate_backend`, as a restart or an idle timeout does) is replaced before the request
uses it, so the request succeeds. On PostgreSQL (CI); SQLite has no such connection."""

from __future__ import annotations

import select

import psycopg
import pytest
from django.db import close_old_connections, connection
from django.db.backends.postgresql import base as django_postgresql

from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the health check of a persistent PostgreSQL connection")


@pytest.fixture
def round_trips(monkeypatch):
    """How many times the check fell back to Django's `SELECT 1`."""
    calls = []
    django_is_usable = django_postgresql.DatabaseWrapper.is_usable

    def counted(self):
        calls.append(self.alias)
        return django_is_usable(self)

    monkeypatch.setattr(django_postgresql.DatabaseWrapper, "is_usable", counted)
    return calls


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def from_another_connection(sql: str, params: list) -> object:
    settings = connection.get_connection_params()
    settings.pop("context", None)
    settings.pop("cursor_factory", None)
    with psycopg.connect(**settings, autocommit=True) as other:
        return other.execute(sql, params).fetchone()[0]


def terminate(pid: int) -> None:
    """Ends that backend (as a restart or an idle timeout does) and waits until it exited."""
    assert from_another_connection("SELECT pg_terminate_backend(%s, 5000)", [pid])


def wait_readable(sock: int) -> None:
    assert select.select([sock], [], [], 5)[0], "the server sent nothing"


def next_request_cycle() -> None:
    """What Django runs between two requests (request_finished, request_started)."""
    close_old_connections()


def test_an_idle_connection_is_usable_without_asking_the_server(round_trips):
    pid = backend_pid()
    next_request_cycle()

    assert connection.is_usable()
    assert round_trips == []
    assert backend_pid() == pid  # the same connection, kept


def test_a_connection_whose_backend_was_terminated_is_replaced_before_use(round_trips):
    pid = backend_pid()
    next_request_cycle()
    terminate(pid)
    wait_readable(connection.connection.pgconn.socket)

    assert not connection.is_usable()
    # The next query (the request's first) runs on a new connection instead of failing.
    assert backend_pid() != pid
    assert UserFactory().pk


def test_the_next_request_after_its_backend_was_terminated_succeeds(client):
    user = UserFactory()
    client.force_login(user)
    pid = backend_pid()
    next_request_cycle()
    terminate(pid)
    wait_readable(connection.connection.pgconn.socket)

    assert client.get("/api/v1/users/me").status_code == 200
    assert backend_pid() != pid


def test_anything_else_on_the_socket_is_checked_with_a_round_trip(round_trips):
    """A notification (or a notice, a parameter change) the server sent on its own: the check
    asks the server, which reads it, and keeps the connection."""
    pid = backend_pid()
    with connection.cursor() as cursor:
        cursor.execute("LISTEN healthtrack_health_check")
    from_another_connection("SELECT pg_notify('healthtrack_health_check', %s)", ["x"])
    wait_readable(connection.connection.pgconn.socket)
    next_request_cycle()

    assert connection.is_usable()
    assert round_trips == ["default"]
    assert backend_pid() == pid


def test_a_transaction_in_error_is_not_usable(round_trips):
    connection.set_autocommit(False)
    try:
        with pytest.raises(psycopg.errors.DivisionByZero):
            connection.connection.execute("SELECT 1 / 0")
        assert not connection.is_usable()
    finally:
        connection.connection.rollback()
        connection.set_autocommit(True)
    assert round_trips == []
