"""`changes_recorded` is sent inside the appending transaction after events were added to a
person's feed, with `user_id: int` and `events`, an iterable of `ChangeEvent` in sequence
order, one per record (a list, or for an upsert a lazy one: a receiver that needs no event
reads none).
Receivers that write must do so in the same transaction (they commit or roll back with it)."""

from __future__ import annotations

from django.dispatch import Signal

changes_recorded = Signal()
