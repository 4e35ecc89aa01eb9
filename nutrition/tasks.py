from __future__ import annotations

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
