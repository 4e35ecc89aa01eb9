from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from fernet_fields import EncryptedTextField

from accounts.models import ConnectedApp


class WebhookSubscription(models.Model):
    """An app (through the patient's consent, a ConnectedApp) asks for events at a URL."""

    connected_app = models.ForeignKey(
        ConnectedApp, on_delete=models.CASCADE, related_name="webhook_subscriptions"
    )
    url = models.CharField(max_length=500, help_text="https://…, checked by urlcheck.")
    events = models.JSONField(default=list, help_text="Event types, e.g. observation.created.")
    secret = EncryptedTextField(help_text="The HMAC-SHA256 key (encrypted at rest).")
    next_sequence = models.BigIntegerField(default=1)
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True, default="")

    def __str__(self) -> str:
        return f"webhook {self.pk} of {self.connected_app.application}"


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending (will be tried)"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Gave up"

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.UUIDField(default=uuid.uuid4, editable=False)
    event_type = models.CharField(max_length=40)
    sequence = models.BigIntegerField()
    payload = models.JSONField(help_text="Ids and types only, never health values.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_due"),
            models.Index(fields=["subscription", "sequence"], name="webhook_sub_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.sequence} ({self.status})"
