"""Reads that name a person (`/user/<id>` routes, a `user_id` filter) go through one lookup,
`accounts.access.owner_to_read`: the named person if the viewer may read them, and a
`?member=` beside it is still checked (one the viewer may not read is 404)."""

from __future__ import annotations

import pytest

from tests.accounts.family_factories import make_dependent
from tests.goals.factories import HealthGoalFactory
from tests.nutrition.factories import NutritionLogFactory

pytestmark = pytest.mark.django_db

ROUTES = (
    "/api/v1/health-goals/user/{owner}",
    "/api/v1/nutrition-logs/user/{owner}",
    "/api/v1/nutrition-logs/daily?user_id={owner}",
)


@pytest.fixture
def child(user):
    child = make_dependent(user)
    child.goal_ids = [HealthGoalFactory(user=child).pk]
    child.log_ids = [NutritionLogFactory(user=child).pk]
    HealthGoalFactory(user=user)  # the viewer's own: never in the named person's list
    NutritionLogFactory(user=user)
    return child


@pytest.mark.parametrize("route", ROUTES)
def test_a_named_person_the_viewer_may_read_is_shown(auth_client, user, child, route):
    url = route.format(owner=child.pk)
    for member in ("", f"member={user.pk}", f"member={child.pk}"):
        joined = f"{url}{'&' if '?' in url else '?'}{member}" if member else url
        response = auth_client.get(joined)
        assert response.status_code == 200, joined
        body = response.json()
        if "goals" in url:
            assert [row["id"] for row in body["results"]] == child.goal_ids
        elif "results" in body:
            assert [row["id"] for row in body["results"]] == child.log_ids
        else:
            assert body["user_id"] == child.pk


@pytest.mark.parametrize("route", ROUTES)
def test_a_member_the_viewer_may_not_read_is_404_beside_a_named_person(
    auth_client, child, other_user, route
):
    url = route.format(owner=child.pk)
    joined = f"{url}{'&' if '?' in url else '?'}member={other_user.pk}"
    assert auth_client.get(joined).status_code == 404


@pytest.mark.parametrize("route", ROUTES)
def test_a_named_person_the_viewer_may_not_read_is_404(other_client, child, route):
    assert other_client.get(route.format(owner=child.pk)).status_code == 404
