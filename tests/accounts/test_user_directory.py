"""The staff user directory: `GET /api/v1/users/` and `/api/v1/users/username/{username}`."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command

from accounts.models import AccessLog
from tests.accounts.factories import ClinicianFactory, UserFactory, client_for

pytestmark = pytest.mark.django_db

LIST = "/api/v1/users/"
ENCRYPTED = {"date_of_birth", "medical_history"}


@pytest.fixture
def staff():
    return UserFactory(is_staff=True)


def test_staff_list_every_account_paginated_without_encrypted_fields(staff, user, other_user):
    user.medical_history = "asthma"
    user.save()
    response = client_for(staff).get(LIST, {"page_size": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [row["id"] for row in body["results"]] == sorted([staff.pk, user.pk, other_user.pk])[:2]
    assert body["next"] is not None
    for row in body["results"]:
        assert not ENCRYPTED & set(row)
    assert "asthma" not in response.content.decode()
    page_2 = client_for(staff).get(body["next"]).json()
    assert [row["id"] for row in page_2["results"]] == [max(staff.pk, user.pk, other_user.pk)]


def test_soft_deleted_accounts_are_not_listed(staff, user):
    from django.utils import timezone

    user.deleted_at = timezone.now()
    user.save()
    ids = [row["id"] for row in client_for(staff).get(LIST).json()["results"]]
    assert user.pk not in ids


def test_superuser_may_list_and_look_up(user):
    su = UserFactory(is_staff=True, is_superuser=True)
    assert client_for(su).get(LIST).status_code == 200
    response = client_for(su).get(f"/api/v1/users/username/{user.username}")
    assert response.status_code == 200
    assert response.json()["username"] == user.username
    assert not ENCRYPTED & set(response.json())


def test_lookup_by_unknown_username_is_404(staff):
    assert client_for(staff).get("/api/v1/users/username/nobody-here").status_code == 404


@pytest.mark.parametrize("who", ["patient", "clinician", "care_clinician"])
def test_everyone_else_gets_404(who, user, care_team, clinician):
    viewer = {
        "patient": UserFactory(),
        "clinician": ClinicianFactory(),
        "care_clinician": clinician,  # in `user`'s care team: still not the directory
    }[who]
    assert client_for(viewer).get(LIST).status_code == 404
    assert client_for(viewer).get(f"/api/v1/users/username/{user.username}").status_code == 404
    assert client_for(viewer).get(f"/api/v1/users/username/{viewer.username}").status_code == 404


def test_anonymous_is_401(api_client, user):
    assert api_client.get(LIST).status_code == 401


def test_every_account_shown_is_in_the_access_log(staff, user, other_user):
    client_for(staff).get(LIST)
    rows = AccessLog.objects.filter(actor=staff)
    assert sorted(rows.values_list("owner_id", flat=True)) == sorted([user.pk, other_user.pk])
    assert {r.via for r in rows} == {AccessLog.Via.ADMIN}
    client_for(staff).get(f"/api/v1/users/username/{user.username}")
    latest = AccessLog.objects.filter(actor=staff).order_by("-pk").first()
    assert (latest.owner_id, latest.endpoint) == (
        user.pk,
        f"GET /api/v1/users/username/{user.username}",
    )


def test_list_query_count_does_not_grow_with_the_page(staff, django_assert_max_num_queries):
    for _ in range(20):
        UserFactory()
    with django_assert_max_num_queries(8):
        assert client_for(staff).get(LIST).status_code == 200


def test_openapi_schema_describes_the_directory(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    paths = yaml.safe_load(out.read_text())["paths"]
    listing = paths["/api/v1/users/"]["get"]
    assert "200" in listing["responses"]
    properties = yaml.safe_dump(listing["responses"]["200"])
    assert "date_of_birth" not in properties and "medical_history" not in properties
    assert "get" in paths["/api/v1/users/username/{username}"]
