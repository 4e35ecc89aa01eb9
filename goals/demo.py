"""Demo goals, a care program and a family member.

- Three goals for the demo patient, with progress computed from the demo data: 8,000 steps a
  day, a weight a few kg below the current one by a date, 2 L of water a day.
- A 90-day care program for the demo patient, set by the demo clinician, started up to 60
  days ago so that its adherence is computed for the demo days already past.
- A dependent (a child, "Milo") managed by the demo patient, with a week of steps, a few
  meals and a goal, so the member switcher has someone to switch to.
Idempotent: a goal type the patient already has, the program (by title) and the child (by
name) are each created once."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

from django.db import transaction

from accounts import family
from accounts.models import FamilyMembership, User
from goals import services
from goals.care_programs import programs
from goals.care_programs.models import CareProgram
from goals.measures import get_measure
from goals.models import HealthGoal
from goals.readings import Readings
from healthtrack.core import days as calendar
from metrics import services as metric_services
from nutrition import services as nutrition_services

#: Used when the demo patient has no weighing (metrics seeded with days=0).
FALLBACK_WEIGHT_KG = 74.5


PROGRAM_TITLE = "Heart-healthy 90 days"
PROGRAM_CONFIG = {
    "nutrition": {"calories": {"min": 1600, "max": 2100}, "protein_g": {"min": 60}},
    "activity": {"steps": {"min": 8000}, "exercise_minutes": {"min": 30}},
    "sleep": {"minutes": {"min": 420, "max": 540}},
}
PROGRAM_PAST_DAYS = 60
CHILD_NAME = "Milo"
CHILD_DAYS = 7


def seed(*, users: dict, days: int, rng: random.Random) -> list[HealthGoal]:
    patient = users.get("patient")
    if patient is None:
        return []
    created = _seed_goals(patient, days)
    _seed_program(patient, users.get("clinician"), days)
    _seed_dependent(patient, rng)
    return created


@transaction.atomic
def _seed_program(patient: User, clinician: User | None, days: int) -> CareProgram | None:
    existing = CareProgram.objects.for_user(patient).filter(title=PROGRAM_TITLE).first()
    if existing is not None:
        return existing
    start = calendar.today(patient) - timedelta(days=min(max(days, 0), PROGRAM_PAST_DAYS))
    # program_create scores every day already past from the demo data.
    return programs.program_create(
        user=patient,
        created_by=clinician or patient,
        title=PROGRAM_TITLE,
        config=PROGRAM_CONFIG,
        start_date=start,
        phase="Phase 1: build the habit",
    )


@transaction.atomic
def _seed_dependent(patient: User, rng: random.Random) -> User:
    link = (
        FamilyMembership.objects.live()
        .filter(manager=patient, member__is_dependent=True, member__first_name=CHILD_NAME)
        .select_related("member")
        .first()
    )
    if link is not None:
        return link.member
    today = calendar.today()
    child = family.family_member_create(
        manager=patient,
        first_name=CHILD_NAME,
        last_name=patient.last_name,
        relation=FamilyMembership.Relation.CHILD,
        date_of_birth=date(today.year - 9, 3, 14),
        sex=User.Sex.MALE,
        height_cm=134.0,
    ).member
    for offset in range(CHILD_DAYS, 0, -1):
        day = today - timedelta(days=offset)
        metric_services.metric_create(
            user=child,
            metric_type="steps",
            value=round(rng.uniform(7000, 13000)),
            recorded_at=datetime.combine(day, time(17), tzinfo=UTC),
            source_app="HealthTrack demo",
        )
    for offset, (meal, calories) in enumerate((("breakfast", 380), ("lunch", 520)), start=1):
        nutrition_services.nutrition_log_create(
            user=child,
            meal_type=meal,
            description="School lunch" if meal == "lunch" else "Porridge with banana",
            calories=calories,
            logged_at=datetime.combine(today - timedelta(days=offset), time(8), tzinfo=UTC),
        )
    services.goal_create(
        user=child,
        goal_type="steps",
        title="Play outside: 10,000 steps a day",
        target_value=10000,
        start_date=today - timedelta(days=CHILD_DAYS),
        priority="medium",
    )
    return child


def _seed_goals(patient: User, days: int) -> list[HealthGoal]:
    today = calendar.today(patient)
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
