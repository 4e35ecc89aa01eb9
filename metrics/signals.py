"""Signals the metrics app sends; higher apps (goals, insights, dashboard) subscribe.

`measurements_changed` is sent inside the writing transaction, once per write, with
`user_id: int`, `metric_types: set[str]`, `start: datetime`, `end: datetime` (the span of
`recorded_at`/`end_at` the write touched, aware UTC) and, when the write knows it, `tz` (the
owner's zone from `healthtrack.core.days`, read once per write; receivers need not read it
again) and `facts`, a dict shared by this send's receivers: one may leave there answers about
the person that a later one would otherwise read in a statement of its own (the change feed's
statement answers the webhooks and goals receivers' questions; without an answer each asks).
Receivers record their follow-up work in that transaction
(`healthtrack.core.outbox.enqueue_on_commit`, change-feed events), so it commits or rolls back
with the write, and defer anything else (caches) with `transaction.on_commit`. An exception in a
receiver fails the write.

`rollups_recut` is sent after a person's daily, weekly and monthly rollups were cut again in
their new time zone (`services.rollups_recut`, after `healthtrack.core.days.time_zone_changed`),
with `user_id: int`. No measurement changed, only which local day each belongs to: subscribers
recompute what they derive from daily figures (goal progress, adherence, insights).
"""

from __future__ import annotations

import django.dispatch

measurements_changed = django.dispatch.Signal()
rollups_recut = django.dispatch.Signal()
