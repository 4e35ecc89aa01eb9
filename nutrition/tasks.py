from __future__ import annotations

from datetime import date

from celery import shared_task
from django.db import DatabaseError

from nutrition import services


@shared_task(
    name="nutrition.make_meal_photo_thumbnail",
    autoretry_for=(DatabaseError, OSError),
    retry_backoff=True,
    max_retries=3,
)
def make_meal_photo_thumbnail(photo_id: int) -> bool:
    """Make a meal photo's thumbnail. Idempotent: a photo that has one, or is gone, is left."""
    return services.meal_photo_thumbnail_make(photo_id=photo_id)


@shared_task(
    name=services.ANNOUNCE_TASK,
    ignore_result=True,  # one per diary write; nobody waits for it
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    max_retries=3,
)
def announce_committed(user_id: int, days: list[str]) -> None:
    """A diary write committed: hand it to the derived work (`nutrition_committed`). Only
    enqueues, so running it twice, late or out of order is harmless. Normally the write's
    own after-commit send does this (the row's fast path); the task runs when the relay
    publishes a row left pending (a crash right after the commit, a receiver's error)."""
    services.nutrition_changes_follow_up(
        user_id=user_id, days=[date.fromisoformat(day) for day in days]
    )
