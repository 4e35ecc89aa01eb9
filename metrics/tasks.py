from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from metrics import services


@shared_task(name="metrics.purge_idempotency_records", autoretry_for=(Exception,), max_retries=3)
def purge_idempotency_records() -> int:
    """Drop sync idempotency records older than 24 h (safe to run any number of times)."""
    return services.idempotency_records_purge()


@shared_task(
    name="metrics.recut_rollups",
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    max_retries=3,
)
def recut_rollups(user_id: int) -> None:
    """Cut a person's daily (and weekly, monthly) rollups again in their current time zone.
    Safe to run twice or late: it recomputes from the raw rows in the zone stored then."""
    services.rollups_recut(user_id=user_id)
