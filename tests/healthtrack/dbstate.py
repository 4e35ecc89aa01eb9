"""A fingerprint of the whole database: every model's table, its row count and a hash of its
rows. Tests take one before and after a request that must change nothing and compare."""

from __future__ import annotations

import hashlib

from django.apps import apps
from django.db import connection

# Bookkeeping that a refused request may legitimately touch (a session being read back).
IGNORED_TABLES = {"django_session"}


def _tables() -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.proxy or not meta.managed or meta.db_table in IGNORED_TABLES:
            continue
        seen.setdefault(meta.db_table, meta.pk.column)
    return sorted(seen.items())


def snapshot() -> dict[str, tuple[int, str]]:
    """{table: (row count, sha256 of its rows in primary-key order)} for every model."""
    state = {}
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table, pk in _tables():
            cursor.execute(f"SELECT * FROM {qn(table)} ORDER BY {qn(pk)}")  # noqa: S608
            rows = cursor.fetchall()
            digest = hashlib.sha256(repr(rows).encode()).hexdigest()
            state[table] = (len(rows), digest)
    return state


def changed_tables(before: dict, after: dict) -> list[str]:
    """Tables whose count or rows differ, with their counts: "table (3 -> 4 rows)"."""
    out = []
    for table in sorted(set(before) | set(after)):
        if before.get(table) != after.get(table):
            b = before.get(table, (0, ""))[0]
            a = after.get(table, (0, ""))[0]
            out.append(f"{table} ({b} -> {a} rows)")
    return out
