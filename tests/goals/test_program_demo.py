"""Demo data (goals/demo.py): a care program for the demo patient set by the demo clinician,
with adherence for the demo days, and a dependent child with a little data; idempotent."""

from __future__ import annotations

import random
from io import StringIO

import pytest
from django.core.management import call_command

from accounts import access
from accounts.models import FamilyMembership, User
from goals import demo
from goals.care_programs.models import CareProgram, ProgramAdherence
from goals.models import HealthGoal
from metrics import demo as metrics_demo
from metrics.models import HealthMetric
from nutrition import demo as nutrition_demo
from nutrition.models import NutritionLog
from tests.accounts.factories import UserFactory
from tests.goals.factories import days_ago, today

pytestmark = pytest.mark.django_db


def seed_all(users, days):
    metrics_demo.seed(users=users, days=days, rng=random.Random(1))
    nutrition_demo.seed(users=users, days=days, rng=random.Random(1))
    demo.seed(users=users, days=days, rng=random.Random(1))


def test_demo_program_is_set_by_the_clinician_with_adherence_for_the_demo_days():
    patient, clinician = UserFactory(), UserFactory(role=User.Role.CLINICIAN)
    users = {"patient": patient, "clinician": clinician}
    seed_all(users, 10)
    program = CareProgram.objects.get(user=patient)
    assert program.created_by == clinician and program.status == "active"
    assert program.start_date == days_ago(10)
    assert (program.end_date - program.start_date).days + 1 == 90
    days = set(ProgramAdherence.objects.filter(program=program).values_list("day", flat=True))
    assert days and min(days) >= days_ago(10) and max(days) <= today()
    assert len(days) >= 10  # every demo day has steps and sleep


def test_demo_child_is_a_dependent_of_the_patient_with_a_little_data():
    patient = UserFactory()
    seed_all({"patient": patient}, 3)
    link = FamilyMembership.objects.get(manager=patient)
    child = link.member
    assert child.is_dependent and child.first_name == "Milo"
    assert link.role == "manager" and link.relation == "child"
    assert access.can_write(patient, child.pk)
    assert HealthMetric.objects.filter(user=child, metric_type="steps").count() == 7
    assert NutritionLog.objects.filter(user=child).count() == 2
    assert HealthGoal.objects.filter(user=child).count() == 1


def test_demo_program_and_child_are_seeded_once():
    patient = UserFactory()
    users = {"patient": patient}
    seed_all(users, 3)
    demo.seed(users=users, days=3, rng=random.Random(2))
    assert CareProgram.objects.count() == 1
    assert FamilyMembership.objects.filter(manager=patient).count() == 1
    assert User.objects.filter(is_dependent=True).count() == 1


def test_seed_demo_command_gives_the_demo_patient_a_program_and_a_child():
    call_command("seed_demo", days=3, stdout=StringIO())
    patient = User.objects.get(username="demo")
    program = CareProgram.objects.get(user=patient)
    assert program.created_by.username == "drsmith"
    assert ProgramAdherence.objects.filter(program=program).exists()
    assert FamilyMembership.objects.get(manager=patient).member.first_name == "Milo"
