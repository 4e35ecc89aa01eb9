"""Signals other apps subscribe to (nutrition imports none of them)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the writing transaction of each diary write, with kwargs:
#   user_id: int         whose diary changed
#   days: set[date]      the local days (the owner's zone, healthtrack.core.days) whose totals
#                        may have changed (old and new day of a move)
# Receivers record their follow-up work in that transaction
# (healthtrack.core.outbox.enqueue_on_commit), never compute inline; an exception in a receiver
# fails the write.
nutrition_changed = Signal()
