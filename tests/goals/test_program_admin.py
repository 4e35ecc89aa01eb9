"""The admin's care programs and adherence: superusers see all; an admin clinician sees their
care-team patients' programs and scores only (read-only, the read logged); other staff none."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts import care
from accounts.models import AccessLog
from goals.care_programs import programs
from goals.care_programs.models import ProgramAdherence
from tests.accounts.factories import ClinicianFactory, UserFactory
from tests.goals.factories import days_ago, measure

pytestmark = pytest.mark.django_db

CONFIG = {"activity": {"steps": {"min": 8000}}}
PROGRAMS = reverse("admin:goals_careprogram_changelist")
ADHERENCE = reverse("admin:goals_programadherence_changelist")


def program_with_a_score(user, created_by):
    measure(user, "steps", 6000, days_ago(1), hour=0)
    return programs.program_create(
        user=user, created_by=created_by, title="Walk", config=CONFIG, start_date=days_ago(5)
    )


@pytest.fixture
def doctor(user):
    doctor = care.clinician_enable_admin(user=ClinicianFactory())
    care.care_team_add(clinician=doctor, patient=user)
    return doctor


def test_admin_clinician_sees_only_their_patients_programs_and_adherence(
    client, user, other_user, doctor
):
    mine = program_with_a_score(user, doctor)
    theirs = program_with_a_score(other_user, other_user)
    client.force_login(doctor)
    response = client.get(PROGRAMS)
    assert list(response.context["cl"].result_list) == [mine]
    scores = client.get(ADHERENCE).context["cl"].result_list
    assert [(row.program_id, row.score) for row in scores] == [(mine.pk, 75)]
    page = client.get(reverse("admin:goals_careprogram_change", args=[mine.pk]))
    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    assert not page.context["has_delete_permission"]
    assert "75" in page.content.decode()  # the adherence inline
    assert AccessLog.objects.filter(actor=doctor, owner=user, via="admin").exists()
    other = client.get(reverse("admin:goals_careprogram_change", args=[theirs.pk]))
    assert other.status_code == 302  # the admin's "does not exist" redirect
    row = ProgramAdherence.objects.get(program=theirs)
    assert (
        client.get(reverse("admin:goals_programadherence_change", args=[row.pk])).status_code == 302
    )


def test_superuser_sees_every_program(client, user, other_user):
    program_with_a_score(user, user)
    program_with_a_score(other_user, other_user)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert len(client.get(PROGRAMS).context["cl"].result_list) == 2
    assert len(client.get(ADHERENCE).context["cl"].result_list) == 2


def test_other_staff_see_no_programs(client, user):
    program_with_a_score(user, user)
    client.force_login(UserFactory(is_staff=True))
    assert client.get(PROGRAMS).status_code == 403
    assert client.get(ADHERENCE).status_code == 403
