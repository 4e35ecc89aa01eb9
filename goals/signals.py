"""Signals the goals app sends; higher apps (insights) subscribe instead of importing goals.

`goals_changed` is sent after the writing transaction commits, with `user_id: int` and
`goal_ids: frozenset[int]`, after a goal is created, changed or deleted, and after its computed
progress (current value, percent, on track, status) changed. Receivers should only enqueue
work or invalidate caches.
"""

from __future__ import annotations

from django.dispatch import Signal

goals_changed = Signal()
