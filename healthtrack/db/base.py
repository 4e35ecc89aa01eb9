"""Django's PostgreSQL backend whose connection health check decides from local state first.

With CONN_HEALTH_CHECKS Django checks a persistent connection before its first use in each
request by running `SELECT 1` (`is_usable()`): a round trip that costs the web process and the
PostgreSQL backend CPU on every request that touches the database (issue 15). A server that
ends a connection (a restart, `pg_terminate_backend`, an idle timeout, PgBouncer going away)
first sends an error and closes the socket, so an idle connection whose socket has nothing to
read, in a good state and with no transaction in error, is usable without asking. Anything on
the socket (the server's goodbye, or a notice or parameter change it sent on its own) falls
back to Django's `SELECT 1`, which reads it: the check never says usable where Django's
would not, except for a connection that died silently (a host gone without closing the
socket), which `SELECT 1` cannot tell in time either.
"""

from __future__ import annotations

import select

import psycopg
from django.db.backends.postgresql import base
from psycopg import pq

# Transaction states in which a connection can be used: idle, or inside a transaction that
# has not failed. ACTIVE (a query pending), INERROR and UNKNOWN (broken) are not.
USABLE_TRANSACTION_STATES = frozenset((pq.TransactionStatus.IDLE, pq.TransactionStatus.INTRANS))


def has_pending_input(fileno: int) -> bool:
    """Whether the server sent anything (data, end of file, an error) not yet read."""
    poller = select.poll()
    poller.register(fileno, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        pgconn = connection.pgconn
        if (
            pgconn.status != pq.ConnStatus.OK
            or pgconn.transaction_status not in USABLE_TRANSACTION_STATES
        ):
            return False
        try:
            quiet = not has_pending_input(pgconn.socket)
        except (OSError, ValueError, psycopg.Error):
            quiet = False
        return quiet or super().is_usable()
