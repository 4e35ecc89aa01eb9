"""Appending to and reading the change feed.

Ordering guarantee: each person's events carry a sequence number given out while their
`ChangeSequence` row is locked (`SELECT … FOR UPDATE`), and the lock is held until the
appending transaction commits. So a person's events become visible strictly in sequence order,
a number never appears after a higher one was visible, and a cursor (the last number read)
never skips an event. Upserts are appended inside the writing transaction (the data apps send
their signals in it), and only for records that exist once the lock is held; a deletion's
tombstone is appended inside the deleting transaction too.
Hence a record's last event in the feed is a tombstone if and only if the record
is deleted. Events are "re-read this record" notices: an `updated` event may find the record
unchanged (a device sync names every measurement in the span it touched)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max, QuerySet, Subquery, Sum
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from healthtrack.changes.models import ChangeEvent, ChangeSequence
from healthtrack.changes.signals import changes_recorded
from healthtrack.core.prepared import prepared_cursor

Action = ChangeEvent.Action
Resource = ChangeEvent.Resource
PAGE_SIZE = 200
MAX_PAGE_SIZE = 1000
BATCH = 1000


class CursorInvalid(ValueError):
    """A cursor that is not one of ours, or one of another person's feed."""


class CursorExpired(Exception):
    """A cursor older than the oldest retained event: the client must read everything again."""


def encode_cursor(user_id: int, seq: int) -> str:
    raw = f"c1:{user_id}:{seq}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, user_id: int) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        version, owner, seq = base64.urlsafe_b64decode(padded).decode().split(":")
        owner_id, number = int(owner), int(seq)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise CursorInvalid("since: not a cursor from this feed.") from exc
    if version != "c1" or number < 0:
        raise CursorInvalid("since: not a cursor from this feed.")
    if owner_id != user_id:
        raise CursorInvalid("since: this cursor belongs to another person's feed.")
    return number


def _locked_sequence(user_id: int) -> ChangeSequence:
    ChangeSequence.objects.bulk_create([ChangeSequence(user_id=user_id)], ignore_conflicts=True)
    return ChangeSequence.objects.select_for_update().get(user_id=user_id)


def _append_locked(sequence: ChangeSequence, rows: list[tuple[str, int, str]]) -> int:
    now = timezone.now()
    start = sequence.last_seq
    events = [
        ChangeEvent(
            user_id=sequence.user_id,
            seq=start + offset,
            resource=resource,
            object_id=object_id,
            action=action,
            occurred_at=now,
        )
        for offset, (resource, object_id, action) in enumerate(rows, start=1)
    ]
    ChangeEvent.objects.bulk_create(events, batch_size=BATCH)
    sequence.last_seq = start + len(events)
    sequence.save(update_fields=["last_seq"])
    changes_recorded.send(sender=ChangeEvent, user_id=sequence.user_id, events=events)
    return len(events)


# The most ids one row names; a row's ids lie within one block of this many (`id / SPAN_BLOCK`),
# so an event of id X is in a row whose last id is X .. X + SPAN_BLOCK - 1 (a bounded probe).
SPAN_BLOCK = 4096

# The events of one upsert as rows (CTEs after `ids`). A record's event is `created` when the
# feed has no event of it yet, else `updated`:
# - an id above the highest one the person's feed names for the resource (`newest`: one probe
#   of the `change_user_object_end` index) has none (a sync's new rows);
# - the ids at or below it (`probed`) are `known` when a row names them: the rows that can
#   (the last id they name within the probed range plus SPAN_BLOCK) and the probed ids, in id
#   order, rows first at a tie: an id is named when the highest last id of the rows before it
#   reaches it. One sort of the probed ids and those rows (a load-mix sync names ~1,200 known
#   ids: an index probe each cost ~7 ms), however many events the rows stand for.
# Then numbered in id order (`n`, from 1) and one row per run of consecutive numbers with
# consecutive ids, one action and one id block: `n` its first number, `first_id` .. `last_id`
# its ids (gaps and islands: `streak` is constant along a run of one action, `id - n` along
# consecutive ids). Parameters: `_action_params`.
_RUNS_SQL = f"""
newest AS (
    SELECT COALESCE(MAX(e.object_id + e.span - 1), 0) AS last FROM changes_changeevent e
    WHERE e.user_id = %s AND e.resource = %s
),
probed AS (SELECT ids.id FROM ids, newest WHERE ids.id <= newest.last),
bounds AS (SELECT MIN(id) AS lo, MAX(id) AS hi FROM probed),
marks AS (
    SELECT e.object_id AS at, 0 AS kind, e.object_id + e.span - 1 AS reach
    FROM changes_changeevent e, bounds
    WHERE e.user_id = %s AND e.resource = %s
    AND e.object_id + e.span - 1 >= bounds.lo
    AND e.object_id + e.span - 1 < bounds.hi + {SPAN_BLOCK}
    AND e.object_id <= bounds.hi
    UNION ALL
    SELECT id, 1, NULL FROM probed
),
reached AS (
    SELECT at, kind, MAX(reach) OVER (ORDER BY at, kind ROWS UNBOUNDED PRECEDING) AS reach
    FROM marks
),
known AS (SELECT at AS id FROM reached WHERE kind = 1 AND reach >= at),
numbered AS (
    SELECT ids.id, ROW_NUMBER() OVER (ORDER BY ids.id) AS n,
           CASE WHEN ids.id > newest.last THEN %s
                WHEN ids.id IN (SELECT id FROM known) THEN %s ELSE %s END AS action
    FROM ids, newest
),
marked AS (
    SELECT id, n, action, n - ROW_NUMBER() OVER (PARTITION BY action ORDER BY id) AS streak
    FROM numbered
),
runs AS (
    SELECT MIN(n) AS n, MIN(id) AS first_id, MAX(id) AS last_id, action FROM marked
    GROUP BY action, streak, id - n, id / {SPAN_BLOCK}
)"""  # noqa: S608


def _action_params(user_id: int, resource: str) -> list:
    """`_RUNS_SQL`'s parameters."""
    created, updated = Action.CREATED.value, Action.UPDATED.value
    return [user_id, resource, user_id, resource, created, updated, created]


# Appends the events of one upsert in one statement, whatever their number, numbered after the
# sequence's last number. `{ids}` is the SQL of the ids that exist (a QuerySet's, compiled).
# The WITH follows the INSERT: Python's sqlite3 reports no row count for a statement opening
# with WITH. Parameters: the ids', `_action_params`, user, the last number, resource, time.
_APPEND_SQL = f"""
INSERT INTO changes_changeevent (user_id, seq, resource, object_id, span, action, occurred_at)
WITH ids (id) AS ({{ids}}),{_RUNS_SQL}
SELECT %s, %s + runs.n, %s, runs.first_id, runs.last_id - runs.first_id + 1, runs.action, %s
FROM runs
"""  # noqa: S608

# PostgreSQL: the append and the sequence's advance in one round trip; returns the new last
# number (the sequence row is already locked by `_LOCK_SQL`).
_ADVANCE_SQL = """
UPDATE changes_changesequence
SET last_seq = last_seq + (SELECT COALESCE(SUM(span), 0) FROM appended)
WHERE user_id = %s RETURNING last_seq
"""
_APPEND_AND_ADVANCE_SQL = f"WITH appended AS ({_APPEND_SQL}RETURNING span){_ADVANCE_SQL}"  # noqa: S608

# Creates the person's sequence row if missing and locks it (until commit) in one statement;
# returns the last number given out. A writer that waited for the lock reads the number its
# predecessor committed (an upsert's update reads the row's latest version).
_LOCK_SQL = """
INSERT INTO changes_changesequence (user_id, last_seq, pruned_through) VALUES (%s, 0, 0)
ON CONFLICT (user_id) DO UPDATE SET last_seq = changes_changesequence.last_seq
RETURNING last_seq
"""

# PostgreSQL, for `locked_ids`: lock (creating it if missing) and advance the sequence and
# append the events in one statement. The ids and the events already seen are read in the
# statement's snapshot, taken before the sequence row's lock is granted; the sequence number
# itself comes from the row's latest version (an upsert's update reads it), so the numbering
# is right whoever held the row before. Returns the new last number and the events appended.
# Parameters: the ids', user, `_action_params`, user, resource, time, then `{facts}`'.
_LOCK_APPEND_AND_ADVANCE_SQL = f"""
WITH ids (id) AS ({{ids}}),
counted AS (SELECT COUNT(*) AS n FROM ids),
sequence AS (
    INSERT INTO changes_changesequence (user_id, last_seq, pruned_through)
    SELECT %s, counted.n, 0 FROM counted
    ON CONFLICT (user_id) DO UPDATE
    SET last_seq = changes_changesequence.last_seq + EXCLUDED.last_seq
    RETURNING last_seq
),{_RUNS_SQL},
appended AS (
    INSERT INTO changes_changeevent (user_id, seq, resource, object_id, span, action, occurred_at)
    SELECT %s, sequence.last_seq - counted.n + runs.n, %s, runs.first_id,
           runs.last_id - runs.first_id + 1, runs.action, %s
    FROM runs, sequence, counted
    RETURNING 1
)
SELECT sequence.last_seq, counted.n{{facts}} FROM sequence, counted
"""  # noqa: S608

#: `record_upserts`' `ask`: name -> (SQL, parameters) of a scalar subquery about the writing
#: person, which the write's other receivers would each run as a statement of their own.
Questions = dict[str, tuple[str, list[Any]]]

# name -> the question about a person (their id -> SQL and parameters) that a measurement
# write's receivers ask; registered by the apps that ask (`ask_on_measurement_writes`).
_MEASUREMENT_QUESTIONS: dict[str, Callable[[int], tuple[str, list[Any]]]] = {}


def ask_on_measurement_writes(name: str, question: Callable[[int], tuple[str, list[Any]]]) -> None:
    """Have every measurement write's change-feed statement answer `question(user_id)` (a
    scalar subquery), left in `measurements_changed`'s and `changes_recorded`'s `facts` under
    `name` (see `record_upserts`)."""
    _MEASUREMENT_QUESTIONS[name] = question


def measurement_questions(user_id: int) -> Questions:
    return {name: question(user_id) for name, question in _MEASUREMENT_QUESTIONS.items()}


def record_upserts(
    *,
    user_id: int,
    resource: str,
    existing_ids: Callable[[], QuerySet | tuple[str, list]],
    locked_ids: bool = False,
    ask: Questions | None = None,
    facts: dict[str, Any] | None = None,
) -> int:
    """Append `created` (first event for the record) or `updated` events for the records of
    `existing_ids`: a callable returning the query of the ids that exist now, a QuerySet
    (`values_list("pk", flat=True)`) or its SQL and parameters (one column, `id`), which the
    append runs once the lock is held (so a record deleted meanwhile gets no event after its
    tombstone). Three statements, however many records: lock, append, advance (two on PostgreSQL).
    `locked_ids`: the caller holds a lock under which nobody else creates or deletes these
    records or appends events for them (the metrics app's per-person lock, held by every write
    and deletion of measurements), so the ids need not be read after the sequence's lock: on
    PostgreSQL lock, append and advance are then one statement.
    `changes_recorded` gets the appended events as a lazy QuerySet (built and read only by a
    receiver that needs them).
    `ask` and `facts`: where the append is one statement (PostgreSQL, `locked_ids`), the
    answers to `ask` are read in it (a round trip less each) and left in `facts` under their
    names, for the write's other receivers (`metrics.signals.measurements_changed`'s `facts`);
    elsewhere nothing is left and they ask themselves. `changes_recorded` gets `facts` too."""
    # No savepoint: an error here fails the whole write anyway (two statements fewer).
    with transaction.atomic(savepoint=False), prepared_cursor() as cursor:
        if locked_ids and connection.vendor == "postgresql":
            ids = existing_ids()
            if isinstance(ids, QuerySet):
                ids = ids.order_by().query.sql_with_params()
            ids_sql, ids_params = ids
            now = connection.ops.adapt_datetimefield_value(timezone.now())
            asked = list(ask or ()) if facts is not None else []
            cursor.execute(
                _LOCK_APPEND_AND_ADVANCE_SQL.format(
                    ids=ids_sql,
                    facts="".join(f", ({ask[name][0]})" for name in asked),
                ),
                [*ids_params, user_id, *_action_params(user_id, str(resource))]
                + [user_id, str(resource), now]
                + [param for name in asked for param in ask[name][1]],
            )
            last, added, *answers = cursor.fetchone()
            for name, answer in zip(asked, answers, strict=True):
                facts[name] = answer
            return _announce(user_id, last - added, added, facts)
        cursor.execute(_LOCK_SQL, [user_id])
        start = cursor.fetchone()[0]
        ids = existing_ids()
        if isinstance(ids, QuerySet):
            ids = ids.order_by().query.sql_with_params()
        ids_sql, ids_params = ids
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        params = [*ids_params, *_action_params(user_id, str(resource))]
        params += [user_id, start, str(resource), now]
        if connection.vendor == "postgresql":
            # Append and advance in one statement (a data-modifying CTE).
            cursor.execute(_APPEND_AND_ADVANCE_SQL.format(ids=ids_sql), [*params, user_id])
            added = cursor.fetchone()[0] - start
            if not added:
                return 0
        else:
            cursor.execute(_APPEND_SQL.format(ids=ids_sql), params)
            if not cursor.rowcount:
                return 0
            cursor.execute(
                "SELECT SUM(span) FROM changes_changeevent WHERE user_id = %s AND seq > %s",
                [user_id, start],
            )
            added = cursor.fetchone()[0]
            cursor.execute(
                "UPDATE changes_changesequence SET last_seq = %s WHERE user_id = %s",
                [start + added, user_id],
            )
        return _announce(user_id, start, added)


#: `measurement_inserted_append`'s answer in `measurements_changed`'s `facts`: the number of
#: the inserted measurement's event, appended in the insert's own statement.
MEASUREMENT_APPENDED = "changes.measurement_appended"

# `record_upserts` for one measurement just inserted, as CTEs of its insert statement
# (`metrics.services.fold_into_inserts`), run after the person's lock (they read `lk`, the
# locked row): the record is new, so its event is `created`, one row of span 1, numbered
# after the sequence row's latest version (created if missing, locked until commit).
# Parameters: user, user, resource, action, time.
_INSERTED_APPEND_SQL = (
    "cs AS (INSERT INTO changes_changesequence (user_id, last_seq, pruned_through)"
    " SELECT %s, 1, 0 FROM lk ON CONFLICT (user_id) DO UPDATE"
    " SET last_seq = changes_changesequence.last_seq + 1 RETURNING last_seq),"
    " ce AS (INSERT INTO changes_changeevent"
    " (user_id, seq, resource, object_id, span, action, occurred_at)"
    " SELECT %s, cs.last_seq, %s, lk.id, 1, %s, %s FROM cs, lk RETURNING 1)"
)


def measurement_inserted_append(user_id: int) -> tuple[str, list[Any], list[tuple[str, str, list]]]:
    """The feed's append for a plain insert of one measurement, folded into the insert's
    statement (one round trip less per POST), with the questions of `measurement_questions`
    answered there too; the receiver then only announces the event
    (`announce_inserted_measurement`)."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    params = [user_id, user_id, str(Resource.MEASUREMENT), Action.CREATED.value, now]
    answers = [(MEASUREMENT_APPENDED, "SELECT last_seq FROM cs", [])]
    answers += [(name, sql, ps) for name, (sql, ps) in measurement_questions(user_id).items()]
    return _INSERTED_APPEND_SQL, params, answers


def announce_inserted_measurement(user_id: int, facts: dict[str, Any]) -> int:
    """`changes_recorded` for the event `measurement_inserted_append` appended."""
    return _announce(user_id, facts[MEASUREMENT_APPENDED] - 1, 1, facts)


def _announce(user_id: int, start: int, added: int, facts: dict[str, Any] | None = None) -> int:
    """`changes_recorded` for the events numbered start + 1 .. start + added, if any."""
    if not added:
        return 0
    # Built only when a receiver reads it: on a POST this runs under the person's lock,
    # and a patient without webhook subscriptions never needs the events.
    events = SimpleLazyObject(
        lambda: list(
            expanded(
                ChangeEvent.objects.filter(
                    user_id=user_id, seq__gt=start, seq__lte=start + added
                ).order_by("seq")
            )
        )
    )
    changes_recorded.send(sender=ChangeEvent, user_id=user_id, events=events, facts=facts or {})
    return added


def record_deletions(*, user_id: int, resource: str, object_ids: Iterable[int]) -> int:
    """Append tombstones, in the caller's transaction (the deleting one)."""
    rows = [(resource, pk, Action.DELETED) for pk in object_ids]
    if not rows:
        return 0
    with transaction.atomic():
        return _append_locked(_locked_sequence(user_id), rows)


def expanded(rows: Iterable[ChangeEvent], *, after: int = 0) -> Iterator[ChangeEvent]:
    """The events of `rows` (in sequence order) numbered above `after`, one per record: a row
    naming a span of ids gives one unsaved `ChangeEvent` (`span` 1) per id."""
    for row in rows:
        if row.span == 1:
            if row.seq > after:
                yield row
            continue
        for offset in range(max(0, after - row.seq + 1), row.span):
            yield ChangeEvent(
                user_id=row.user_id,
                seq=row.seq + offset,
                resource=row.resource,
                object_id=row.object_id + offset,
                action=row.action,
                occurred_at=row.occurred_at,
            )


@dataclass(frozen=True)
class Page:
    events: list[ChangeEvent]
    cursor: str
    has_more: bool


def read_page(*, user_id: int, since: str | None, limit: int = PAGE_SIZE) -> Page:
    """The events after `since` (None: from the oldest one retained), oldest first."""
    sequence = ChangeSequence.objects.filter(user_id=user_id).first()
    pruned = sequence.pruned_through if sequence else 0
    after = pruned if since is None else decode_cursor(since, user_id=user_id)
    if after < pruned:
        raise CursorExpired
    # From the row holding event after + 1 (the numbers have no gaps: the row with the
    # highest first number up to it); each row holds at least one event.
    holding = (
        ChangeEvent.objects.filter(user_id=user_id, seq__lte=after + 1)
        .order_by("-seq")
        .values("seq")[:1]
    )
    rows = ChangeEvent.objects.filter(user_id=user_id, seq__gte=Subquery(holding)).order_by("seq")
    events = list(islice(expanded(rows[: limit + 1], after=after), limit + 1))
    has_more = len(events) > limit
    events = events[:limit]
    last = events[-1].seq if events else after
    return Page(events=events, cursor=encode_cursor(user_id, last), has_more=has_more)


def latest_cursor(*, user_id: int) -> str:
    """A cursor at the end of the feed (for a client that has just read everything)."""
    sequence = ChangeSequence.objects.filter(user_id=user_id).first()
    return encode_cursor(user_id, sequence.last_seq if sequence else 0)


def retention_days() -> int | None:
    return settings.DATA_LIFECYCLE["change_feed"]["delete_after"]


def prune(*, now: datetime | None = None) -> int:
    """Delete events (tombstones included) older than DATA_LIFECYCLE["change_feed"]
    ["delete_after"] days, recording per person how far the feed was pruned (an older cursor
    is then 410). Returns the number of events deleted."""
    days = retention_days()
    if days is None:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = (
        ChangeEvent.objects.filter(occurred_at__lt=cutoff)
        .values("user_id")
        .annotate(through=Max(F("seq") + F("span") - 1))
        .order_by()
    )
    total = 0
    for row in old:
        with transaction.atomic():
            sequence = _locked_sequence(row["user_id"])
            sequence.pruned_through = max(sequence.pruned_through, row["through"])
            sequence.save(update_fields=["pruned_through"])
            doomed = ChangeEvent.objects.filter(user_id=row["user_id"], seq__lte=row["through"])
            total += doomed.aggregate(events=Sum("span"))["events"] or 0
            doomed.delete()
    return total


def forget_user(*, user_id: int) -> None:
    ChangeEvent.objects.filter(user_id=user_id).delete()
    ChangeSequence.objects.filter(user_id=user_id).delete()
