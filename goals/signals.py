"""Signals the goals app sends; higher apps (insights) subscribe instead of importing goals.

`goals_changed` is sent inside the writing transaction, with `user_id: int` and
`goal_ids: frozenset[int]`, when a goal is created, changed or deleted, and when its computed
progress (current value, percent, on track, status) changed; a progress recompute that
completed no goal adds `progress_only=True` (what each goal asks for, and which are active,
is unchanged). Receivers record their follow-up
work in that transaction (outbox rows, change-feed events) and defer cache invalidation with
`transaction.on_commit`; an exception in a receiver fails the write.
"""

from __future__ import annotations

from django.dispatch import Signal

goals_changed = Signal()
