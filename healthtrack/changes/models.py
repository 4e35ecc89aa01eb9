"""The change feed's rows. `user_id` is a plain integer (no foreign key): tombstones are
written while a person's records are being deleted, and a deleted account's rows go with it
(`receivers.on_user_deleted`).

A row stands for `span` events in a row: the records `object_id` .. `object_id + span - 1`,
numbered `seq` .. `seq + span - 1`, one action, one time (a device sync's 1,440 new
measurements are one or two rows, not 1,440). `services` expands them: what the feed's API
and `changes_recorded` hand out is one `ChangeEvent` per record (`span` 1)."""

from __future__ import annotations

from django.db import models
from django.db.models import F
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
    # How many consecutive ids (and sequence numbers) the row stands for; at most
    # `services.SPAN_BLOCK`, within one block of that many ids.
    span = models.PositiveIntegerField(default=1, db_default=1)
    action = models.CharField(max_length=10, choices=Action.choices)
    occurred_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user_id", "seq"], name="change_user_seq"),
        ]
        indexes = [
            # The last id a row names: the highest one a person's feed holds (one probe) and
            # whether an id has an event (`services._ACTION_SQL`).
            models.Index(
                F("user_id"),
                F("resource"),
                F("object_id") + F("span") - 1,
                name="change_user_object_end",
            ),
            models.Index(fields=["occurred_at"], name="change_occurred"),
        ]

    def __str__(self) -> str:
        if self.span == 1:
            return f"{self.resource} {self.object_id} {self.action} (#{self.seq})"
        last = self.object_id + self.span - 1
        return f"{self.resource} {self.object_id}-{last} {self.action} (#{self.seq}+)"
