from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from insights.models import HealthInsight
from tests.accounts.factories import ClinicianFactory, UserFactory, client_for
from tests.insights.factories import AlertFactory, HealthInsightFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/health-insights"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["results"]]


@pytest.fixture
def clinician():
    return ClinicianFactory()


# --- lists ----------------------------------------------------------------------------------


def test_list_shows_only_my_insights_newest_first(auth_client, user, other_user):
    old = HealthInsightFactory(user=user, created_at=T0)
    new = AlertFactory(user=user, created_at=T0 + timedelta(hours=1))
    HealthInsightFactory(user=other_user)
    assert ids(auth_client.get(LIST)) == [new.pk, old.pk]


def test_list_item_shape(auth_client, user):
    insight = HealthInsightFactory(user=user, rank=1, data={"average_steps": 3000})
    item = auth_client.get(LIST + "/").json()["results"][0]
    assert item == {
        "id": insight.pk,
        "user_id": user.pk,
        "kind": "recommendation",
        "type": "low_steps",
        "severity": "medium",
        "rank": 1,
        "score": None,
        "title": insight.title,
        "message": insight.message,
        "actions": ["Walk more."],
        "related_metric": "steps",
        "data": {"average_steps": 3000},
        "is_read": False,
        "acknowledged": False,
        "acknowledged_at": None,
        "reviewed_at": None,
        "reviewed_by_id": None,
        "author_id": None,
        "author_name": None,
        "superseded_at": None,
        "created_at": item["created_at"],
    }


def test_list_filters_unread_severity_and_kind(auth_client, user):
    read = HealthInsightFactory(user=user, is_read=True, severity="low")
    unread_alert = AlertFactory(user=user, severity="high")
    note = HealthInsightFactory(user=user, kind="clinician_note", severity="low")
    assert set(ids(auth_client.get(LIST, {"unread": "true"}))) == {unread_alert.pk, note.pk}
    assert ids(auth_client.get(LIST, {"unread": "false"})) == [read.pk]
    assert set(ids(auth_client.get(LIST, {"severity": "low"}))) == {read.pk, note.pk}
    assert ids(auth_client.get(LIST, {"kind": "alert"})) == [unread_alert.pk]
    assert ids(auth_client.get(LIST, {"kind": "alert", "severity": "low"})) == []


def test_list_rejects_an_unknown_filter_value(auth_client):
    response = auth_client.get(LIST, {"severity": "urgent"})
    assert response.status_code == 400
    assert "severity" in response.json()


def test_list_leaves_out_replaced_recommendations_unless_history_is_asked(auth_client, user):
    live = HealthInsightFactory(user=user)
    history = HealthInsightFactory(user=user, acknowledged_at=T0, superseded_at=T0)
    assert ids(auth_client.get(LIST)) == [live.pk]
    assert set(ids(auth_client.get(LIST, {"include_history": "true"}))) == {live.pk, history.pk}


def test_list_is_paginated_with_a_limit(auth_client, user):
    for hour in range(5):
        HealthInsightFactory(user=user, created_at=T0 + timedelta(hours=hour))
    first = auth_client.get(LIST, {"limit": 2}).json()
    assert len(first["results"]) == 2
    second = auth_client.get(first["next"]).json()
    assert len(second["results"]) == 2
    assert not {i["id"] for i in first["results"]} & {i["id"] for i in second["results"]}


def test_list_query_count_does_not_grow_with_rows(
    auth_client, user, clinician, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    for _ in range(3):
        HealthInsightFactory(user=user, kind="clinician_note", author=clinician)
    with django_assert_max_num_queries(3) as few:
        auth_client.get(LIST)
    with django_capture_on_commit_callbacks(execute=True):  # the cached page is retired
        for _ in range(20):
            HealthInsightFactory(user=user, kind="clinician_note", author=clinician)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(ids(auth_client.get(LIST))) == 23


def test_user_list_for_myself(auth_client, user):
    mine = HealthInsightFactory(user=user)
    assert ids(auth_client.get(f"{LIST}/user/{user.pk}")) == [mine.pk]


def test_user_list_of_another_user_is_404(auth_client, other_user):
    HealthInsightFactory(user=other_user)
    assert auth_client.get(f"{LIST}/user/{other_user.pk}").status_code == 404
    assert auth_client.get(f"{LIST}/user/999999").status_code == 404


def test_user_list_for_a_clinician_with_the_patient_in_care(user, clinician, care):
    alert = AlertFactory(user=user)
    client = client_for(clinician)
    assert client.get(f"{LIST}/user/{user.pk}").status_code == 404
    care(clinician, user)
    assert ids(client.get(f"{LIST}/user/{user.pk}", {"kind": "alert"})) == [alert.pk]


def test_anonymous_requests_are_refused(api_client, user):
    insight = HealthInsightFactory(user=user)
    assert api_client.get(LIST).status_code == 401
    assert api_client.get(f"{LIST}/{insight.pk}").status_code == 401
    assert api_client.patch(f"{LIST}/{insight.pk}", {"is_read": True}).status_code == 401


# --- detail ---------------------------------------------------------------------------------


def test_detail_of_my_insight(auth_client, user):
    insight = AlertFactory(user=user)
    response = auth_client.get(f"{LIST}/{insight.pk}")
    assert response.status_code == 200
    assert response.json()["type"] == "blood_pressure_crisis"


def test_detail_of_another_users_insight_is_404(auth_client, other_user):
    theirs = HealthInsightFactory(user=other_user)
    assert auth_client.get(f"{LIST}/{theirs.pk}").status_code == 404


# --- PATCH ----------------------------------------------------------------------------------


def test_patch_marks_read(auth_client, user):
    insight = HealthInsightFactory(user=user)
    response = auth_client.patch(f"{LIST}/{insight.pk}", {"is_read": True}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["is_read"] is True
    assert HealthInsight.objects.get(pk=insight.pk).is_read is True


def test_patch_acknowledges(auth_client, user):
    insight = AlertFactory(user=user)
    response = auth_client.patch(f"{LIST}/{insight.pk}/", {"acknowledged": True}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["acknowledged"] is True
    assert body["acknowledged_at"] is not None
    assert body["is_read"] is True


def test_patch_refuses_other_fields(auth_client, user):
    insight = HealthInsightFactory(user=user, severity="medium")
    response = auth_client.patch(
        f"{LIST}/{insight.pk}", {"is_read": True, "severity": "low"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "unknown_field": ["Unknown field: 'severity'. Accepted: acknowledged, is_read."]
    }
    stored = HealthInsight.objects.get(pk=insight.pk)
    assert (stored.severity, stored.is_read) == ("medium", False)


def test_patch_needs_a_flag(auth_client, user):
    insight = HealthInsightFactory(user=user)
    assert auth_client.patch(f"{LIST}/{insight.pk}", {}, format="json").status_code == 400
    bad = auth_client.patch(f"{LIST}/{insight.pk}", {"is_read": "maybe"}, format="json")
    assert bad.status_code == 400
    assert "is_read" in bad.json()


def test_patch_of_another_users_insight_is_404(auth_client, other_user):
    theirs = HealthInsightFactory(user=other_user)
    response = auth_client.patch(f"{LIST}/{theirs.pk}", {"is_read": True}, format="json")
    assert response.status_code == 404
    assert HealthInsight.objects.get(pk=theirs.pk).is_read is False


def test_a_clinician_may_read_but_not_mark_a_patients_insight(user, clinician, care):
    care(clinician, user)
    insight = AlertFactory(user=user)
    client = client_for(clinician)
    assert client.get(f"{LIST}/{insight.pk}").status_code == 200
    response = client.patch(f"{LIST}/{insight.pk}", {"is_read": True}, format="json")
    assert response.status_code == 403
    assert HealthInsight.objects.get(pk=insight.pk).is_read is False


# --- POST (clinician notes) -----------------------------------------------------------------


def note_body(patient, **extra):
    return {"user_id": patient.pk, "title": "Follow-up", "message": "Walk daily.", **extra}


def test_a_clinician_posts_a_note_for_a_patient_in_care(user, clinician, care, auth_client):
    care(clinician, user)
    clinician.first_name, clinician.last_name = "Sam", "Smith"
    clinician.save(update_fields=["first_name", "last_name"])
    response = client_for(clinician).post(
        LIST, note_body(user, severity="medium", related_metric="steps"), format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "clinician_note"
    assert body["type"] == "clinician_note"
    assert body["user_id"] == user.pk
    assert body["author_id"] == clinician.pk
    assert body["author_name"] == "Sam Smith"
    assert body["severity"] == "medium"
    assert ids(auth_client.get(LIST, {"kind": "clinician_note"})) == [body["id"]]


def test_a_patient_may_not_create_insights(auth_client, user):
    response = auth_client.post(LIST, note_body(user), format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": "Patients may not create insights."}
    assert not HealthInsight.objects.exists()


def test_a_clinician_gets_404_for_a_patient_outside_their_care(user, clinician):
    response = client_for(clinician).post(LIST, note_body(user), format="json")
    assert response.status_code == 404
    assert not HealthInsight.objects.exists()


def test_only_clinicians_create_insights(user):
    admin = UserFactory(role="admin", is_staff=True)
    response = client_for(admin).post(LIST, note_body(user), format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": "Only clinicians may create insights."}


def test_a_note_needs_a_title_and_a_message(user, clinician, care):
    care(clinician, user)
    response = client_for(clinician).post(LIST, {"user_id": user.pk}, format="json")
    assert response.status_code == 400
    assert {"title", "message"} <= set(response.json())


def test_a_clinician_cannot_note_themselves(clinician):
    response = client_for(clinician).post(LIST, note_body(clinician), format="json")
    assert response.status_code == 400
    assert "user_id" in response.json()


def test_the_schema_describes_every_insights_endpoint(auth_client):
    response = auth_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/health-insights"])
    assert {"get", "patch"} <= set(paths["/api/v1/health-insights/{id}"])
    user_list = paths["/api/v1/health-insights/user/{user_id}"]["get"]
    assert {"unread", "severity", "kind"} <= {p["name"] for p in user_list["parameters"]}
