"""Celery tasks of the accounts app: each loads what it needs and calls one function."""

from __future__ import annotations

from celery import shared_task
from oauth2_provider.models import clear_expired

from healthtrack.core import outbox


@shared_task(name="accounts.tasks.relay_outbox", ignore_result=True)
def relay_outbox() -> dict[str, int]:
    """Publish outbox tasks a broker outage left pending (beat: every minute)."""
    return outbox.outbox_relay()


@shared_task(name="accounts.tasks.prune_outbox", ignore_result=True)
def prune_outbox() -> int:
    """Delete sent outbox rows older than OUTBOX_RETENTION_DAYS (beat: daily)."""
    return outbox.outbox_prune()


@shared_task(name="accounts.tasks.purge_idempotent_requests", ignore_result=True)
def purge_idempotent_requests() -> int:
    """Delete Idempotency-Key answers older than 24 h (beat: hourly)."""
    from healthtrack.core.api.idempotency import idempotency_records_purge

    return idempotency_records_purge()


@shared_task(name="accounts.tasks.prune_oauth_tokens", ignore_result=True)
def prune_oauth_tokens() -> None:
    """Delete expired OAuth access tokens, codes and expired or revoked refresh tokens
    (django-oauth-toolkit's `cleartokens`; beat: daily). Safe to run twice."""
    clear_expired()
