from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError

from accounts import care
from accounts.models import CareTeam, User
from tests.accounts.care_factories import CareTeamFactory
from tests.accounts.factories import ClinicianFactory, UserFactory

pytestmark = pytest.mark.django_db


# --- Services ---------------------------------------------------------------------------------


def test_care_team_add_is_idempotent_while_active(clinician, user):
    first = care.care_team_add(clinician=clinician, patient=user)
    again = care.care_team_add(clinician=clinician, patient=user)
    assert first.pk == again.pk
    assert CareTeam.objects.count() == 1


def test_care_team_add_refuses_a_non_clinician_and_self(clinician, user, other_user):
    with pytest.raises(ValidationError):
        care.care_team_add(clinician=other_user, patient=user)
    with pytest.raises(ValidationError):
        care.care_team_add(clinician=clinician, patient=clinician)
    assert not CareTeam.objects.exists()


def test_after_ending_a_new_membership_can_start_and_history_stays(clinician, user, care_team):
    care.care_team_end(membership=care_team, ended_by=clinician)
    again = care.care_team_add(clinician=clinician, patient=user)
    assert again.pk != care_team.pk
    assert CareTeam.objects.filter(clinician=clinician, patient=user).count() == 2
    assert CareTeam.objects.active().get() == again


def test_ending_twice_keeps_the_first_end(clinician, user, care_team):
    ended = care.care_team_end(membership=care_team, ended_by=user)
    again = care.care_team_end(membership=care_team, ended_by=clinician)
    assert again.ended_at == ended.ended_at and again.ended_by == user


def test_care_team_changes_are_in_the_audit_log(clinician, user):
    membership = care.care_team_add(clinician=clinician, patient=user)
    care.care_team_end(membership=membership, ended_by=user)
    actions = list(
        LogEntry.objects.get_for_object(membership)
        .order_by("timestamp")
        .values_list("action", flat=True)
    )
    assert actions == [LogEntry.Action.CREATE, LogEntry.Action.UPDATE]


def test_clinician_enable_admin_puts_them_in_the_clinicians_group(user):
    care.clinician_enable_admin(user=user)
    user.refresh_from_db()
    assert user.role == User.Role.CLINICIAN and user.is_staff
    assert user.groups.filter(name="Clinicians").exists()


# --- API: patient side -----------------------------------------------------------------------


def test_patient_accepts_a_clinician_by_email(auth_client, user):
    doctor = ClinicianFactory(email="dr.who@example.org")
    response = auth_client.post(
        "/api/v1/care-team/clinicians", {"email": "Dr.Who@Example.org"}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["clinician"]["id"] == doctor.pk and body["active"] is True
    membership = CareTeam.objects.get()
    assert membership.patient == user and membership.source == CareTeam.Source.PATIENT
    assert membership.created_by == user
    # Accepting again returns the same membership.
    again = auth_client.post(
        "/api/v1/care-team/clinicians", {"email": "dr.who@example.org"}, format="json"
    )
    assert again.status_code == 200 and again.json()["id"] == membership.pk


def test_accepting_someone_who_is_not_a_clinician_is_400(auth_client, other_user):
    response = auth_client.post(
        "/api/v1/care-team/clinicians", {"email": other_user.email}, format="json"
    )
    assert response.status_code == 400
    assert "email" in response.json()
    assert not CareTeam.objects.exists()


def test_patient_lists_their_clinicians_active_by_default(auth_client, user, care_team):
    ended = CareTeamFactory(patient=user)
    care.care_team_end(membership=ended)
    CareTeamFactory()  # someone else's
    active = auth_client.get("/api/v1/care-team/clinicians").json()
    assert [row["id"] for row in active] == [care_team.pk]
    everything = auth_client.get("/api/v1/care-team/clinicians?status=all").json()
    assert {row["id"] for row in everything} == {care_team.pk, ended.pk}
    past = auth_client.get("/api/v1/care-team/clinicians?status=ended").json()
    assert [row["id"] for row in past] == [ended.pk]


def test_patient_ends_a_membership(auth_client, user, care_team):
    response = auth_client.post(f"/api/v1/care-team/{care_team.pk}/end")
    assert response.status_code == 200
    assert response.json()["active"] is False
    care_team.refresh_from_db()
    assert care_team.ended_at is not None and care_team.ended_by == user


# --- API: clinician side ---------------------------------------------------------------------


def test_clinician_lists_their_patients(clinician_client, user, care_team):
    CareTeamFactory()  # another clinician's patient
    rows = clinician_client.get("/api/v1/care-team/patients").json()
    assert [row["patient"]["id"] for row in rows] == [user.pk]


def test_clinician_ends_a_membership(clinician_client, clinician, care_team):
    assert clinician_client.post(f"/api/v1/care-team/{care_team.pk}/end").status_code == 200
    care_team.refresh_from_db()
    assert care_team.ended_by == clinician


def test_patients_list_is_empty_for_a_patient(auth_client, user):
    CareTeamFactory(clinician=ClinicianFactory())
    assert auth_client.get("/api/v1/care-team/patients").json() == []


def test_nobody_else_can_end_a_membership(other_client, care_team):
    assert other_client.post(f"/api/v1/care-team/{care_team.pk}/end").status_code == 404
    care_team.refresh_from_db()
    assert care_team.ended_at is None


def test_care_team_endpoints_need_authentication(api_client, care_team):
    assert api_client.get("/api/v1/care-team/clinicians").status_code == 401
    assert api_client.get("/api/v1/care-team/patients").status_code == 401
    assert api_client.post(f"/api/v1/care-team/{care_team.pk}/end").status_code == 401


def test_patients_list_has_a_fixed_query_count(
    clinician_client, clinician, django_assert_max_num_queries
):
    for _ in range(5):
        CareTeamFactory(clinician=clinician, patient=UserFactory())
    with django_assert_max_num_queries(3):
        rows = clinician_client.get("/api/v1/care-team/patients").json()
    assert len(rows) == 5


def test_deleting_a_care_team_is_in_the_audit_log(care_team):
    pk = care_team.pk
    care_team.delete()
    deleted = LogEntry.objects.filter(
        content_type__model="careteam", object_pk=str(pk), action=LogEntry.Action.DELETE
    )
    assert deleted.count() == 1
