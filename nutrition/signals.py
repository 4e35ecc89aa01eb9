"""Signals other apps subscribe to (nutrition imports none of them)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the writing transaction of each diary write, with kwargs:
#   user_id: int         whose diary changed
#   days: set[date]      the local days (the owner's zone, healthtrack.core.days) whose totals
#                        may have changed (old and new day of a move)
#   tz: tzinfo           (optional) that zone, when the writer knows it
#   entry_ids: frozenset[int]  (optional) the entries the write created or changed, whose rows
#                        its transaction holds (empty for a deletion: its tombstone is sent by
#                        post_delete); absent when the writer does not name them (a bulk load)
# For what must commit with the write (the change feed). Receivers record it in that
# transaction, never compute inline; an exception in a receiver fails the write.
nutrition_changed = Signal()

# Sent once a diary write has committed, inside a transaction of its own, with `user_id` and
# `days` as above: by the write's after-commit send of its outbox row (the row's fast path,
# `nutrition.services._follow_up_after_commit`), or, when that did not happen (a crash right
# after the commit, a receiver's error), by the worker's task `nutrition.announce_committed`,
# which the relay publishes from the row. The derived work subscribes here (goal progress,
# care-program adherence, the recommendations' refresh). Receivers only enqueue their work
# (healthtrack.core.outbox.enqueue_on_commit): the work itself runs after the response. An
# exception leaves the row to the relay and the task, which is retried.
nutrition_committed = Signal()
