from __future__ import annotations

from datetime import date, timedelta

import factory

from insights.models import HealthInsight
from insights.snapshot import Snapshot
from tests.accounts.factories import UserFactory

TODAY = date(2026, 3, 31)


def days_back(count: int, *, end: int = 1, every: int = 1) -> list[date]:
    """`count` days ending `end` days before TODAY (1 = yesterday), oldest first."""
    return [TODAY - timedelta(days=end + i * every) for i in reversed(range(count))]


def series(values, *, end: int = 1, every: int = 1) -> dict[date, float]:
    """Daily values, the last one `end` days before TODAY."""
    values = list(values)
    return dict(zip(days_back(len(values), end=end, every=every), values, strict=True))


def constant(value: float, count: int = 10, *, end: int = 1) -> dict[date, float]:
    return series([value] * count, end=end)


def linear(start: float, per_day: float, count: int, *, end: int = 1) -> dict[date, float]:
    return series([start + per_day * i for i in range(count)], end=end)


def snapshot(**kwargs) -> Snapshot:
    kwargs.setdefault("user_id", 1)
    kwargs.setdefault("today", TODAY)
    kwargs.setdefault("age", 40)
    return Snapshot(**kwargs)


class HealthInsightFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HealthInsight

    user = factory.SubFactory(UserFactory)
    kind = HealthInsight.Kind.RECOMMENDATION
    insight_type = "low_steps"
    severity = HealthInsight.Severity.MEDIUM
    title = factory.Sequence(lambda n: f"Insight {n}")
    message = "You averaged 3,000 steps a day; the recommended minimum is 5,000."
    actions = factory.LazyFunction(lambda: ["Walk more."])
    related_metric = "steps"


class AlertFactory(HealthInsightFactory):
    kind = HealthInsight.Kind.ALERT
    insight_type = "blood_pressure_crisis"
    severity = HealthInsight.Severity.HIGH
    related_metric = "blood_pressure_systolic"
    dedupe_key = factory.Sequence(lambda n: f"blood_pressure_crisis:2026-03-{n % 28 + 1:02d}")
