from __future__ import annotations

from celery import shared_task

from healthtrack.webhooks import services


@shared_task(name="webhooks.deliver", ignore_result=True)
def deliver(delivery_id: int) -> str:
    return services.attempt(delivery_id=delivery_id)


@shared_task(name="webhooks.retry_due", ignore_result=True)
def retry_due() -> int:
    return services.retry_due()
