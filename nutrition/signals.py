"""Signals other apps subscribe to (nutrition imports none of them)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the writing transaction of each diary write, with kwargs:
#   user_id: int         whose diary changed
#   days: set[date]      the local days (the owner's zone, healthtrack.core.days) whose totals
#                        may have changed (old and new day of a move)
#   tz: tzinfo           (optional) that zone, when the writer knows it
# For what must commit with the write (the change feed). Receivers record it in that
# transaction, never compute inline; an exception in a receiver fails the write.
nutrition_changed = Signal()

# Sent once a diary write has committed, by the worker (task `nutrition.announce_committed`,
# whose outbox row the write recorded in its own transaction, so a crash right after the
# commit delays it, never drops it), inside a transaction of its own, with `user_id` and
# `days` as above. The derived work subscribes here (goal progress, care-program adherence,
# the recommendations' refresh): it runs after the response, not in the write's request.
# Receivers enqueue their work (healthtrack.core.outbox.enqueue_on_commit); an exception
# fails the task, which is retried.
nutrition_committed = Signal()
