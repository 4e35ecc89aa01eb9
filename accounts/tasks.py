"""Celery tasks of the accounts app: each loads what it needs and calls one function. (The
outbox and Idempotency-Key tasks are `healthtrack.core.tasks`, under their old names.)"""

from __future__ import annotations

from celery import shared_task
from oauth2_provider.models import clear_expired


@shared_task(name="accounts.tasks.prune_oauth_tokens", ignore_result=True)
def prune_oauth_tokens() -> None:
    """Delete expired OAuth access tokens, codes and expired or revoked refresh tokens
    (django-oauth-toolkit's `cleartokens`; beat: daily). Safe to run twice."""
    clear_expired()
