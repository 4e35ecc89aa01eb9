from __future__ import annotations

from celery import shared_task

from metrics import services


@shared_task(name="metrics.purge_idempotency_records", autoretry_for=(Exception,), max_retries=3)
def purge_idempotency_records() -> int:
    """Drop sync idempotency records older than 24 h (safe to run any number of times)."""
    return services.idempotency_records_purge()
