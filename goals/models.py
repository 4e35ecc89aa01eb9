"""Health goals and their progress, computed from the person's data (see `goals.progress`)."""

from __future__ import annotations

from auditlog.registry import auditlog
from django.conf import settings
from django.db import models
from django.db.models import Case, IntegerField, Q, Value, When
from fernet_fields import EncryptedTextField

from goals.measures import GOAL_TYPES, MEASURE_CHOICES, get_measure

MAX_PERIOD_DAYS = 365
DEFAULT_PERIOD_DAYS = 7


class HealthGoalQuerySet(models.QuerySet):
    def for_user(self, user) -> HealthGoalQuerySet:
        return self.filter(user_id=getattr(user, "pk", user))

    def active(self) -> HealthGoalQuerySet:
        return self.filter(status=HealthGoal.Status.ACTIVE)

    def measuring(self, metric_types) -> HealthGoalQuerySet:
        """Goals whose `metric_type` is one of `metric_types` (None: any)."""
        if metric_types is None:
            return self
        return self.filter(metric_type__in=list(metric_types))

    def by_priority(self) -> HealthGoalQuerySet:
        """High priority first, then the nearest target date (none last), oldest first."""
        rank = Case(
            When(priority=HealthGoal.Priority.HIGH, then=Value(0)),
            When(priority=HealthGoal.Priority.MEDIUM, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
        return self.annotate(priority_rank=rank).order_by(
            "priority_rank", models.F("target_date").asc(nulls_last=True), "id"
        )


class HealthGoal(models.Model):
    class GoalType(models.TextChoices):
        STEPS = "steps", "Steps"
        WEIGHT = "weight", "Weight"
        SLEEP = "sleep", "Sleep"
        EXERCISE = "exercise", "Exercise"
        WATER = "water", "Water"
        CALORIES = "calories", "Calories"
        HEART_RATE = "heart_rate", "Heart rate"
        CUSTOM = "custom", "Custom"

    class Direction(models.TextChoices):
        INCREASE = "increase", "Increase to (reach at least)"
        DECREASE = "decrease", "Decrease to (get down to)"
        AT_LEAST = "at_least", "Keep at or above"
        AT_MOST = "at_most", "Keep at or below"

    class Priority(models.TextChoices):
        # Labels differ from insights' severities (same values) so the OpenAPI enums stay apart.
        LOW = "low", "Low priority"
        MEDIUM = "medium", "Medium priority"
        HIGH = "high", "High priority"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        ABANDONED = "abandoned", "Abandoned"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="health_goals"
    )
    goal_type = models.CharField(max_length=16, choices=GoalType.choices)
    title = models.CharField(max_length=200)
    # Free text about someone's health: encrypted at rest, excluded from the audit log.
    description = EncryptedTextField(blank=True, default="")
    metric_type = models.CharField(
        max_length=32,
        choices=MEASURE_CHOICES,
        help_text="A metric type code of metrics.registry or a nutrient (calories, water_ml, ...).",
    )
    target_value = models.FloatField(help_text="In the measure's canonical unit.")
    unit = models.CharField(max_length=16, help_text="The measure's canonical unit.")
    direction = models.CharField(max_length=16, choices=Direction.choices)
    period_days = models.PositiveSmallIntegerField(
        default=DEFAULT_PERIOD_DAYS,
        help_text="Daily-average goals: the number of complete days averaged.",
    )
    baseline_value = models.FloatField(null=True, blank=True)
    start_date = models.DateField()
    target_date = models.DateField(null=True, blank=True)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.MEDIUM)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)

    # Progress, computed from the data by goals.services (never written by hand).
    current_value = models.FloatField(null=True, blank=True)
    progress_percent = models.FloatField(default=0.0)
    on_track = models.BooleanField(null=True, blank=True)
    progress_updated_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = HealthGoalQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "status", "metric_type"], name="goal_user_status_metric"),
            models.Index(fields=["user", "-created_at"], name="goal_user_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(target_date__isnull=True) | Q(target_date__gte=models.F("start_date")),
                name="goal_target_date_not_before_start",
            ),
            models.CheckConstraint(
                condition=Q(period_days__gte=1, period_days__lte=MAX_PERIOD_DAYS),
                name="goal_period_days_range",
            ),
            models.CheckConstraint(
                condition=Q(progress_percent__gte=0, progress_percent__lte=100),
                name="goal_progress_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(target_value__gt=0), name="goal_target_value_positive"
            ),
            models.CheckConstraint(
                condition=Q(goal_type__in=list(GOAL_TYPES)), name="goal_type_known"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def measure(self):
        return get_measure(self.metric_type)

    @property
    def reading(self) -> str:
        """`latest` or `daily_average`: how the current value is read from the data."""
        return self.measure.reading


# Progress is derived data, recomputed whenever the person's data changes: its churn is not
# audit-logged. A status change (completion) is.
PROGRESS_FIELDS = ["current_value", "progress_percent", "on_track", "progress_updated_at"]
auditlog.register(HealthGoal, exclude_fields=["description", *PROGRESS_FIELDS])


# Care programs and their daily logs live in goals/care_programs/ (registered with this app from
# here: same app label, same tables).
from goals.care_programs.models import (  # noqa: E402, F401
    CareProgram,
    ProgramAdherence,
    ProgramLog,
    ProgramLogDay,
)
