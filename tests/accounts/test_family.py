from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from accounts import access, family
from accounts.models import AccessLog, FamilyMembership, User
from goals.models import HealthGoal
from metrics.models import HealthMetric
from nutrition.models import NutritionLog
from tests.accounts.factories import PASSWORD, UserFactory, client_for
from tests.accounts.family_factories import make_dependent

pytestmark = pytest.mark.django_db


def readable_ids(viewer) -> set[int]:
    """The people whose whole data `viewer` may read."""
    return set(
        access.readable(User.objects.all(), viewer, owner_field=None).values_list("pk", flat=True)
    )


def writable_ids(viewer) -> set[int]:
    """The people whose data `viewer` may write."""
    return set(
        access.writable(User.objects.all(), viewer, owner_field=None).values_list("pk", flat=True)
    )


MEMBERS = "/api/v1/family/members"
METRICS = "/api/v1/health-metrics"
READING = {"metric_type": "heart_rate", "value": 92, "recorded_at": "2026-03-02T10:00:00Z"}


@pytest.fixture
def child(user):
    return make_dependent(user, first_name="Ada", date_of_birth=date(2018, 5, 1))


# --- dependents ------------------------------------------------------------------------------


def test_manager_adds_a_dependent_through_the_api(auth_client, user):
    body = {"first_name": "Ada", "relation": "child", "date_of_birth": "2018-05-01"}
    response = auth_client.post(MEMBERS, body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["first_name"] == "Ada" and data["relation"] == "child"
    assert data["role"] == "manager" and data["is_dependent"] is True
    assert data["date_of_birth"] == "2018-05-01"
    member = User.objects.get(pk=data["id"])
    assert member.is_dependent and not member.has_usable_password()
    assert member.date_of_birth == date(2018, 5, 1)
    listed = auth_client.get(MEMBERS).json()
    assert [m["id"] for m in listed] == [member.pk]


def test_dependent_validation_errors_are_400(auth_client):
    response = auth_client.post(
        MEMBERS,
        {"first_name": "", "relation": "doctor", "date_of_birth": "2999-01-01"},
        format="json",
    )
    assert response.status_code == 400
    assert {"first_name", "relation", "date_of_birth"} <= set(response.json())


def test_dependents_cannot_log_in(child, client):
    # Even with a password set by mistake, the login backend refuses a dependent.
    child.set_password(PASSWORD)
    child.save(update_fields=["password"])
    assert not client.login(username=child.username, password=PASSWORD)
    assert not client.login(username=child.email, password=PASSWORD)
    token = APIClient().post(
        "/api/v1/auth/token/", {"username": child.email, "password": PASSWORD}, format="json"
    )
    assert token.status_code == 401


def test_new_dependent_has_an_unusable_password(child):
    assert not child.has_usable_password()
    assert not child.check_password("")


def test_manager_logs_a_measurement_for_a_dependent_and_lists_it(auth_client, user, child):
    response = auth_client.post(f"{METRICS}?member={child.pk}", READING, format="json")
    assert response.status_code == 201, response.json()
    metric = HealthMetric.objects.get(pk=response.json()["id"])
    assert metric.user_id == child.pk
    assert not HealthMetric.objects.filter(user=user).exists()

    listed = auth_client.get(f"{METRICS}?member={child.pk}").json()["results"]
    assert [m["id"] for m in listed] == [metric.pk]
    assert auth_client.get(METRICS).json()["results"] == []  # own list stays own
    # The detail route needs no parameter: access decides.
    assert auth_client.get(f"{METRICS}/{metric.pk}").status_code == 200
    assert auth_client.delete(f"{METRICS}/{metric.pk}").status_code == 204


def test_manager_logs_food_and_goals_for_a_dependent(auth_client, child):
    meal = {"meal_type": "lunch", "calories": 400, "logged_at": "2026-03-10T12:00:00Z"}
    response = auth_client.post(f"/api/v1/nutrition-logs?member={child.pk}", meal, format="json")
    assert response.status_code == 201, response.json()
    assert NutritionLog.objects.get(pk=response.json()["id"]).user_id == child.pk
    logs = auth_client.get(f"/api/v1/nutrition-logs?member={child.pk}").json()["results"]
    assert len(logs) == 1

    goal = {"goal_type": "steps", "target_value": 6000}
    response = auth_client.post(f"/api/v1/health-goals?member={child.pk}", goal, format="json")
    assert response.status_code == 201, response.json()
    assert HealthGoal.objects.get(pk=response.json()["id"]).user_id == child.pk
    goals = auth_client.get(f"/api/v1/health-goals?member={child.pk}").json()["results"]
    assert len(goals) == 1


def test_stranger_gets_404_for_someone_elses_dependent(other_client, child):
    assert (
        other_client.post(f"{METRICS}?member={child.pk}", READING, format="json").status_code == 404
    )
    assert other_client.get(f"{METRICS}?member={child.pk}").status_code == 404
    assert other_client.get(f"{MEMBERS}/{child.pk}").status_code == 404
    assert other_client.delete(f"{MEMBERS}/{child.pk}").status_code == 404
    assert other_client.get(f"/api/v1/nutrition-logs?member={child.pk}").status_code == 404
    assert (
        other_client.post(f"/api/v1/health-goals?member={child.pk}", {}, format="json").status_code
        == 404
    )


def test_bad_member_parameter_is_404(auth_client):
    assert auth_client.get(f"{METRICS}?member=abc").status_code == 404
    assert auth_client.get(f"{METRICS}?member=999999").status_code == 404


def test_member_parameter_naming_yourself_is_yourself(auth_client, user):
    response = auth_client.post(f"{METRICS}?member={user.pk}", READING, format="json")
    assert response.status_code == 201
    assert HealthMetric.objects.get(pk=response.json()["id"]).user_id == user.pk


def test_read_only_family_role_reads_but_cannot_write(auth_client, user, child, other_user):
    family.family_access_grant(
        granted_by=user, member=child, email=other_user.email.upper(), role="read_only"
    )
    auth_client.post(f"{METRICS}?member={child.pk}", READING, format="json")
    metric = HealthMetric.objects.get(user=child)
    doctor = client_for(other_user)

    listed = doctor.get(f"{METRICS}?member={child.pk}")
    assert listed.status_code == 200
    assert [m["id"] for m in listed.json()["results"]] == [metric.pk]
    assert doctor.get(f"{METRICS}/{metric.pk}").status_code == 200
    # Writes: 404, as for anything one may not change.
    assert doctor.post(f"{METRICS}?member={child.pk}", READING, format="json").status_code == 404
    assert doctor.delete(f"{METRICS}/{metric.pk}").status_code == 404
    assert doctor.delete(f"{MEMBERS}/{child.pk}").status_code == 404
    assert HealthMetric.objects.filter(pk=metric.pk).exists()
    # The reads are in the child's access log, as family reads (one per request).
    reads = AccessLog.objects.filter(owner=child, actor=other_user)
    assert reads.count() == 2 and set(reads.values_list("via", flat=True)) == {"family"}
    doctor.get(f"/api/v1/health-goals?member={child.pk}")
    assert reads.count() == 3


def test_adult_grants_manager_access_by_email(user, other_user):
    response = client_for(other_user).post(
        "/api/v1/family/access",
        {"email": user.email, "role": "manager", "relation": "child"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert access.can_write(user, other_user.pk)
    # The manager sees them among their members and acts for them.
    members = client_for(user).get(MEMBERS).json()
    assert [(m["id"], m["is_dependent"]) for m in members] == [(other_user.pk, False)]
    assert (
        client_for(user).post(f"{METRICS}?member={other_user.pk}", READING, format="json")
    ).status_code == 201
    # The member withdraws it.
    link = FamilyMembership.objects.get(manager=user, member=other_user)
    assert client_for(user).delete(f"/api/v1/family/access/{link.pk}").status_code == 204
    assert not access.can_read(user, other_user.pk)


def test_grant_to_an_unknown_email_is_400(auth_client):
    response = auth_client.post(
        "/api/v1/family/access",
        {"email": "nobody@example.org", "role": "manager"},
        format="json",
    )
    assert response.status_code == 400
    assert "email" in response.json()


def test_granting_again_changes_the_role(user, other_user, child):
    family.family_access_grant(
        granted_by=user, member=child, email=other_user.email, role="manager"
    )
    family.family_access_grant(
        granted_by=user, member=child, email=other_user.email, role="read_only"
    )
    assert FamilyMembership.objects.get(manager=other_user, member=child).role == "read_only"
    assert access.can_read(other_user, child.pk) and not access.can_write(other_user, child.pk)


def test_read_only_member_cannot_grant_further(user, other_user, child):
    family.family_access_grant(
        granted_by=user, member=child, email=other_user.email, role="read_only"
    )
    third = UserFactory()
    with pytest.raises(ValidationError):
        family.family_access_grant(
            granted_by=other_user, member=child, email=third.email, role="manager"
        )


def test_clinician_rules_are_unchanged_by_families(clinician, care_team, user, child):
    # A care-team clinician of the manager does not see the manager's dependent.
    assert access.can_read(clinician, user.pk)
    assert not access.can_read(clinician, child.pk)
    assert child.pk not in readable_ids(clinician)


def test_removing_a_dependent_soft_deletes_them_and_stops_access(auth_client, user, child):
    auth_client.post(f"{METRICS}?member={child.pk}", READING, format="json")
    assert auth_client.delete(f"{MEMBERS}/{child.pk}").status_code == 204
    child.refresh_from_db()
    assert child.deleted_at is not None and not child.is_active
    # The data stays for the grace period, but nobody acts for a deleted member.
    assert HealthMetric.objects.filter(user=child).exists()
    assert auth_client.get(f"{METRICS}?member={child.pk}").status_code == 404
    assert auth_client.get(MEMBERS).json() == []
    assert not access.can_read(user, child.pk)


def test_purging_a_removed_dependent_cascades_to_their_data(auth_client, user, child):
    auth_client.post(f"{METRICS}?member={child.pk}", READING, format="json")
    meal = {"meal_type": "lunch", "calories": 400, "logged_at": "2026-03-10T12:00:00Z"}
    auth_client.post(f"/api/v1/nutrition-logs?member={child.pk}", meal, format="json")
    auth_client.delete(f"{MEMBERS}/{child.pk}")
    # What the purge job does after the grace period: hard-delete the soft-deleted account.
    User.objects.get(pk=child.pk, deleted_at__isnull=False).delete()
    assert not HealthMetric.objects.filter(user_id=child.pk).exists()
    assert not NutritionLog.objects.filter(user_id=child.pk).exists()
    assert not FamilyMembership.objects.filter(member_id=child.pk).exists()
    assert User.objects.filter(pk=user.pk).exists()


def test_removing_an_adult_member_only_ends_the_link(user, other_user):
    family.family_access_grant(granted_by=other_user, email=user.email, role="manager")
    assert client_for(user).delete(f"{MEMBERS}/{other_user.pk}").status_code == 204
    other_user.refresh_from_db()
    assert other_user.deleted_at is None and other_user.is_active
    assert not access.can_read(user, other_user.pk)


def test_family_links_are_audited(user, child):
    from auditlog.models import LogEntry

    link = FamilyMembership.objects.get(member=child)
    assert LogEntry.objects.get_for_object(link).exists()
    user_entries = LogEntry.objects.get_for_object(child)
    assert all("date_of_birth" not in (e.changes or "") for e in user_entries)


def test_family_list_query_count_is_constant(auth_client, user, django_assert_max_num_queries):
    for name in ("A", "B", "C"):
        make_dependent(user, first_name=name)
    with django_assert_max_num_queries(4):
        assert len(auth_client.get(MEMBERS).json()) == 3


# Who may do what to a dependent's data: (read, write, set care plans).
MATRIX = {
    "manager": (True, True, True),
    "read_only": (True, False, False),
    "care_team_clinician_of_manager": (False, False, False),
    "stranger": (False, False, False),
    "removed_manager_after_soft_delete": (False, False, False),
}


@pytest.mark.parametrize("who", MATRIX)
def test_family_authorisation_matrix(who, user, other_user, clinician, care_team):
    child = make_dependent(user)
    viewer = {
        "manager": user,
        "read_only": other_user,
        "care_team_clinician_of_manager": clinician,
        "stranger": UserFactory(),
        "removed_manager_after_soft_delete": user,
    }[who]
    if who == "read_only":
        family.family_access_grant(
            granted_by=user, member=child, email=other_user.email, role="read_only"
        )
    if who == "removed_manager_after_soft_delete":
        family.family_member_remove(manager=user, member=child)
    got = (
        access.can_read(viewer, child.pk),
        access.can_write(viewer, child.pk),
        access.can_write_care_plan(viewer, child.pk),
    )
    assert got == MATRIX[who]
    assert (child.pk in readable_ids(viewer)) == MATRIX[who][0]
    assert (child.pk in writable_ids(viewer)) == MATRIX[who][1]
