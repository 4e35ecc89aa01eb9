"""Every write on measurements and devices. Each function is atomic, keeps the rollups right
and sends `metrics.signals.measurements_changed` inside its transaction (the receivers record
their follow-up work in it), and on commit invalidates the summary cache."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from auditlog.models import LogEntry
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_redis import get_redis_connection
from django_redis.cache import RedisCache
from psycopg.types.json import JsonbBinaryDumper
from redis.exceptions import RedisError

from healthtrack.core import audit_rows
from healthtrack.core import days as calendar
from healthtrack.core.prepared import prepared_cursor
from metrics import rollups
from metrics.models import Device, HealthMetric, IdempotencyRecord
from metrics.registry import METRIC_TYPES, SUMMED_TYPES, get_metric_type
from metrics.signals import measurements_changed
from metrics.signals import rollups_recut as rollups_recut_signal
from metrics.validation import (
    FIELDS,
    blood_pressure_batch_errors,
    check_blood_pressure_partner,
    clean_device,
    clean_measurement,
    clean_or_raise,
    clean_plain_sample,
    future_limit,
)

logger = logging.getLogger(__name__)

MAX_SYNC_SAMPLES = 5000
IDEMPOTENCY_TTL = timedelta(hours=24)
SUMMARY_MAX_DAYS = 365
SUMMARY_CACHE_TTL = 300
# Fields of a measurement that a sync or an upsert may change in place (not its identity).
MUTABLE_FIELDS = [field for field in FIELDS if field != "external_id"]


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different request body."""


def summary_version_key(user_id: int) -> str:
    """The person's summary version token: the cached summary responses and whole lists
    (accounts.api.readcache) are served only while it is unchanged; a write deletes it. The
    summary's pieces per type (`metrics.summary_cache`) are kept under `type_version_key`."""
    return f"metrics_summary:user:{user_id}:version"


def type_version_key(user_id: int, metric_type: str) -> str:
    """The version token of the person's data of one metric type: an answer that reads that
    type only (a list filtered to it, its aggregates) is guarded by it instead of
    `summary_version_key`, so a write of another type leaves that answer servable. Deleted
    with the summary's token by every write of that type, and by every write whose types are
    not named (`invalidate_summary_cache`)."""
    return f"metrics_summary:user:{user_id}:version:{metric_type}"


def _version_keys(user_id: int, metric_types) -> list[str]:
    """The summary's token and those of `metric_types` (None: every registry type)."""
    codes = METRIC_TYPES if metric_types is None else sorted(metric_types)
    return [summary_version_key(user_id)] + [type_version_key(user_id, c) for c in codes]


def invalidate_summary_cache(user_id: int, metric_types=None) -> None:
    """Drop the person's cached summaries and whole lists (their summary version token: every
    payload and response stored under it is then never served again) and the version token
    of each of `metric_types`, the types the write changed (None, when a writer does not name
    them: every type's). One command."""
    backend = caches["default"]
    tokens = _version_keys(user_id, metric_types)
    if not isinstance(backend, RedisCache):
        backend.delete_many(tokens)
        return
    try:
        get_redis_connection("default").unlink(*(backend.make_key(t) for t in tokens))
    except RedisError:
        # As the cache itself (IGNORE_EXCEPTIONS): Redis down means no summary is served
        # from it either; entries expire within SUMMARY_CACHE_TTL.
        logger.warning("summary cache invalidation failed: Redis unavailable")


_LOCK_SQL = "SELECT pg_advisory_xact_lock(%s, %s)"
# The lock and the owner's zone in one round trip (`_lock_owner_reading_zone`); with
# `_UNFLUSHED`, this transaction's commit does not wait for the disk (`_flush_after_unlock`).
_LOCK_AND_ZONE_SQL = (
    'SELECT pg_advisory_xact_lock(%s, %s), (SELECT "time_zone" FROM "accounts_user"'
    ' WHERE "id" = %s){unflushed}'
)
_UNFLUSHED = ", set_config('synchronous_commit', 'off', true)"


def _lock_owner(user_id: int) -> None:
    """Serialise writes of one person's measurements, so that two transactions recomputing
    the same day cannot each miss the other's rows. SQLite serialises writers already."""
    if connection.vendor == "postgresql":
        with prepared_cursor() as cursor:
            cursor.execute(_LOCK_SQL, [0x4D54, user_id])


def _lock_owner_reading_zone(user_id: int, *, flush_after_unlock: bool) -> tzinfo:
    """`_lock_owner`, returning the owner's zone (`_zone_of`) read in the same statement.
    `flush_after_unlock` (from `_flush_after_unlock()`): the commit releases the lock without
    waiting for the disk; the wait comes right after it.

    The zone is read in the statement's snapshot, taken before the lock was granted: when a
    change of zone commits while this write waits for the lock, the write cuts its rollups
    in the old zone. It is still right in the end: the recut that follows every change of
    zone (`rollups_recut`, sent after that commit) asks for the lock after this write did,
    so it runs after this write and cuts everything again from the raw rows."""
    if connection.vendor != "postgresql":
        return _zone_of(user_id)
    sql = _LOCK_AND_ZONE_SQL.format(unflushed=_UNFLUSHED if flush_after_unlock else "")
    with prepared_cursor() as cursor:
        cursor.execute(sql, [0x4D54, user_id, user_id])
        return calendar.zone_named(cursor.fetchone()[1])


def _wait_for_disk() -> None:
    """Return once everything committed so far on this connection is on disk, as durably as
    the server's own `synchronous_commit` makes a commit: a transaction that takes an id
    writes a commit record after the write's, and its commit waits for the WAL to be flushed
    up to that record, so up to the write's too. Several workers waiting share one flush."""
    with prepared_cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()")


def _flush_after_unlock() -> bool:
    """Whether this write's commit may release the person's lock before its WAL reaches the
    disk, the disk wait (`_wait_for_disk`) following outside the lock; if so, registers the
    wait. One person's writes queue on the lock, so a commit that waited for the disk under
    it (~0.1 ms on a quiet fast disk, ~3 ms on a busy one) made every queued write wait too.

    The write is still durable before its caller goes on (an API's 201): the wait is the
    transaction's first commit callback, so it runs before every other one (outbox sends,
    cache invalidation) and before the service returns. Only for a transaction this service
    opened (PostgreSQL, outermost, nothing waiting on its commit yet): in a caller's
    transaction the commit is the caller's. What the write committed is visible to others
    during the wait; a crash in it loses the write as it would lose a commit that had not
    returned, and whatever commits after it is in the WAL after it, so lost with it."""
    if (
        connection.vendor != "postgresql"
        or len(connection.atomic_blocks) != 1
        or connection.run_on_commit
    ):
        return False
    transaction.on_commit(_wait_for_disk)
    return True


@functools.cache
def _insert_locked_sql(
    unflushed: bool, folded: str | None = None, companions: tuple[str, str] | None = None
) -> tuple[str, tuple]:
    """`_insert_locked`'s statement and the measurement's columns it inserts, in order
    (`audit_rows.column_preparers`). `folded`: the rollups' upserts
    (`rollups.folded_upserts`), run from `g`: the sample's user, type and value, one row
    after the lock when the zone read is the one guessed (parameters after the lock's).
    `companions`: the CTEs and the columns of `fold_into_inserts`' statements (parameters
    after the upserts')."""
    opening, fields = audit_rows.row_and_entry_sql(HealthMetric, "m")
    # Names from the models' metadata, values as parameters.
    locked = (
        "SELECT m.id, pg_advisory_xact_lock(%s, %s) AS locked, "  # noqa: S608
        '(SELECT "time_zone" FROM "accounts_user"'
        f' WHERE "id" = %s) AS zone{_UNFLUSHED if unflushed else ""} FROM m'
    )
    if folded is None and companions is None:
        return f"{opening}{locked}", fields
    sql = f"{opening.rstrip()}, lk AS ({locked}), "  # noqa: S608
    columns = ""
    if folded is not None:
        sql += (
            "g AS (SELECT %s::bigint AS user_id,"  # noqa: S608
            " %s::varchar AS metric_type, %s::float8 AS value FROM lk"
            f" WHERE zone IS NOT DISTINCT FROM %s), {folded}, "
        )
        columns = ", (SELECT count FROM day_up), ARRAY(SELECT count FROM periods_up)"
    if companions is not None:
        sql += f"{companions[0]}, "
        columns += companions[1]
    return f"{sql.rstrip(', ')} SELECT lk.*{columns} FROM lk", fields  # noqa: S608


#: A plain insert's follow-up statements folded into its own statement (PostgreSQL): name ->
#: function of the writing person's id returning (CTEs, which read the inserted and locked
#: row from `lk` (`lk.id`) and run after the person's lock; their parameters; the answers,
#: each (name, scalar SQL, parameters)). The answers are left in `measurements_changed`'s
#: `facts` under their names. Registered by the apps that would otherwise run a statement of
#: their own on every write (the change feed: `healthtrack.changes.receivers`).
Companion = Callable[[int], tuple[str, list[Any], list[tuple[str, str, list[Any]]]]]
_INSERT_COMPANIONS: dict[str, Companion] = {}


def fold_into_inserts(name: str, companion: Companion) -> None:
    """Have every plain insert of one measurement run `companion`'s CTEs in its statement
    (see `_INSERT_COMPANIONS`)."""
    _INSERT_COMPANIONS[name] = companion


def _companions(user_id: int) -> tuple[tuple[str, str] | None, list[Any], list[str]]:
    """The registered companions' SQL (CTEs, columns), parameters and answer names."""
    if not _INSERT_COMPANIONS or _deferred.get() is not None:
        return None, [], []
    ctes, columns, params, names, answer_params = [], [], [], [], []
    for companion in _INSERT_COMPANIONS.values():
        sql, sql_params, answers = companion(user_id)
        ctes.append(sql)
        params += sql_params
        for name, answer, answer_sql_params in answers:
            names.append(name)
            columns.append(f", ({answer})")
            answer_params += answer_sql_params
    return (", ".join(ctes), "".join(columns)), params + answer_params, names


# The upserts read their row from `g` (`_insert_locked_sql`).
_FOLDED_SOURCE = "g"


def _insert_locked(
    user, cleaned: dict[str, Any], *, flush_after_unlock: bool
) -> tuple[HealthMetric, tzinfo, tuple[int, list[int]] | None, dict[str, Any]] | None:
    """Insert a measurement and its audit entry, take the person's lock and read their zone
    (`_lock_owner_reading_zone`), in one statement on PostgreSQL: the lock is taken on the
    inserted row's output, so after the row is written as before (the entry's CTE, which the
    output does not read, runs when the statement ends); the zone is read in the statement's
    snapshot, as before. The entry is the one django-auditlog writes on the model's
    `post_save` (`healthtrack.core.audit_rows`). None when this does not apply (not
    PostgreSQL, or auditlog would not write its entry that way): the ORM saves it.

    An averaged type's rollups are added in the same statement too, after the lock (their
    CTEs read the locked row), in the zone read: the request's user object guesses it (its
    `time_zone`), the upserts run only when the statement reads the same name, and the last
    item is then (the day row's count, the period rows' counts) for `rollups.sample_added`;
    None when they did not run (a latest type, or the zone changed): `_after_write` adds
    the sample. Their delta upserts read no other row: `ON CONFLICT DO UPDATE` updates the
    rollup row's newest version, committed by any writer that held the lock before.
    The companions' statements (`fold_into_inserts`) run in it too, after the lock, whatever
    the zone; the last item is their answers (name -> value)."""
    if connection.vendor != "postgresql":
        return None
    metric = HealthMetric(user=user, **cleaned)
    # The row's values first: preparing them sets its `auto_now_add` fields, which the
    # entry's diff shows.
    row = audit_rows.column_values(_insert_locked_sql(flush_after_unlock)[1], metric)
    entry = audit_rows.created_entry(metric)
    if entry is None:
        return None
    guess = getattr(user, "time_zone", None)
    folded = rollups.folded_upserts(
        user_id=user.pk,
        metric_type=metric.metric_type,
        value=metric.value,
        at=metric.recorded_at,
        tz=calendar.zone_named(guess),
        source=_FOLDED_SOURCE,
    )
    folded_sql, folded_params = folded if folded is not None else (None, [])
    companions, companion_params, answer_names = _companions(user.pk)
    sql, _ = _insert_locked_sql(flush_after_unlock, folded_sql, companions)
    params = [*row, *entry, 0x4D54, user.pk, user.pk]
    if folded is not None:
        params += [user.pk, metric.metric_type, metric.value, guess, *folded_params]
    params += companion_params
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchone()
    pk, zone = found[0], found[2]
    rest = found[4 if flush_after_unlock else 3 :]
    added = None
    if folded is not None:
        if rest[0] is not None:
            added = rest[0], list(rest[1])
        rest = rest[2:]
    metric.pk = pk
    metric._state.adding = False
    metric._state.db = connection.alias
    return metric, calendar.zone_named(zone), added, dict(zip(answer_names, rest, strict=True))


def _zone_of(user_id: int) -> tzinfo:
    """`calendar.zone_of(user_id)` in plain SQL: read under the person's lock on every write,
    where building the ORM query cost more than running it."""
    with prepared_cursor() as cursor:
        cursor.execute('SELECT "time_zone" FROM "accounts_user" WHERE "id" = %s', [user_id])
        found = cursor.fetchone()
    return calendar.zone_named(found[0] if found else None)


def _span(metric: HealthMetric | dict) -> tuple[datetime, datetime]:
    get = metric.get if isinstance(metric, dict) else lambda k: getattr(metric, k)
    start = get("recorded_at")
    return start, get("end_at") or start


class DeferredRollups:
    """The spans written inside `rollups_deferred()`, by user and metric type, merged as they
    come (nearby spans share one recomputation), until `flush()`."""

    def __init__(self) -> None:
        self.touched: dict[int, dict[str, list[tuple[datetime, datetime]]]] = defaultdict(
            lambda: defaultdict(list)
        )

    def add(self, user_id: int, touched: dict[str, list[tuple[datetime, datetime]]]) -> None:
        for code, spans in touched.items():
            runs = self.touched[user_id][code]
            runs.extend(spans)
            runs.sort()
            merged: list[tuple[datetime, datetime]] = []
            for start, end in runs:
                if merged and start <= merged[-1][1] + ROLLUP_MERGE_GAP:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], end))
                else:
                    merged.append((start, end))
            runs[:] = merged

    def flush(self) -> None:
        """Recompute the rollups of every span held (one transaction per user, serialised
        with that user's other writes), then notify on commit as each write would have."""
        pending, self.touched = self.touched, defaultdict(lambda: defaultdict(list))
        token = _deferred.set(None)
        try:
            for user_id, touched in pending.items():
                # A month at a time: a bulk load's merged span can cover years, and the
                # recomputation and the subscribers (change feed, webhooks) read that span.
                for code, spans in touched.items():
                    for chunk in _month_chunks(spans):
                        with transaction.atomic():
                            _lock_owner(user_id)
                            _after_write(user_id, {code: [chunk]})
        finally:
            _deferred.reset(token)


def _month_chunks(spans: list[tuple[datetime, datetime]]) -> Iterator[tuple[datetime, datetime]]:
    """`spans` cut into pieces of at most ROLLUP_FLUSH_CHUNK, in order."""
    for start, end in spans:
        lo = start
        while True:
            hi = min(end, lo + ROLLUP_FLUSH_CHUNK)
            yield lo, hi
            if hi >= end:
                break
            lo = hi


_deferred: ContextVar[DeferredRollups | None] = ContextVar("metrics_rollups_deferred", default=None)
# Written spans closer than this are recomputed in one pass.
ROLLUP_MERGE_GAP = timedelta(days=2)
# The longest span one flush step recomputes and announces (one transaction each).
ROLLUP_FLUSH_CHUNK = timedelta(days=31)


@contextmanager
def rollups_deferred() -> Iterator[DeferredRollups]:
    """For bulk loads (imports): inside the block, writes store their rows but leave the
    rollups, the summary cache and `measurements_changed` to `DeferredRollups.flush()`, which
    the caller runs every so often and which runs again when the block ends (also when it
    ends on an error: the rows committed until then get their rollups). A large import then
    recomputes each day about once instead of once per batch of each device."""
    deferred = DeferredRollups()
    token = _deferred.set(deferred)
    try:
        yield deferred
    finally:
        _deferred.reset(token)
        deferred.flush()


def _after_write(
    user_id: int,
    touched: dict[str, list[tuple[datetime, datetime]]],
    *,
    added: HealthMetric | None = None,
    tz: tzinfo | None = None,
    upserted: tuple[int, list[int]] | None = None,
    facts: dict[str, Any] | None = None,
) -> None:
    """Recompute rollups and notify subscribers now; invalidate the cache on commit. Inside
    `rollups_deferred()`, only note what was touched. `added`: the write only inserted this
    measurement; of an averaged or latest type, its delta is folded into the rollups
    (`rollups.add_sample`) instead of recomputing its day; `upserted`: its write's statement
    did that already (`_insert_locked`), these are the counts it returned; `facts`: what
    its statement answered for `measurements_changed`'s receivers (`fold_into_inserts`)."""
    touched = {code: spans for code, spans in touched.items() if spans}
    if not touched:
        return
    deferred = _deferred.get()
    if deferred is not None:
        deferred.add(user_id, touched)
        return
    if tz is None:
        tz = _zone_of(user_id)  # once per write: the owner's local days
    if added is not None and upserted is not None:
        day_count, counts = upserted
        rollups.sample_added(
            user_id=user_id,
            metric_type=added.metric_type,
            at=added.recorded_at,
            tz=tz,
            day_count=day_count,
            counts=counts,
        )
    elif added is not None and not get_metric_type(added.metric_type).is_summed:
        rollups.add_sample(
            user_id=user_id,
            metric_type=added.metric_type,
            pk=added.pk,
            value=added.value,
            at=added.recorded_at,
            tz=tz,
        )
    else:
        for code, spans in touched.items():
            rollups.recompute_spans(user_id=user_id, metric_type=code, spans=spans, tz=tz)
    start = min(s for spans in touched.values() for s, _ in spans)
    end = max(e for spans in touched.values() for _, e in spans)
    types = set(touched)

    # In the writing transaction: the receivers record their follow-up work (outbox rows,
    # change-feed events) in it, so it commits or rolls back with the write. A receiver's
    # error fails the write rather than dropping its work.
    measurements_changed.send(
        sender=HealthMetric,
        user_id=user_id,
        metric_types=types,
        start=start,
        end=end,
        tz=tz,
        facts={} if facts is None else facts,
    )
    transaction.on_commit(lambda: invalidate_summary_cache(user_id, types), robust=True)


def _owned_devices(user) -> dict[int, Device]:
    return {d.pk: d for d in Device.objects.filter(user=user)}


def _clean(
    user,
    data: dict[str, Any],
    *,
    partner_value: float | None = None,
    exclude_pk: int | None = None,
) -> dict[str, Any]:
    device = data.get("device")
    devices = None
    if device is not None and not hasattr(device, "pk"):
        devices = _owned_devices(user)
    cleaned = clean_or_raise(data, devices=devices)
    if cleaned["device"] is not None and cleaned["device"].user_id != user.pk:
        raise ValidationError({"device": ["Unknown device."]})
    check_blood_pressure_partner(
        user_id=user.pk, cleaned=cleaned, partner_value=partner_value, exclude_pk=exclude_pk
    )
    return cleaned


def _find_by_external_id(user, cleaned: dict[str, Any]) -> HealthMetric | None:
    if not cleaned["external_id"]:
        return None
    qs = HealthMetric.objects.filter(user=user, external_id=cleaned["external_id"])
    if cleaned["device"] is not None:
        qs = qs.filter(device=cleaned["device"])
    else:
        qs = qs.filter(device__isnull=True, source_app=cleaned["source_app"])
    return qs.select_for_update().first()


@transaction.atomic
def metric_upsert(
    *, user, partner_value: float | None = None, **fields: Any
) -> tuple[HealthMetric, bool]:
    """Store one measurement; a known `external_id` (per user and source) updates that row in
    place. Returns (metric, created). Fields are the public ones (`metric_type`, `value`,
    `unit`, `recorded_at`, `end_at`, `device`, `source_app`, `external_id`, `metadata`,
    `notes`); the value is converted to the canonical unit. A blood-pressure half is checked
    against its other half: `partner_value` when both are written together, else the stored
    one (`metrics.validation.check_blood_pressure_partner`)."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"Unknown fields: {sorted(unknown)}")
    cleaned = _clean(user, fields, partner_value=partner_value)
    flush_after_unlock = _flush_after_unlock()
    if not cleaned["external_id"]:
        # A plain insert: the row and its audit entry are written before the person's lock is
        # taken, so the lock is held for less. The rollups are still computed under it: a
        # writer holding it now cannot see this row (uncommitted) and commits before this
        # write reads or adds to the rollups.
        inserted = _insert_locked(user, cleaned, flush_after_unlock=flush_after_unlock)
        upserted, facts = None, None
        if inserted is None:
            metric = HealthMetric.objects.create(user=user, **cleaned)
            tz = _lock_owner_reading_zone(user.pk, flush_after_unlock=flush_after_unlock)
        else:
            metric, tz, upserted, facts = inserted
        _after_write(
            user.pk,
            {metric.metric_type: [_span(metric)]},
            added=metric,
            tz=tz,
            upserted=upserted,
            facts=facts,
        )
        return metric, True
    tz = _lock_owner_reading_zone(user.pk, flush_after_unlock=flush_after_unlock)
    existing = _find_by_external_id(user, cleaned)
    if existing is not None:
        old = (existing.metric_type, _span(existing))
        for name in MUTABLE_FIELDS:
            setattr(existing, name, cleaned[name])
        existing.save(update_fields=MUTABLE_FIELDS)
        touched = defaultdict(list)
        touched[old[0]].append(old[1])
        touched[existing.metric_type].append(_span(existing))
        _after_write(user.pk, touched, tz=tz)
        return existing, False
    metric = HealthMetric.objects.create(user=user, **cleaned)
    _after_write(user.pk, {metric.metric_type: [_span(metric)]}, added=metric, tz=tz)
    return metric, True


def metric_create(*, user, **fields: Any) -> HealthMetric:
    """`metric_upsert`, returning only the stored measurement."""
    return metric_upsert(user=user, **fields)[0]


@transaction.atomic
def exercise_session_create(
    *, user, minutes: int, ended_at: datetime, activity: str, source_app: str
) -> HealthMetric:
    """An exercise session as an `exercise` measurement: `minutes` from `ended_at - minutes` to
    `ended_at`, the activity in its metadata (the insights app's quick log writes through
    this)."""
    return metric_create(
        user=user,
        metric_type="exercise",
        value=minutes,
        unit="min",
        recorded_at=ended_at - timedelta(minutes=minutes),
        end_at=ended_at,
        source_app=source_app,
        metadata={"activity": activity},
    )


@transaction.atomic
def metric_update(
    *, metric: HealthMetric, partner_value: float | None = None, **changes: Any
) -> HealthMetric:
    """Change some fields of a measurement (the rest keep their values); validated as a
    whole, so a partial change cannot leave an invalid row (`partner_value`: as for
    `metric_upsert`)."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise TypeError(f"Unknown fields: {sorted(unknown)}")
    current = {name: getattr(metric, name) for name in FIELDS}
    if "value" in changes and "unit" not in changes:
        current["unit"] = None  # a new value without a unit is in the canonical unit
    if "metric_type" in changes and "unit" not in changes:
        current["unit"] = None
    cleaned = _clean(
        metric.user, {**current, **changes}, partner_value=partner_value, exclude_pk=metric.pk
    )
    _lock_owner(metric.user_id)
    old_type, old_span = metric.metric_type, _span(metric)
    for name in [*MUTABLE_FIELDS, "external_id"]:
        setattr(metric, name, cleaned[name])
    try:
        with transaction.atomic():
            metric.save(update_fields=[*MUTABLE_FIELDS, "external_id"])
    except IntegrityError:
        raise ValidationError(
            {"external_id": ["Another measurement from this source has that external_id."]}
        ) from None
    touched = defaultdict(list)
    touched[old_type].append(old_span)
    touched[metric.metric_type].append(_span(metric))
    _after_write(metric.user_id, touched)
    return metric


@transaction.atomic
def metric_delete(*, metric: HealthMetric) -> None:
    _lock_owner(metric.user_id)
    code, span, user_id = metric.metric_type, _span(metric), metric.user_id
    metric.delete()
    _after_write(user_id, {code: [span]})


# --- devices -------------------------------------------------------------------------------


@transaction.atomic
def device_create(
    *, user, device_type: str, name: str, identifier: str, priority: int | None = None
) -> Device:
    if priority is None:
        priority = Device.default_priority(device_type)
    device = Device(
        user=user, device_type=device_type, name=name, identifier=identifier, priority=priority
    )
    clean_device(device)
    device.save()
    return device


@transaction.atomic
def device_update(
    *, device: Device, name: str | None = None, priority: int | None = None
) -> Device:
    """Rename a device or change its priority; a new priority re-ranks its summed samples,
    so the rollups of every day it has summed samples on are recomputed."""
    fields = []
    if name is not None:
        device.name = name
        fields.append("name")
    reranked = priority is not None and priority != device.priority
    if priority is not None:
        device.priority = priority
        fields.append("priority")
    clean_device(device)
    device.save(update_fields=fields or None)
    if reranked:
        _lock_owner(device.user_id)
        touched = defaultdict(list)
        rows = device.metrics.filter(metric_type__in=SUMMED_TYPES).values_list(
            "metric_type", "recorded_at", "end_at"
        )
        for code, start, end in rows:
            touched[code].append((start, end or start))
        _after_write(device.user_id, touched)
    return device


@dataclass
class SyncResult:
    body: dict[str, Any]
    replayed: bool


def sync_request_hash(*, user_id: int, device_id: int, samples: Any) -> str:
    """Hash of user + device + body, the idempotency key when the client sends none."""
    body = json.dumps(samples, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{user_id}:{device_id}:{body}".encode()).hexdigest()


def device_sync(*, user, device: Device, samples: list, idempotency_key: str | None) -> SyncResult:
    """Store a batch of samples from one device (the API's sync, the importers, the demo data).
    Validate each sample on its own; store the valid ones (a known `external_id` updates
    its row in place; a sample identical to a stored one counts as a duplicate); report the
    invalid ones as `{index, field, message}`. A retry with the same idempotency key (or,
    without one, the same body) within 24 h gets the first response back and writes nothing.
    Returns the response body and whether it was replayed."""
    if not isinstance(samples, list):
        raise ValidationError({"samples": ["Expected a list of samples."]})
    if len(samples) > MAX_SYNC_SAMPLES:
        raise ValidationError({"samples": [f"At most {MAX_SYNC_SAMPLES} samples per batch."]})
    if device.user_id != user.pk:
        raise ValidationError({"device": ["Unknown device."]})
    request_hash = sync_request_hash(user_id=user.pk, device_id=device.pk, samples=samples)
    key = idempotency_key or f"body:{request_hash}"
    try:
        with transaction.atomic():
            return _device_sync(user, device, samples, key, request_hash)
    except IntegrityError:
        # A concurrent request with the same key committed first: answer as it did.
        record = _stored_record(user.pk, key)
        if record is None:
            raise
        if record.request_hash != request_hash:
            raise IdempotencyConflict from None
        return SyncResult(record.response(), replayed=True)


@dataclass
class _StoredRecord:
    pk: int
    created_at: datetime
    request_hash: str
    stored_response: Any  # as the database returned it (JSON text on PostgreSQL)
    decoded: bool = False

    def response(self) -> dict[str, Any]:
        if self.decoded:
            return self.stored_response
        field = IdempotencyRecord._meta.get_field("response")
        return field.from_db_value(self.stored_response, None, connection)


_STORED_RECORD_SQL = """
SELECT id, created_at, request_hash, response FROM metrics_idempotencyrecord
WHERE user_id = %s AND key = %s
"""


def _stored_record(user_id: int, key: str) -> _StoredRecord | None:
    """The idempotency record stored under `key`, if any. On PostgreSQL one prepared statement
    (the ORM's query built, compiled and planned for every sync cost ~0.7 ms of Python); the
    response is decoded only when it is replayed."""
    if connection.vendor != "postgresql":
        row = (
            IdempotencyRecord.objects.filter(user_id=user_id, key=key)
            .values_list("pk", "created_at", "request_hash", "response")
            .first()
        )
        if row is None:
            return None
        return _StoredRecord(*row, decoded=True)
    with prepared_cursor() as cursor:
        cursor.execute(_STORED_RECORD_SQL, [user_id, key])
        row = cursor.fetchone()
    return _StoredRecord(*row) if row is not None else None


def _unknown_sample_field(name: str) -> str:
    return f"Unknown field: '{name}'. Accepted: {', '.join(FIELDS)}."


def _repeated_external_id(index: int, first: int) -> dict[str, Any]:
    return {
        "index": index,
        "field": "external_id",
        "message": f"Repeats the external_id of sample {first}.",
    }


def _clean_sample(index, sample, device, now, limit, errors) -> dict[str, Any] | None:
    """A sample the plain path did not take, through `clean_measurement`, which says what is
    wrong: the cleaned fields, or None with its errors added to `errors`."""
    if isinstance(sample, dict):
        unknown = sorted(str(k) for k in sample if k not in FIELDS)
        if unknown:
            errors.extend(
                {"index": index, "field": name, "message": _unknown_sample_field(name)}
                for name in unknown
            )
            return None
        # The device is the one in the path; a sample cannot name another.
        sample = {**sample, "device": device}
    cleaned, found = clean_measurement(sample, now=now, limit=limit)
    if found:
        errors.extend(
            {"index": index, "field": field, "message": message}
            for field, messages in found.items.items()
            for message in messages
        )
        return None
    return cleaned


def _device_sync(user, device, samples, key, request_hash) -> SyncResult:
    tz = _lock_owner_reading_zone(user.pk, flush_after_unlock=False)  # the rollups' days
    now = timezone.now()
    record = _stored_record(user.pk, key)
    if record is not None:
        if record.created_at >= now - IDEMPOTENCY_TTL:
            if record.request_hash != request_hash:
                raise IdempotencyConflict
            return SyncResult(record.response(), replayed=True)
        IdempotencyRecord.objects.filter(pk=record.pk).delete()

    errors: list[dict[str, Any]] = []
    valid: list[tuple[int, dict[str, Any]]] = []
    seen_ids: dict[str, int] = {}
    limit = future_limit(now)
    for index, sample in enumerate(samples):
        # Most samples are plain and valid: cleaned without the general path's bookkeeping.
        cleaned = clean_plain_sample(sample, device=device, limit=limit)
        if cleaned is None:
            cleaned = _clean_sample(index, sample, device, now, limit, errors)
            if cleaned is None:
                continue
        ext = cleaned["external_id"]
        if ext:
            if ext in seen_ids:
                errors.append(_repeated_external_id(index, seen_ids[ext]))
                continue
            seen_ids[ext] = index
        valid.append((index, cleaned))
    # Blood pressure is judged as a pair (this batch's other half, else the stored one).
    paired = blood_pressure_batch_errors(user_id=user.pk, device=device, samples=valid)
    if paired:
        errors = sorted(errors + paired, key=lambda e: e["index"])
        refused = {e["index"] for e in paired}
        valid = [(index, cleaned) for index, cleaned in valid if index not in refused]
        seen_ids = {ext: i for ext, i in seen_ids.items() if i not in refused}
    valid = [cleaned for _, cleaned in valid]

    existing = _stored_by_external_id(user, device, list(seen_ids)) if seen_ids else {}
    natural = _natural_keys(user, device, [c for c in valid if not c["external_id"]])

    to_create: list[dict[str, Any]] = []
    to_update: list[HealthMetric] = []
    duplicates = 0
    touched: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for cleaned in valid:
        row = existing.get(cleaned["external_id"]) if existing and cleaned["external_id"] else None
        if row is not None:
            # `existing` holds this device's rows only, so the device is the same.
            if all(getattr(row, f) == cleaned[f] for f in MUTABLE_FIELDS if f != "device"):
                duplicates += 1
                continue
            touched[row.metric_type].append(_span(row))
            for name in MUTABLE_FIELDS:
                setattr(row, name, cleaned[name])
            to_update.append(row)
        elif not cleaned["external_id"]:
            nk = _natural_key(cleaned)
            if nk in natural:
                duplicates += 1
                continue
            natural.add(nk)
            to_create.append(cleaned)
        else:
            to_create.append(cleaned)
        start = cleaned["recorded_at"]
        touched[cleaned["metric_type"]].append((start, cleaned["end_at"] or start))

    _insert(to_create, user_id=user.pk, now=now)
    if to_update:
        HealthMetric.objects.bulk_update(to_update, MUTABLE_FIELDS, batch_size=500)
    _after_write(user.pk, touched, tz=tz)
    device.last_sync_at = now

    body = {
        "counts": {
            "synced": len(to_create) + len(to_update),
            "created": len(to_create),
            "updated": len(to_update),
            "duplicates": duplicates,
            "errors": len({e["index"] for e in errors}),
        },
        "errors": errors,
    }
    # Bulk writes bypass auditlog's model signals: one entry on the device records the
    # sync (counts only, never values).
    audit_rows.log_entry_create(
        device,
        action=LogEntry.Action.UPDATE,
        changes={"sync": ["", json.dumps(body["counts"], sort_keys=True)]},
    )
    _record_sync(device, key=key, request_hash=request_hash, body=body, now=now)
    return SyncResult(body, replayed=False)


# The device's last sync and the idempotency record in one round trip (PostgreSQL); the
# record's unique key still raises IntegrityError for a concurrent twin (`device_sync`).
_RECORD_SYNC_SQL = """
WITH device AS (UPDATE metrics_device SET last_sync_at = %s WHERE id = %s)
INSERT INTO metrics_idempotencyrecord (user_id, key, request_hash, response, created_at)
VALUES (%s, %s, %s, %s, %s)
"""


def _record_sync(device: Device, *, key: str, request_hash: str, body: dict, now: datetime):
    """Set the device's `last_sync_at` and store the sync's first response under `key`."""
    if connection.vendor != "postgresql":
        Device.objects.filter(pk=device.pk).update(last_sync_at=now)
        IdempotencyRecord.objects.create(
            user_id=device.user_id, key=key, request_hash=request_hash, response=body,
            created_at=now,
        )  # fmt: skip
        return
    response = IdempotencyRecord._meta.get_field("response").get_db_prep_save(body, connection)
    with prepared_cursor() as cursor:
        cursor.execute(
            _RECORD_SYNC_SQL, [now, device.pk, device.user_id, key, request_hash, response, now]
        )


_COPY_COLUMNS = {
    # column: PostgreSQL type
    "user_id": "int8",
    "metric_type": "varchar",
    "value": "float8",
    "unit": "varchar",
    "recorded_at": "timestamptz",
    "end_at": "timestamptz",
    "device_id": "int8",
    "source_app": "varchar",
    "external_id": "varchar",
    "metadata": "jsonb",
    "notes": "bytea",
    "created_at": "timestamptz",
}


class _EmptyFirstJsonbDumper(JsonbBinaryDumper):
    """psycopg's binary jsonb dumper, with an empty object written as its constant bytes."""

    _EMPTY = b"\x01{}"  # jsonb's binary format: version 1, then the JSON text

    def dump(self, obj: Any) -> bytes:
        if obj == {}:
            return self._EMPTY
        return super().dump(obj)


def _insert(rows: list[dict[str, Any]], *, user_id: int, now: datetime) -> None:
    """Insert cleaned measurements of one person in bulk. On PostgreSQL through COPY:
    building a multi-row INSERT for thousands of rows costs more in Python than the database
    write. In binary: no text formatting of times and numbers on either side (~2 ms of 1,440
    rows)."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        HealthMetric.objects.bulk_create(
            [HealthMetric(user_id=user_id, **row) for row in rows], batch_size=1000
        )
        return
    notes = HealthMetric._meta.get_field("notes")
    table = HealthMetric._meta.db_table
    columns = ", ".join(_COPY_COLUMNS)
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        # Only this COPY's cursor: `{}` metadata (nearly every sample) without a json.dumps
        # per row (~1.6 ms of 1,440 rows).
        cursor.cursor.adapters.register_dumper(None, _EmptyFirstJsonbDumper)
        copy.set_types(list(_COPY_COLUMNS.values()))
        device, device_id = None, None  # a sync's rows are one device's
        for row in rows:
            if row["device"] is not device:
                device = row["device"]
                device_id = device.pk if device is not None else None
            copy.write_row(
                (
                    user_id,
                    row["metric_type"],
                    row["value"],
                    row["unit"],
                    row["recorded_at"],
                    row["end_at"],
                    device_id,
                    row["source_app"],
                    row["external_id"],
                    row["metadata"],
                    notes.get_db_prep_save(row["notes"], connection) if row["notes"] else None,
                    now,
                )
            )


# On PostgreSQL the ids go as one JSON text parameter, unpacked by the server: the ORM's IN
# list resolved and adapted each of a sync's up to 5,000 ids one by one (~4 ms of a 1,440-sample
# sync), and even a list parameter was quoted element by element (1.7-2.0 ms of CPU for 1,440
# ids, against 0.5-0.8 ms for `json.dumps` and the server's unpacking). Each id is one probe of
# the partial unique index (user, device, external id; `external_id <> ''` is its condition):
# the LATERAL subquery with its LIMIT (exact: the index allows one row per id) is not merged
# into a join, so the planner cannot turn the ids into a filter over every row of the device
# that has an external id. `external_id = ANY(ARRAY(...))` was planned that way (the
# planner estimates one row for a user and their device), one comparison per stored row and
# id: 10.5 ms of backend CPU per sync in the load mix, 85 ms for a device with 6,483 stored
# ids, growing with every sync (issue 15).
_BY_EXTERNAL_ID_SQL = """
SELECT m.* FROM jsonb_array_elements_text(%s::jsonb) AS given (external_id)
CROSS JOIN LATERAL (
    SELECT * FROM metrics_healthmetric
    WHERE user_id = %s AND device_id = %s
      AND external_id = given.external_id AND external_id <> ''
    LIMIT 1
) AS m
"""


# Whether any of them is stored: a sync's ids are usually all new, and this prepared statement
# costs less Python than `raw()` building its query and mapping (433 new ids: 0.32 -> 0.13 ms).
_ANY_BY_EXTERNAL_ID_SQL = f"SELECT EXISTS ({_BY_EXTERNAL_ID_SQL})"  # noqa: S608


def _stored_by_external_id(user, device, external_ids: list[str]) -> dict[str, HealthMetric]:
    """The device's stored measurements with these external ids, by external id."""
    if connection.vendor == "postgresql":
        params = [json.dumps(external_ids), user.pk, device.pk]
        with prepared_cursor() as cursor:
            cursor.execute(_ANY_BY_EXTERNAL_ID_SQL, params)
            (any_stored,) = cursor.fetchone()
        if not any_stored:
            return {}
        rows = HealthMetric.objects.raw(_BY_EXTERNAL_ID_SQL, params)
    else:
        rows = HealthMetric.objects.filter(
            user=user, device=device, external_id__in=external_ids
        ).exclude(external_id="")
    return {m.external_id: m for m in rows}


def _natural_key(cleaned: dict[str, Any]) -> tuple:
    return (cleaned["metric_type"], cleaned["recorded_at"], cleaned["end_at"], cleaned["value"])


def _natural_keys(user, device, cleaned: list[dict[str, Any]]) -> set[tuple]:
    """Keys of the device's stored samples that a batch without external ids could repeat."""
    if not cleaned:
        return set()
    types = {c["metric_type"] for c in cleaned}
    lo = min(c["recorded_at"] for c in cleaned)
    hi = max(c["recorded_at"] for c in cleaned)
    rows = HealthMetric.objects.filter(
        user=user, device=device, metric_type__in=types, recorded_at__gte=lo, recorded_at__lte=hi
    ).values_list("metric_type", "recorded_at", "end_at", "value")
    return set(rows)


@transaction.atomic
def idempotency_records_purge(*, now: datetime | None = None) -> int:
    """Delete idempotency records older than 24 h; returns how many."""
    cutoff = (now or timezone.now()) - IDEMPOTENCY_TTL
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


@transaction.atomic
def rollups_recut(*, user_id: int) -> None:
    """Cut every daily, weekly and monthly rollup of a person again in their current time zone
    (after they changed it), serialised with their writes. Idempotent: a recomputation from the
    raw rows. On commit: the summary cache is dropped and `rollups_recut` is sent."""
    _lock_owner(user_id)
    rollups.recompute_all(user_id=user_id, tz=calendar.zone_of(user_id))

    def notify() -> None:
        invalidate_summary_cache(user_id)
        for receiver, error in rollups_recut_signal.send_robust(
            sender=HealthMetric, user_id=user_id
        ):
            if isinstance(error, Exception):
                logger.error("rollups_recut receiver %r failed: %s", receiver, type(error).__name__)

    transaction.on_commit(notify)
