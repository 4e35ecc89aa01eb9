"""The plumbing's own rows: the transactional outbox (healthtrack.core.outbox) and the answers
kept for Idempotency-Key retries (healthtrack.core.api.idempotency).

Both tables were created by `accounts` and keep their names (`db_table`); the models moved
here with state-only migrations (accounts 0012, core 0001), so no row was copied.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from fernet_fields import EncryptedTextField


class OutboxTaskQuerySet(models.QuerySet):
    def pending(self) -> OutboxTaskQuerySet:
        return self.filter(sent_at__isnull=True)


class OutboxTask(models.Model):
    """A Celery task to send once the transaction that wrote it commits (transactional
    outbox): a write and its follow-up work commit together, and a broker outage only delays
    the work. `kwargs` holds ids, types and dates - never health values."""

    task_name = models.CharField(max_length=200)
    kwargs = models.JSONField(default=dict, blank=True)
    # At most one pending row per key: later writes before the send share the same task.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = OutboxTaskQuerySet.as_manager()

    class Meta:
        db_table = "accounts_outboxtask"  # created by accounts; moved without copying
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=models.Q(sent_at__isnull=True),
                name="outbox_one_pending_per_key",
            )
        ]
        indexes = [
            models.Index(
                fields=["id"], condition=models.Q(sent_at__isnull=True), name="outbox_pending_idx"
            ),
            models.Index(fields=["sent_at"], name="outbox_sent_at_idx"),
        ]

    def __str__(self) -> str:
        state = "sent" if self.sent_at else "pending"
        return f"{self.task_name} ({state})"


# The longest Idempotency-Key a client may send: the API checks it
# (healthtrack.core.api.idempotency),
# the OpenAPI schema states it, and both stores of first answers (this model and the device
# sync's metrics.IdempotencyRecord) size their key column by it.
IDEMPOTENCY_KEY_MAX_LENGTH = 200
# How long a first answer is kept and replayed.
IDEMPOTENCY_TTL = timedelta(hours=24)


class IdempotentRequestQuerySet(models.QuerySet):
    def expired(self, *, now=None) -> IdempotentRequestQuerySet:
        """Answers older than IDEMPOTENCY_TTL (no retry may replay them any more)."""
        return self.filter(created_at__lt=(now or timezone.now()) - IDEMPOTENCY_TTL)


class IdempotentRequest(models.Model):
    """The first answer to a create request sent with an `Idempotency-Key`, replayed to a
    retry with the same key and body for IDEMPOTENCY_TTL (healthtrack.core.api.idempotency). The
    answer can quote health values, so it is encrypted at rest like the rows it describes."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=IDEMPOTENCY_KEY_MAX_LENGTH)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = EncryptedTextField()  # the JSON body
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = IdempotentRequestQuerySet.as_manager()

    class Meta:
        db_table = "accounts_idempotentrequest"  # created by accounts; moved without copying
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotent_request_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.key[:16]} at {self.created_at:%Y-%m-%d %H:%M}"
