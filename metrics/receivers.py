"""Metrics listens to `healthtrack.core.days.time_zone_changed`: a person's days moved, so their
rollups are cut again (`metrics.tasks.recut_rollups`). Only enqueues, after commit."""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def on_time_zone_changed(sender, *, user_id: int, **kwargs) -> None:
    from metrics.tasks import recut_rollups

    transaction.on_commit(lambda: recut_rollups.delay(user_id), robust=True)


def connect() -> None:
    from healthtrack.core.days import time_zone_changed

    time_zone_changed.connect(on_time_zone_changed, dispatch_uid="metrics.time_zone_changed")
