from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from goals import services


@shared_task(
    name="goals.recompute_goal_progress",
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    max_retries=3,
)
def recompute_goal_progress(user_id: int, metric_types: list[str] | None = None) -> int:
    """Refresh the progress of a person's active goals measuring `metric_types` (None: all).
    Recomputes from the data, so running it twice, late or out of order is harmless."""
    return len(services.goal_progress_recompute(user_id=user_id, metric_types=metric_types))


@shared_task(
    name="goals.recompute_all_goal_progress", autoretry_for=(DatabaseError,), max_retries=3
)
def recompute_all_goal_progress() -> int:
    """Hourly (Celery beat): windows slide and "on track" moves with the date; each run
    refreshes the people whose local day has just begun."""
    return services.goal_progress_recompute_all(new_day_only=True)
