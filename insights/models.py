from __future__ import annotations

from auditlog.registry import auditlog
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from fernet_fields import EncryptedTextField

from insights.list_version import insights_changed


class HealthInsightQuerySet(models.QuerySet):
    def for_user(self, user_id: int) -> HealthInsightQuerySet:
        return self.filter(user_id=user_id)

    def recommendations(self) -> HealthInsightQuerySet:
        return self.filter(kind=HealthInsight.Kind.RECOMMENDATION)

    def alerts(self) -> HealthInsightQuerySet:
        return self.filter(kind=HealthInsight.Kind.ALERT)

    def current(self) -> HealthInsightQuerySet:
        """Everything but recommendations replaced by a newer generation (kept as history)."""
        return self.filter(superseded_at__isnull=True)

    def unreviewed(self) -> HealthInsightQuerySet:
        return self.alerts().filter(reviewed_at__isnull=True)

    def needing_attention(self, now=None) -> HealthInsightQuerySet:
        """The open list: alerts nobody has handled yet, and snoozed ones whose snooze ran out.
        Acknowledged and resolved alerts are off it."""
        now = now or timezone.now()
        status = HealthInsight.AlertStatus
        return self.alerts().filter(
            Q(alert_status=status.OPEN) | Q(alert_status=status.SNOOZED, snoozed_until__lte=now)
        )

    def newest_first(self) -> HealthInsightQuerySet:
        return self.order_by("-created_at", "-id")

    # Writes that send no signal retire the owners' list versions here (`insights.list_version`;
    # saves and deletes of instances: `insights.receivers`). The base manager is this one
    # (`Meta.base_manager_name`), so Django's own updates of these rows go through it too.

    def owner_ids(self) -> set[int]:
        return set(self.order_by().values_list("user_id", flat=True).distinct())

    def update(self, **kwargs) -> int:
        owners = self.owner_ids()
        count = super().update(**kwargs)
        new_owner = kwargs.get("user", kwargs.get("user_id"))
        owners.add(new_owner.pk if isinstance(new_owner, models.Model) else new_owner)
        insights_changed((pk for pk in owners if isinstance(pk, int)), using=self.db)
        return count

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        insights_changed((obj.user_id for obj in created), using=self.db)
        return created

    def bulk_update(self, objs, fields, *args, **kwargs) -> int:
        """`update` per batch (the owners before), and the owners the rows name now."""
        objs = list(objs)
        count = super().bulk_update(objs, fields, *args, **kwargs)
        insights_changed((obj.user_id for obj in objs), using=self.db)
        return count


class HealthInsight(models.Model):
    """A generated recommendation, an alert on a reading, or a clinician's note."""

    class Kind(models.TextChoices):
        RECOMMENDATION = "recommendation", "Recommendation"
        ALERT = "alert", "Alert"
        CLINICIAN_NOTE = "clinician_note", "Clinician note"

    class Severity(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"

    class AlertStatus(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        SNOOZED = "snoozed", "Snoozed"
        RESOLVED = "resolved", "Resolved"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="health_insights"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # A rule's or alert's stable code (`low_steps`, `blood_pressure_crisis`, ...), or
    # `clinician_note`.
    insight_type = models.CharField(max_length=64)
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.LOW)
    rank = models.PositiveSmallIntegerField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    title = models.CharField(max_length=200)
    # Free text quoting the user's figures (or a clinician's words): encrypted at rest.
    message = EncryptedTextField(blank=True, default="")
    actions = models.JSONField(default=list, blank=True)
    related_metric = models.CharField(max_length=64, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    is_read = models.BooleanField(default=False)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    # Generated recommendations: the batch they belong to; a newer batch deletes the
    # unacknowledged rows of the old one and marks the acknowledged ones superseded (history).
    generation = models.UUIDField(null=True, blank=True, editable=False)
    superseded_at = models.DateTimeField(null=True, blank=True)

    # Alerts: one per reading or window (see insights.alerts), reviewed by a clinician.
    dedupe_key = models.CharField(max_length=200, blank=True, default="")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reviewed_alerts",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # Alert handling (insights.handling): where the alert stands, until when it is snoozed and
    # whom it was escalated to. Every change is an `AlertAction` row (who, when, what, note).
    alert_status = models.CharField(
        max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN
    )
    snoozed_until = models.DateTimeField(null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="escalated_alerts",
    )

    # Clinician notes: who wrote it.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="authored_insights",
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = HealthInsightQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        base_manager_name = "objects"
        indexes = [
            models.Index(fields=["user", "-created_at"], name="insight_user_newest"),
            models.Index(
                fields=["user", "-created_at"],
                name="insight_user_unread_alerts",
                condition=Q(kind="alert", is_read=False),
            ),
            models.Index(
                fields=["-created_at"],
                name="insight_unreviewed_alerts",
                condition=Q(kind="alert", reviewed_at__isnull=True),
            ),
            # The triage list and the patient page: alerts still to be handled.
            models.Index(
                fields=["user", "-created_at"],
                name="insight_alerts_to_handle",
                condition=Q(kind="alert", alert_status__in=["open", "snoozed"]),
            ),
            models.Index(
                fields=["user", "rank"],
                name="insight_current_recs",
                condition=Q(kind="recommendation", superseded_at__isnull=True),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "insight_type", "dedupe_key"],
                condition=Q(kind="alert"),
                name="insight_one_alert_per_reading",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"

    @property
    def is_acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    @property
    def type_label(self) -> str:
        """The insight type for people ("Blood pressure crisis"), never the raw code."""
        from insights.labels import insight_type_label

        return insight_type_label(self.insight_type)

    def get_insight_type_display(self) -> str:
        return self.type_label


class AlertAction(models.Model):
    """One decision on an alert: acknowledged, snoozed (until), resolved or escalated (to
    whom), by whom, when, with the clinician's note. Written by `insights.handling` only,
    never changed: together the rows are the alert's handling trail."""

    class Action(models.TextChoices):
        ACKNOWLEDGE = "acknowledge", "Acknowledged"
        SNOOZE = "snooze", "Snoozed"
        RESOLVE = "resolve", "Resolved"
        ESCALATE = "escalate", "Escalated"

    alert = models.ForeignKey(HealthInsight, on_delete=models.CASCADE, related_name="handling")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # The username at the time, kept when the account is gone.
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=16, choices=Action.choices)
    # The clinician's words may quote health figures: encrypted at rest, kept out of auditlog.
    note = EncryptedTextField(blank=True, default="")
    snoozed_until = models.DateTimeField(null=True, blank=True)
    escalated_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["alert", "-at"], name="alert_action_alert_newest")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor_label}"


class RecommendationState(models.Model):
    """When a user's inputs last changed and when their stored recommendations were last
    computed, so the nightly run skips everyone whose result cannot have changed.

    - `data_changed_at`: set (after commit) by every write the recommendations read: metrics,
      nutrition diary and targets, goals.
    - `computed_at`: when the last stored computation started reading (a write committed after
      that moment is newer than the result).
    - `computed_for`: the `today` of that computation.
    - `valid_until`: the first day on which the same data could give another result because a
      rule's window slid over a data day; None when no data is within any window's reach (the
      result then stays the same until new data arrives).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="recommendation_state",
    )
    data_changed_at = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    computed_for = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"recommendation state of user {self.user_id}"


class HealthAlert(HealthInsight):
    """Alerts, for their own admin list (unreviewed first)."""

    class Meta:
        proxy = True
        verbose_name = "alert"


# `message` is encrypted: auditlog would otherwise record its decrypted plaintext. The proxy is
# registered too because its admin saves proxy instances, whose signals name the proxy.
auditlog.register(HealthInsight, exclude_fields=["message"])
auditlog.register(HealthAlert, exclude_fields=["message"])
auditlog.register(AlertAction, exclude_fields=["note"])
