"""Signals the metrics app sends; higher apps (goals, insights, dashboard) subscribe.

`measurements_changed` is sent after the writing transaction commits, once per write, with
`user_id: int`, `metric_types: set[str]`, `start: datetime`, `end: datetime` (the span of
`recorded_at`/`end_at` the write touched, aware UTC). Receivers should only enqueue work.

`rollups_recut` is sent after a person's daily, weekly and monthly rollups were cut again in
their new time zone (`services.rollups_recut`, after `accounts.days.time_zone_changed`), with
`user_id: int`. No measurement changed, only which local day each belongs to: subscribers
recompute what they derive from daily figures (goal progress, adherence, insights).
"""

from __future__ import annotations

import django.dispatch

measurements_changed = django.dispatch.Signal()
rollups_recut = django.dispatch.Signal()
