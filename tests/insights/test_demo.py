from __future__ import annotations

import random

import pytest

from accounts.demo import seed_demo
from insights import demo
from insights.models import HealthInsight, RecommendationState

pytestmark = pytest.mark.django_db


def current(user) -> list[tuple]:
    return list(
        HealthInsight.objects.for_user(user.pk)
        .recommendations()
        .current()
        .order_by("rank")
        .values_list("id", "insight_type", "rank")
    )


def test_demo_patient_gets_recommendations_after_the_other_seeders():
    users = seed_demo(days=4)
    patient = users["patient"]
    assert current(patient), "the demo data should give the dashboard something to show"
    assert RecommendationState.objects.get(user=patient).computed_at is not None


def test_demo_is_idempotent():
    users = seed_demo(days=4)
    first = current(users["patient"])
    demo.seed(users=users, days=4, rng=random.Random(3))
    seed_demo(days=4)
    assert current(users["patient"]) == first
    assert HealthInsight.objects.count() == len(first)
