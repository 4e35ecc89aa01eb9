"""The goals list answered from its rendered bytes per viewer, owner, URL and the version of
the owner's goals: the same bytes, fresh after every goal write and progress change, access
checked and others' reads audited on every request, hit or miss."""

from __future__ import annotations

import pytest

from accounts.models import AccessLog
from goals import services
from tests.goals.factories import days_ago, measure
from tests.healthtrack.test_readcache import backend, bearer  # noqa: F401

pytestmark = pytest.mark.django_db

URL = "/api/v1/health-goals"


@pytest.fixture
def goal(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return services.goal_create(
            user=user, goal_type="steps", target_value=8000, description="my own words"
        )


def test_a_second_read_is_the_same_bytes_without_a_query(
    auth_client, goal, django_assert_num_queries
):
    first = auth_client.get(URL)
    with django_assert_num_queries(0):
        second = auth_client.get(URL)
    assert second.status_code == first.status_code == 200
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"]
    assert [g["id"] for g in second.json()["results"]] == [goal.pk]


def test_each_goal_write_shows_at_once(auth_client, user, goal, django_capture_on_commit_callbacks):
    auth_client.get(URL)
    with django_capture_on_commit_callbacks(execute=True):
        services.goal_update(goal=goal, title="Walk more")
    assert auth_client.get(URL).json()["results"][0]["title"] == "Walk more"
    with django_capture_on_commit_callbacks(execute=True):
        other = services.goal_create(user=user, goal_type="sleep", target_value=420)
    assert [g["id"] for g in auth_client.get(URL).json()["results"]] == [other.pk, goal.pk]
    with django_capture_on_commit_callbacks(execute=True):
        services.goal_delete(goal=other)
    assert [g["id"] for g in auth_client.get(URL).json()["results"]] == [goal.pk]


def test_a_progress_change_shows_at_once(
    auth_client, user, goal, django_capture_on_commit_callbacks
):
    assert auth_client.get(URL).json()["results"][0]["current_value"] is None
    measure(user, "steps", 6000, days_ago(1))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.goal_progress_recompute(user_id=user.pk) == [goal.pk]
    assert auth_client.get(URL).json()["results"][0]["current_value"] == 6000


def test_each_query_is_its_own_page(auth_client, goal):
    auth_client.get(URL)
    assert auth_client.get(URL, {"status_filter": "completed"}).json()["results"] == []
    assert len(auth_client.get(URL, {"status_filter": "active"}).json()["results"]) == 1
    assert auth_client.get(URL, {"status_filter": "nonsense"}).status_code == 400


def test_a_clinicians_reads_are_audited_on_hits_too_and_never_get_the_owners_bytes(
    auth_client, clinician_client, clinician, user, goal, care_team
):
    own = auth_client.get(f"{URL}/user/{user.pk}")
    theirs = [clinician_client.get(f"{URL}/user/{user.pk}") for _ in range(2)]
    assert theirs[0].content == theirs[1].content
    assert theirs[0].json()["results"] == own.json()["results"]
    assert AccessLog.objects.filter(actor=clinician, owner=user).count() == 2
    assert not AccessLog.objects.filter(actor=user).exists()  # own reads are not logged


def test_an_outsider_gets_404_while_the_owners_page_is_cached(
    auth_client, clinician_client, user, goal
):
    assert auth_client.get(f"{URL}/user/{user.pk}").status_code == 200
    assert auth_client.get(f"{URL}/user/{user.pk}").status_code == 200
    response = clinician_client.get(f"{URL}/user/{user.pk}")
    assert response.status_code == 404
    assert "my own words" not in response.content.decode()


def test_an_ended_care_team_ends_the_cached_access(
    clinician_client, user, goal, care_team, django_capture_on_commit_callbacks
):
    from accounts.care import care_team_end

    assert clinician_client.get(f"{URL}/user/{user.pk}").status_code == 200
    assert clinician_client.get(f"{URL}/user/{user.pk}").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        care_team_end(membership=care_team, ended_by=user)
    assert clinician_client.get(f"{URL}/user/{user.pk}").status_code == 404


def test_on_redis_and_local_memory_a_hit_is_the_same_and_a_write_shows_at_once(
    backend,  # noqa: F811
    user,
    clinician,
    care_team,
    django_capture_on_commit_callbacks,
):
    patient, doctor = bearer(user), bearer(clinician)
    with django_capture_on_commit_callbacks(execute=True):
        goal = services.goal_create(user=user, goal_type="steps", target_value=8000)
    first, second = patient.get(URL), patient.get(URL)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    theirs = [doctor.get(f"{URL}/user/{user.pk}") for _ in range(2)]
    assert theirs[0].content == theirs[1].content
    assert AccessLog.objects.filter(actor=clinician, owner=user).count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        services.goal_update(goal=goal, title="Walk more")
    assert patient.get(URL).json()["results"][0]["title"] == "Walk more"
    assert doctor.get(f"{URL}/user/{user.pk}").json()["results"][0]["title"] == "Walk more"
