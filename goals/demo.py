"""Three goals for the demo patient, with progress computed from the demo data:
8,000 steps a day, a weight a few kg below the current one by a date, 2 L of water a day.
Idempotent: a goal type the patient already has a goal of is skipped."""

from __future__ import annotations

import random
from datetime import timedelta

from goals import services
from goals.measures import get_measure
from goals.models import HealthGoal
from goals.readings import Readings

#: Used when the demo patient has no weighing (metrics seeded with days=0).
FALLBACK_WEIGHT_KG = 74.5


def seed(*, users: dict, days: int, rng: random.Random) -> list[HealthGoal]:
    patient = users.get("patient")
    if patient is None:
        return []
    today = services.utc_today()
    have = set(HealthGoal.objects.for_user(patient).values_list("goal_type", flat=True))
    created = []
    start = today - timedelta(days=min(max(days, 0), 30))

    if "steps" not in have:
        created.append(
            services.goal_create(
                user=patient,
                goal_type="steps",
                title="Walk 8,000 steps a day",
                target_value=8000,
                start_date=start,
                priority="high",
                description="Walk to work on dry days; a longer walk at the weekend.",
            )
        )
    if "weight" not in have:
        weight = get_measure("weight")
        readings = Readings(patient.pk)
        now = readings.latest(weight)
        then = readings.baseline(weight, period_days=7, start_date=start)
        known = [v for v in (now, then) if v is not None]
        reference = min(known) if known else FALLBACK_WEIGHT_KG
        target = round(reference - 3, 1)
        created.append(
            services.goal_create(
                user=patient,
                goal_type="weight",
                title=f"Reach {target:g} kg",
                target_value=target,
                direction="decrease",
                start_date=start,
                target_date=today + timedelta(days=120),
                priority="medium",
            )
        )
    if "water" not in have:
        created.append(
            services.goal_create(
                user=patient,
                goal_type="water",
                title="Drink 2 L of water a day",
                target_value=2,
                unit="L",
                start_date=start,
                priority="low",
            )
        )
    return created
