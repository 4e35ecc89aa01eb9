from __future__ import annotations

from celery import shared_task

from healthtrack.changes import services


@shared_task(name="changes.prune_change_feed")
def prune_change_feed() -> int:
    """Nightly (beat): events older than DATA_LIFECYCLE["change_feed"]["delete_after"]."""
    return services.prune()
