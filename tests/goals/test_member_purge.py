"""Deleting a family member deletes their data, programs and adherence included, after the
same grace period as account deletion (the purge job), and not before."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings

from accounts import family
from accounts.models import FamilyMembership, User
from goals.care_programs import programs
from goals.care_programs.models import CareProgram, ProgramAdherence
from goals.models import HealthGoal
from healthtrack.portability.services import deleted_accounts_purge
from metrics.models import HealthMetric
from nutrition import services as nutrition_services
from nutrition.models import NutritionLog
from tests.accounts.family_factories import make_dependent
from tests.goals.factories import HealthGoalFactory, at, days_ago, measure

pytestmark = pytest.mark.django_db


def test_a_removed_members_data_is_purged_after_the_grace_period_only(user):
    child = make_dependent(user, first_name="Ada")
    measure(child, "steps", 9000, days_ago(1), hour=0)
    nutrition_services.nutrition_log_create(
        user=child, meal_type="lunch", logged_at=at(days_ago(1), 0), calories=500
    )
    HealthGoalFactory(user=child)
    program = programs.program_create(
        user=child,
        created_by=user,
        title="Walk",
        config={"activity": {"steps": {"min": 8000}}},
        start_date=days_ago(3),
    )
    assert ProgramAdherence.objects.filter(program=program).exists()
    family.family_member_remove(manager=user, member=child)
    deleted_at = User.objects.get(pk=child.pk).deleted_at
    grace = timedelta(days=settings.ACCOUNT_PURGE_AFTER_DAYS)

    assert deleted_accounts_purge(now=deleted_at + grace - timedelta(hours=1)) == 0
    assert HealthMetric.objects.filter(user_id=child.pk).exists()  # kept in the grace period

    assert deleted_accounts_purge(now=deleted_at + grace + timedelta(hours=1)) == 1
    for model in (HealthMetric, NutritionLog, HealthGoal, CareProgram):
        assert not model.objects.filter(user_id=child.pk).exists(), model
    assert not ProgramAdherence.objects.exists()
    assert not FamilyMembership.objects.filter(member_id=child.pk).exists()
    assert not User.objects.filter(pk=child.pk).exists()
    assert User.objects.filter(pk=user.pk, deleted_at__isnull=True).exists()
