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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, QuerySet
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from healthtrack.changes.models import ChangeEvent, ChangeSequence
from healthtrack.changes.signals import changes_recorded
from healthtrack.core.prepared import prepared_cursor

Action = ChangeEvent.Action
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


# A record's event is `created` when the feed has no event of it yet, else `updated`. An id
# above the highest one the person's feed holds for the resource has none: one probe of the
# `change_user_object` index for the statement, not one per id (a sync's 1,440 new rows).
# Parameters: user, resource (the highest id), user, resource (the per-id probe), then the
# `updated` and `created` values, `created` twice.
_ACTION_SQL = """CASE
           WHEN ids.id > COALESCE((
               SELECT MAX(newest.object_id) FROM changes_changeevent newest
               WHERE newest.user_id = %s AND newest.resource = %s
           ), 0) THEN %s
           WHEN EXISTS (
               SELECT 1 FROM changes_changeevent seen
               WHERE seen.user_id = %s AND seen.resource = %s AND seen.object_id = ids.id
           ) THEN %s ELSE %s END"""


def _action_params(user_id: int, resource: str) -> list:
    """`_ACTION_SQL`'s parameters."""
    created, updated = Action.CREATED.value, Action.UPDATED.value
    return [user_id, resource, created, user_id, resource, updated, created]


# Appends the events of one upsert in one statement, whatever their number: numbered in id
# order after the sequence's last number, `created` for a record's first event and `updated`
# after that. `{ids}` is the SQL of the ids that exist (a QuerySet's, compiled). The WITH
# follows the INSERT: Python's sqlite3 reports no row count for a statement opening with WITH.
_APPEND_SQL = """
INSERT INTO changes_changeevent (user_id, seq, resource, object_id, action, occurred_at)
WITH ids (id) AS ({ids})
SELECT %s, %s + ROW_NUMBER() OVER (ORDER BY ids.id), %s, ids.id,
       {action},
       %s
FROM ids
""".replace("{action}", _ACTION_SQL)

# PostgreSQL: the append and the sequence's advance in one round trip; returns the new last
# number (the sequence row is already locked by `_LOCK_SQL`).
_ADVANCE_SQL = """
UPDATE changes_changesequence SET last_seq = last_seq + (SELECT COUNT(*) FROM appended)
WHERE user_id = %s RETURNING last_seq
"""
_APPEND_AND_ADVANCE_SQL = f"WITH appended AS ({_APPEND_SQL}RETURNING 1){_ADVANCE_SQL}"  # noqa: S608

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
_LOCK_APPEND_AND_ADVANCE_SQL = """
WITH ids (id) AS ({ids}),
counted AS (SELECT COUNT(*) AS n FROM ids),
sequence AS (
    INSERT INTO changes_changesequence (user_id, last_seq, pruned_through)
    SELECT %s, counted.n, 0 FROM counted
    ON CONFLICT (user_id) DO UPDATE
    SET last_seq = changes_changesequence.last_seq + EXCLUDED.last_seq
    RETURNING last_seq
),
appended AS (
    INSERT INTO changes_changeevent (user_id, seq, resource, object_id, action, occurred_at)
    SELECT %s, sequence.last_seq - counted.n + ROW_NUMBER() OVER (ORDER BY ids.id), %s, ids.id,
           {action},
           %s
    FROM ids, sequence, counted
    RETURNING 1
)
SELECT sequence.last_seq, counted.n{facts} FROM sequence, counted
""".replace("{action}", _ACTION_SQL)

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
                    ids=ids_sql, facts="".join(f", ({ask[name][0]})" for name in asked)
                ),
                [*ids_params, user_id, user_id, str(resource)]
                + [*_action_params(user_id, str(resource)), now]
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
        params = [*ids_params, user_id, start, str(resource)]
        params += [*_action_params(user_id, str(resource)), now]
        if connection.vendor == "postgresql":
            # Append and advance in one statement (a data-modifying CTE).
            cursor.execute(_APPEND_AND_ADVANCE_SQL.format(ids=ids_sql), [*params, user_id])
            added = cursor.fetchone()[0] - start
            if not added:
                return 0
        else:
            cursor.execute(_APPEND_SQL.format(ids=ids_sql), params)
            added = cursor.rowcount
            if not added:
                return 0
            cursor.execute(
                "UPDATE changes_changesequence SET last_seq = %s WHERE user_id = %s",
                [start + added, user_id],
            )
        return _announce(user_id, start, added)


def _announce(user_id: int, start: int, added: int, facts: dict[str, Any] | None = None) -> int:
    """`changes_recorded` for the events numbered start + 1 .. start + added, if any."""
    if not added:
        return 0
    # Built only when a receiver reads it: on a POST this runs under the person's lock,
    # and a patient without webhook subscriptions never needs the events.
    events = SimpleLazyObject(
        lambda: ChangeEvent.objects.filter(
            user_id=user_id, seq__gt=start, seq__lte=start + added
        ).order_by("seq")
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
    rows = list(
        ChangeEvent.objects.filter(user_id=user_id, seq__gt=after).order_by("seq")[: limit + 1]
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1].seq if rows else after
    return Page(events=rows, cursor=encode_cursor(user_id, last), has_more=has_more)


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
        .annotate(through=Max("seq"))
        .order_by()
    )
    total = 0
    for row in old:
        with transaction.atomic():
            sequence = _locked_sequence(row["user_id"])
            sequence.pruned_through = max(sequence.pruned_through, row["through"])
            sequence.save(update_fields=["pruned_through"])
            total += ChangeEvent.objects.filter(
                user_id=row["user_id"], seq__lte=row["through"]
            ).delete()[0]
    return total


def forget_user(*, user_id: int) -> None:
    ChangeEvent.objects.filter(user_id=user_id).delete()
    ChangeSequence.objects.filter(user_id=user_id).delete()
