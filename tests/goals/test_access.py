"""Own goals only; care-team clinicians read their patients' goals, never write; anyone else
gets 404 on every endpoint."""

from __future__ import annotations

import pytest

from accounts.models import AccessLog
from goals.models import HealthGoal
from tests.goals.factories import HealthGoalFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/health-goals"
BODY = {"goal_type": "steps", "target_value": 1000}


@pytest.fixture
def theirs(other_user):
    return HealthGoalFactory(user=other_user, title="Their goal", description="private note")


def test_cannot_read_another_persons_goal(auth_client, theirs):
    response = auth_client.get(f"{URL}/{theirs.pk}")
    assert response.status_code == 404
    assert "private note" not in response.content.decode()


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_cannot_change_another_persons_goal(auth_client, theirs, method):
    response = getattr(auth_client, method)(f"{URL}/{theirs.pk}", BODY, format="json")
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert (theirs.target_value, theirs.title) == (8000.0, "Their goal")


def test_cannot_list_another_persons_goals(auth_client, theirs, other_user):
    assert auth_client.get(f"{URL}/user/{other_user.pk}").status_code == 404


def test_unknown_user_is_404_too(auth_client):
    assert auth_client.get(f"{URL}/user/999999").status_code == 404


def test_own_list_leaves_others_out(auth_client, theirs):
    assert auth_client.get(URL).json()["results"] == []


def test_creating_always_creates_for_yourself(auth_client, user, other_user):
    # Naming another user is an unknown field: refused, nothing written.
    response = auth_client.post(URL, {**BODY, "user": other_user.pk}, format="json")
    assert response.status_code == 400 and "'user'" in response.json()["unknown_field"][0]
    assert not HealthGoal.objects.exists()
    assert auth_client.post(URL, BODY, format="json").status_code == 201
    assert HealthGoal.objects.get().user == user


# --- clinicians -----------------------------------------------------------------------------


def test_care_team_clinician_reads_patient_goals_and_the_read_is_logged(
    clinician_client, clinician, user, care_team
):
    goal = HealthGoalFactory(user=user)
    listing = clinician_client.get(f"{URL}/user/{user.pk}", {"status_filter": "active"})
    assert listing.status_code == 200
    assert [g["id"] for g in listing.json()["results"]] == [goal.pk]
    assert clinician_client.get(f"{URL}/{goal.pk}").status_code == 200
    logs = AccessLog.objects.filter(actor=clinician, owner=user)
    assert logs.count() == 2
    assert {log.via for log in logs} == {"care_team"}


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_care_team_clinician_cannot_change_patient_goals(clinician_client, user, care_team, method):
    goal = HealthGoalFactory(user=user)
    response = getattr(clinician_client, method)(f"{URL}/{goal.pk}", BODY, format="json")
    assert response.status_code == 404
    goal.refresh_from_db()
    assert goal.target_value == 8000.0


def test_clinician_post_creates_their_own_goal_not_the_patients(
    clinician_client, clinician, user, care_team
):
    response = clinician_client.post(URL, {**BODY, "user": user.pk}, format="json")
    assert response.status_code == 400 and "'user'" in response.json()["unknown_field"][0]
    assert not HealthGoal.objects.exists()
    assert clinician_client.post(URL, BODY, format="json").status_code == 201
    assert HealthGoal.objects.get().user == clinician


def test_clinician_outside_the_care_team_gets_404(clinician_client, user):
    goal = HealthGoalFactory(user=user)
    assert clinician_client.get(f"{URL}/{goal.pk}").status_code == 404
    assert clinician_client.get(f"{URL}/user/{user.pk}").status_code == 404


def test_ended_care_team_ends_the_access(clinician_client, user, care_team):
    from accounts.care import care_team_end

    goal = HealthGoalFactory(user=user)
    care_team_end(membership=care_team, ended_by=user)
    assert clinician_client.get(f"{URL}/{goal.pk}").status_code == 404


def test_patient_own_reads_are_not_logged(auth_client, user):
    goal = HealthGoalFactory(user=user)
    auth_client.get(f"{URL}/{goal.pk}")
    auth_client.get(URL)
    assert not AccessLog.objects.exists()
