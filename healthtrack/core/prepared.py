"""A cursor whose statements PostgreSQL plans once per connection.

Django's psycopg backend binds parameters on the client, so PostgreSQL parses and plans every
statement it runs. For the few statements a measurement write runs while it holds the
person's lock (the rollups' upserts, the change feed's lock and append, the receivers'
checks), planning cost more than running them: the change feed's append is planned in
~0.3 ms and runs in ~0.1 ms. `prepared_cursor()` binds on the server instead (Django's
`ServerBindingCursor`) and has psycopg prepare each statement on its first run on the
connection (`prepare=True`): later runs skip parsing and planning (after five custom plans
PostgreSQL keeps a generic one when it costs no more). A rollback makes psycopg drop its
prepared statements (they are prepared again on the next run).

It is Django's cursor wrapper around it, so error translation, `execute_wrapper`s and the test
suite's query capture see these statements as any other. Elsewhere (SQLite, or behind
PgBouncer in transaction mode, `DISABLE_SERVER_SIDE_CURSORS`, where a prepared statement
does not survive the next transaction's server) it is the ordinary cursor.

Use it only for statements whose text is one of a few fixed variants (psycopg keeps at most
`prepared_max` per connection, least recently used out) and whose parameters are plain
values (strings are sent untyped, as with client-side binding, and take the column's type).
"""

from __future__ import annotations

from django.db import connection
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg.pq import Format

TIMESTAMPTZ_OID = 1184


# Django turns psycopg's preparing off (`prepare_threshold` None) unless OPTIONS set it; the
# cursor below asks for it per statement, which needs it on. Django's own cursors bind on the
# client and never prepare, so this number changes nothing for them.
_THRESHOLD_FOR_OTHERS = 1_000_000_000


def prepared_cursor():
    if connection.vendor != "postgresql" or connection.settings_dict.get(
        "DISABLE_SERVER_SIDE_CURSORS"
    ):
        return connection.cursor()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = connection.connection
        if raw.prepare_threshold is None:
            raw.prepare_threshold = _THRESHOLD_FOR_OTHERS
        # As Django's `create_cursor`, with its server-binding cursor class.
        cursor = _cursor_class()(raw)
        tz = connection.timezone
        if raw.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT).timezone != tz:
            register_tzloader(tz, cursor)
        return connection._prepare_cursor(cursor)


_CLASS = None


def _cursor_class():
    global _CLASS
    if _CLASS is None:
        from django.db.backends.postgresql.base import ServerBindingCursor

        class PreparingCursor(ServerBindingCursor):
            def execute(self, query, params=None, **kwargs):
                return super().execute(query, params, prepare=True)

            def _convert_query(self, query, params=None):
                # A prepared run leaves `_query` unset, which is where Django reads the
                # statement it logs (DEBUG, the test suite's query capture): set it here.
                self._query = super()._convert_query(query, params)
                return self._query

        _CLASS = PreparingCursor
    return _CLASS
