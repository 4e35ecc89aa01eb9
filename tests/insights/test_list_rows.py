"""The insights list writes each row exactly as `HealthInsightSerializer` does, loads only what
it shows, and costs one query (two when the page holds clinicians' notes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.renderers import JSONRenderer

from insights.api.serializers import HealthInsightSerializer
from insights.models import HealthInsight
from tests.accounts.factories import ClinicianFactory, client_for
from tests.insights.factories import AlertFactory, HealthInsightFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/health-insights"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _as_serialized(rows) -> list[dict]:
    return json.loads(JSONRenderer().render(HealthInsightSerializer(rows, many=True).data))


@pytest.fixture
def mixed_page(user):
    named = ClinicianFactory(first_name="Ada", last_name="Lovelace")
    unnamed = ClinicianFactory(first_name="", last_name="")
    HealthInsightFactory(user=user, created_at=T0, rank=1, score=0.75, data={"days": 7})
    HealthInsightFactory(user=user, created_at=T0, superseded_at=T0, acknowledged_at=T0)
    AlertFactory(user=user, created_at=T0 + timedelta(minutes=1), is_read=True)
    for minutes, author in ((2, named), (3, unnamed)):
        HealthInsightFactory(
            user=user,
            kind=HealthInsight.Kind.CLINICIAN_NOTE,
            insight_type="clinician_note",
            author=author,
            created_at=T0 + timedelta(minutes=minutes),
        )
    return named, unnamed


def test_list_rows_are_what_the_serializer_writes(auth_client, user, mixed_page):
    rows = HealthInsight.objects.filter(user=user).current().order_by("-created_at", "-id")
    assert auth_client.get(LIST).json()["results"] == _as_serialized(rows)


def test_notes_show_their_authors_name_or_username(auth_client, user, mixed_page):
    named, unnamed = mixed_page
    authors = {
        item["author_id"]: item["author_name"]
        for item in auth_client.get(LIST).json()["results"]
        if item["author_id"] is not None
    }
    assert authors == {named.pk: "Ada Lovelace", unnamed.pk: unnamed.username}


def test_a_clinicians_view_of_the_patient_list_is_the_same(user, mixed_page, care):
    named, _ = mixed_page
    care(named, user)
    mine = client_for(user).get(f"{LIST}/user/{user.pk}").json()
    theirs = client_for(named).get(f"{LIST}/user/{user.pk}").json()
    assert theirs == mine
    assert len(mine["results"]) == 4


def test_list_never_loads_the_authors_encrypted_fields(
    auth_client, mixed_page, django_assert_max_num_queries
):
    with django_assert_max_num_queries(2) as captured:
        assert auth_client.get(LIST).status_code == 200
    sql = " ".join(query["sql"] for query in captured.captured_queries)
    assert "first_name" in sql  # the authors were read...
    assert "medical_history" not in sql  # ...without what the list never shows
    assert "date_of_birth" not in sql


def test_a_page_without_notes_takes_one_query(auth_client, user, django_assert_num_queries):
    HealthInsightFactory(user=user)
    AlertFactory(user=user)
    with django_assert_num_queries(1):
        assert len(auth_client.get(LIST).json()["results"]) == 2


def test_no_filter_named_leaves_out_replaced_recommendations_as_the_filters_do(auth_client, user):
    live = HealthInsightFactory(user=user, created_at=T0)
    HealthInsightFactory(user=user, created_at=T0, superseded_at=T0, acknowledged_at=T0)
    alert = AlertFactory(user=user, created_at=T0 + timedelta(hours=1))
    expected = [alert.pk, live.pk]
    for params in ({}, {"limit": 10}, {"include_history": "false"}, {"kind": ""}):
        body = auth_client.get(LIST, params).json()
        assert [item["id"] for item in body["results"]] == expected, params
    assert auth_client.get(LIST, {"kind": "bogus"}).status_code == 400  # still validated


def test_a_note_read_alone_shows_its_author_without_their_encrypted_fields(
    auth_client, user, mixed_page, django_assert_max_num_queries
):
    named, _ = mixed_page
    note = HealthInsight.objects.get(user=user, author=named)
    with django_assert_max_num_queries(3) as captured:
        body = auth_client.get(f"{LIST}/{note.pk}").json()
    assert body == _as_serialized([note])[0]
    assert body["author_name"] == "Ada Lovelace"
    sql = " ".join(query["sql"] for query in captured.captured_queries)
    assert "medical_history" not in sql and "date_of_birth" not in sql
