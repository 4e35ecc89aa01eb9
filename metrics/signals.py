"""Signals the metrics app sends; higher apps (goals, insights, dashboard) subscribe.

`measurements_changed` is sent inside the writing transaction, once per write, with
`user_id: int`, `metric_types: set[str]`, `start: datetime`, `end: datetime` (the span of
`recorded_at`/`end_at` the write touched, aware UTC). Receivers record their follow-up work in
that transaction (`healthtrack.core.outbox.enqueue_on_commit`, change-feed events), so it commits or
rolls back with the write, and defer anything else (caches) with `transaction.on_commit`. An
exception in a receiver fails the write.
"""

from __future__ import annotations

import django.dispatch

measurements_changed = django.dispatch.Signal()
