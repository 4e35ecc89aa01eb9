"""Signals the metrics app sends; higher apps (goals, insights, dashboard) subscribe.

`measurements_changed` is sent after the writing transaction commits, once per write, with
`user_id: int`, `metric_types: set[str]`, `start: datetime`, `end: datetime` (the span of
`recorded_at`/`end_at` the write touched, aware UTC). Receivers should only enqueue work.
"""

from __future__ import annotations

import django.dispatch

measurements_changed = django.dispatch.Signal()
