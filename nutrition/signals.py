"""Signals other apps subscribe to (nutrition imports none of them)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent on commit after each diary write, with kwargs:
#   user_id: int         whose diary changed
#   days: set[date]      the local days (the owner's zone, accounts.days) whose totals may
#                        have changed (old and new day of a move)
# Receivers should only enqueue work (transaction.on_commit + Celery), never compute inline.
nutrition_changed = Signal()
