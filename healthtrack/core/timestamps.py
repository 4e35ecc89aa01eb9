"""PostgreSQL `timestamptz` values read by psycopg's C loader (issue 15).

Django's psycopg backend registers on every connection a `timestamptz` loader that subclasses
psycopg's pure-Python one (to set the connection's time zone on each value): ~2.5 µs per value
on this machine against ~0.4 µs for psycopg's C loader, and a page of 100 measurements holds
~280 of them (~0.7 ms of a list's miss). When Django's time zone for the connection is UTC and
the session's is UTC too (what Django sets with USE_TZ and no database TIME_ZONE), the C
loader returns the same datetimes (their tzinfo the same `datetime.timezone.utc` object), so
it is registered on each new connection instead (`on_connection_created`, connected in
`CoreConfig.ready`). Anything else (another zone, the pure-Python psycopg) keeps Django's.
"""

from __future__ import annotations

import datetime

import psycopg
from psycopg.adapt import Loader
from psycopg.pq import Format
from psycopg.types.datetime import TimestamptzLoader as PythonTimestamptzLoader

TIMESTAMPTZ_OID = 1184
# psycopg's default loader: the C one when its compiled implementation is installed.
_C_LOADER = psycopg.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)


class UTCTimestamptzLoader(Loader):
    """psycopg's C `timestamptz` loader, with the `timezone` Django's cursors compare with
    theirs (equal: they register nothing of their own)."""

    timezone = datetime.UTC

    def __init__(self, oid, context=None):
        super().__init__(oid, context)
        self._load = _C_LOADER(oid, context).load

    def load(self, data):
        return self._load(data)


def on_connection_created(sender, connection, **kwargs) -> None:
    if (
        connection.vendor != "postgresql"
        or connection.timezone is not datetime.UTC
        or _C_LOADER is None
        or issubclass(_C_LOADER, PythonTimestamptzLoader)
    ):
        return
    raw = connection.connection
    if raw.info.parameter_status("TimeZone") != "UTC":
        return
    raw.adapters.register_loader("timestamptz", UTCTimestamptzLoader)
