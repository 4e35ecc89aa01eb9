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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from healthtrack.changes.models import ChangeEvent, ChangeSequence
from healthtrack.changes.signals import changes_recorded

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


def record_upserts(*, user_id: int, resource: str, existing_ids) -> int:
    """Append `created` (first event for the record) or `updated` events for the records of
    `existing_ids`: a callable returning the ids that exist now, called once the lock is held
    (so a record deleted meanwhile gets no event after its tombstone)."""
    with transaction.atomic():
        sequence = _locked_sequence(user_id)
        ids = sorted(set(existing_ids()))
        if not ids:
            return 0
        seen: set[int] = set()
        for offset in range(0, len(ids), BATCH):
            chunk = ids[offset : offset + BATCH]
            seen.update(
                ChangeEvent.objects.filter(
                    user_id=user_id, resource=resource, object_id__in=chunk
                ).values_list("object_id", flat=True)
            )
        rows = [(resource, pk, Action.UPDATED if pk in seen else Action.CREATED) for pk in ids]
        return _append_locked(sequence, rows)


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
