"""The change feed's rows. `user_id` is a plain integer (no foreign key): tombstones are
written while a person's records are being deleted, and a deleted account's rows go with it
(`receivers.on_user_deleted`)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ChangeSequence(models.Model):
    """One row per person: the last sequence number given out (the row is locked while an
    append runs, so numbers become visible in order) and the last one pruned."""

    user_id = models.BigIntegerField(primary_key=True)
    last_seq = models.BigIntegerField(default=0)
    pruned_through = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"changes of user {self.user_id} through {self.last_seq}"


class ChangeEvent(models.Model):
    class Resource(models.TextChoices):
        MEASUREMENT = "measurement", "Measurement"
        NUTRITION_ENTRY = "nutrition_entry", "Food diary entry"
        GOAL = "goal", "Goal"

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        DELETED = "deleted", "Deleted"

    user_id = models.BigIntegerField()
    seq = models.BigIntegerField()
    resource = models.CharField(max_length=20, choices=Resource.choices)
    object_id = models.BigIntegerField()
    action = models.CharField(max_length=10, choices=Action.choices)
    occurred_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user_id", "seq"], name="change_user_seq"),
        ]
        indexes = [
            models.Index(fields=["user_id", "resource", "object_id"], name="change_user_object"),
            models.Index(fields=["occurred_at"], name="change_occurred"),
        ]

    def __str__(self) -> str:
        return f"{self.resource} {self.object_id} {self.action} (#{self.seq})"
