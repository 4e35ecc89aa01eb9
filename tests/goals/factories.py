from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import factory
from django.utils import timezone

from goals.models import HealthGoal
from metrics import services as metric_services
from nutrition import services as nutrition_services
from tests.accounts.factories import UserFactory


def today() -> date:
    return timezone.now().astimezone(UTC).date()


def days_ago(n: int) -> date:
    return today() - timedelta(days=n)


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def measure(user, metric_type: str, value: float, day: date, *, hour: int = 12, unit=None):
    """A measurement written through the metrics service (so the rollups are right)."""
    return metric_services.metric_create(
        user=user,
        metric_type=metric_type,
        value=value,
        unit=unit,
        recorded_at=at(day, hour),
        source_app="tests",
    )


def measure_days(user, metric_type: str, values_by_days_ago: dict[int, float]) -> None:
    for n, value in values_by_days_ago.items():
        measure(user, metric_type, value, days_ago(n))


def log_food(user, day: date, **amounts):
    """A diary entry written through the nutrition service."""
    return nutrition_services.nutrition_log_create(
        user=user,
        meal_type="drink" if "water_ml" in amounts else "lunch",
        logged_at=at(day),
        **amounts,
    )


class HealthGoalFactory(factory.django.DjangoModelFactory):
    """A raw row (no service, no progress): for access and listing tests."""

    class Meta:
        model = HealthGoal

    user = factory.SubFactory(UserFactory)
    goal_type = HealthGoal.GoalType.STEPS
    title = factory.Sequence(lambda n: f"Goal {n}")
    description = "Walk to work"
    metric_type = "steps"
    target_value = 8000.0
    unit = "count"
    direction = HealthGoal.Direction.AT_LEAST
    period_days = 7
    start_date = factory.LazyFunction(today)
    status = HealthGoal.Status.ACTIVE
