"""Celery tasks of the shared plumbing: the outbox relay and the clean-ups of the outbox and of
the Idempotency-Key answers. Each calls one function. Their task names are the ones they were
published under when they lived in `accounts` (beat entries and queued messages keep working)."""

from __future__ import annotations

from celery import shared_task

from healthtrack.core import outbox
from healthtrack.core.models import IdempotentRequest


@shared_task(name="accounts.tasks.relay_outbox", ignore_result=True)
def relay_outbox() -> dict[str, int]:
    """Publish outbox tasks an outage left pending (beat: every OUTBOX_RELAY_SECONDS)."""
    return outbox.outbox_relay()


@shared_task(name="accounts.tasks.prune_outbox", ignore_result=True)
def prune_outbox() -> int:
    """Delete sent outbox rows older than OUTBOX_RETENTION_DAYS (beat: daily)."""
    return outbox.outbox_prune()


@shared_task(name="accounts.tasks.purge_idempotent_requests", ignore_result=True)
def purge_idempotent_requests() -> int:
    """Delete Idempotency-Key answers older than 24 h (beat: hourly)."""
    deleted, _ = IdempotentRequest.objects.expired().delete()
    return deleted
