"""Care programs (models): `CareProgram`, a plan with daily targets for one person, and
`ProgramAdherence`, its derived score per day (configuration schema, adherence scoring and writes:
`goals.care_programs.programs`); and their daily logs (rules and writes in
`goals.care_programs.program_logs`).

A `ProgramLog` is one activity logged against a program (a meal, a workout, a dose, a symptom,
a vital sign) with the points it moves that day's adherence by. `ProgramLogDay` holds the sum of
a day's log points, changed only by `F()` updates so that concurrent logs never lose one; the
day's adherence as read (`goals.care_programs.programs.adherence_between`) is its computed
score plus these points, kept within 0-100.

The models belong to the goals app (app label `goals`, tables `goals_*`)."""

from __future__ import annotations

import json

from auditlog.registry import auditlog
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from fernet_fields import EncryptedTextField

PROGRAM_DEFAULT_DAYS = 90


class CareProgramQuerySet(models.QuerySet):
    def for_user(self, user) -> CareProgramQuerySet:
        return self.filter(user_id=getattr(user, "pk", user))

    def active(self) -> CareProgramQuerySet:
        return self.filter(status=CareProgram.Status.ACTIVE)

    def covering(self, first, last) -> CareProgramQuerySet:
        """Programs whose date range overlaps first..last (inclusive)."""
        return self.filter(start_date__lte=last, end_date__gte=first)


class CareProgram(models.Model):
    """A structured plan for one person (a patient, or a family member) with daily targets;
    `ProgramAdherence` holds its score for each day with data."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="care_programs"
    )
    title = models.CharField(max_length=200)
    start_date = models.DateField()
    end_date = models.DateField()
    phase = models.CharField(max_length=50, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # Daily targets per dimension, validated by goals.care_programs.validation.clean_program_config.
    config = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CareProgramQuerySet.as_manager()

    class Meta:
        ordering = ["-start_date", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start_date__lte=models.F("end_date")), name="care_program_dates"
            )
        ]
        indexes = [models.Index(fields=["user", "status"], name="care_program_user_idx")]

    def __str__(self) -> str:
        return f"{self.title} ({self.start_date}–{self.end_date})"


class ProgramAdherence(models.Model):
    """Derived: one program's score for one UTC day that has data. Recomputed, never edited."""

    program = models.ForeignKey(CareProgram, on_delete=models.CASCADE, related_name="adherence")
    day = models.DateField()
    score = models.PositiveSmallIntegerField()
    breakdown = models.JSONField(default=dict)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["program", "day"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "day"], name="program_adherence_one_per_day"
            ),
            models.CheckConstraint(condition=Q(score__lte=100), name="program_adherence_score"),
        ]

    def __str__(self) -> str:
        return f"{self.program_id} {self.day}: {self.score}"


auditlog.register(CareProgram)


class ProgramLogQuerySet(models.QuerySet):
    def pending(self) -> ProgramLogQuerySet:
        return self.filter(status=ProgramLog.Status.PENDING)


class ProgramLog(models.Model):
    class LogType(models.TextChoices):
        NUTRITION = "NUTRITION", "Nutrition"
        WORKOUT = "WORKOUT", "Workout"
        MEDICATION = "MEDICATION", "Medication"
        SYMPTOM = "SYMPTOM", "Symptom"
        VITALS = "VITALS", "Vitals"

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending verification"
        VERIFIED = "VERIFIED", "Verified"
        REJECTED = "REJECTED", "Rejected"

    class Source(models.TextChoices):
        SELF_REPORT = "self_report", "Self-report"
        DEVICE = "device", "Device"
        CLINICIAN = "clinician", "Clinician"

    program = models.ForeignKey("goals.CareProgram", on_delete=models.CASCADE, related_name="logs")
    log_type = models.CharField(max_length=16, choices=LogType.choices)
    # The validated payload as JSON text: it may hold free text about someone's health
    # (a symptom, a medication), so it is encrypted at rest and excluded from the audit log.
    payload_json = EncryptedTextField()
    logged_at = models.DateTimeField()
    day = models.DateField(help_text="The UTC day of `logged_at`: the adherence day it moves.")
    source = models.CharField(max_length=16, choices=Source.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    points = models.SmallIntegerField(help_text="Signed adherence points this log adds.")
    reason = models.CharField(max_length=200)
    linked_metric = models.ForeignKey(
        "metrics.HealthMetric", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    linked_meal = models.ForeignKey(
        "nutrition.NutritionLog",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # The reviewer's note: free text, encrypted, not in the audit log.
    review_note = EncryptedTextField(blank=True, default="")

    objects = ProgramLogQuerySet.as_manager()

    class Meta:
        ordering = ["-logged_at", "-id"]
        indexes = [
            models.Index(fields=["program", "-logged_at"], name="program_log_time"),
            models.Index(fields=["status", "program"], name="program_log_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(points__gte=-100, points__lte=100), name="program_log_points_range"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["PENDING", "VERIFIED", "REJECTED"]),
                name="program_log_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_log_type_display()} log {self.pk} ({self.status})"

    @property
    def payload(self) -> dict:
        return json.loads(self.payload_json or "{}")

    @property
    def adherence_impact(self) -> dict:
        return {"points": self.points, "reason": self.reason}


class ProgramLogDay(models.Model):
    """Derived: the sum of the points of a program's logs on one day (rejected ones excluded).
    Changed only by `F()` updates (`goals.care_programs.program_logs`)."""

    program = models.ForeignKey(
        "goals.CareProgram", on_delete=models.CASCADE, related_name="log_days"
    )
    day = models.DateField()
    points = models.IntegerField(default=0)

    class Meta:
        ordering = ["program", "day"]
        constraints = [
            models.UniqueConstraint(fields=["program", "day"], name="program_log_day_one_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.program_id} {self.day}: {self.points:+d}"


auditlog.register(ProgramLog, exclude_fields=["payload_json", "review_note"])
