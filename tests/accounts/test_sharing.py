from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts import sharing
from accounts.models import AccessLog, ShareGrant
from tests.accounts.care_factories import ShareGrantFactory
from tests.accounts.factories import ClinicianFactory

pytestmark = pytest.mark.django_db

TODAY = date.today()
WINDOW = {"date_from": TODAY - timedelta(days=14), "date_to": TODAY}


def make_link(owner, **overrides) -> sharing.CreatedShareGrant:
    fields = {"metric_types": ["blood_pressure_systolic"], **WINDOW, **overrides}
    return sharing.share_grant_create(owner=owner, **fields)


# --- Links -------------------------------------------------------------------------------------


def test_link_resolves_with_its_code_and_stores_only_hashes(user):
    created = make_link(user)
    assert created.token and created.code and created.link_path.endswith(created.token)
    grant = ShareGrant.objects.get()
    stored = " ".join(str(v) for v in ShareGrant.objects.values().get().values())
    assert created.token not in stored and created.code not in stored
    assert sharing.share_grant_for_link(created.token, created.code) == grant
    # Typed by hand: lower case, with spaces or dashes.
    typed = created.code[:5].lower() + "-" + created.code[5:].lower()
    assert sharing.share_grant_for_link(created.token, typed) == grant


def test_link_with_a_wrong_code_or_token_resolves_to_nothing(user):
    created = make_link(user)
    assert sharing.share_grant_for_link(created.token, "WRONGCODE9") is None
    assert sharing.share_grant_for_link("not-a-token", created.code) is None
    assert sharing.share_grant_for_link(created.token, "") is None


def test_expired_link_resolves_to_nothing(user):
    created = make_link(user)
    ShareGrant.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert sharing.share_grant_for_link(created.token, created.code) is None


def test_revoked_link_resolves_to_nothing(user):
    created = make_link(user)
    sharing.share_grant_revoke(grant=created.grant)
    assert sharing.share_grant_for_link(created.token, created.code) is None


def test_link_of_a_deleted_account_resolves_to_nothing(user):
    created = make_link(user)
    user.deleted_at = timezone.now()
    user.save(update_fields=["deleted_at"])
    assert sharing.share_grant_for_link(created.token, created.code) is None


def test_scope_names_owner_types_and_window(user):
    created = make_link(user, metric_types=["steps", "sleep", "steps"])
    scope = sharing.share_grant_scope(created.grant)
    assert scope.owner_id == user.pk
    assert scope.metric_types == ("steps", "sleep")
    assert scope.start == datetime.combine(WINDOW["date_from"], datetime.min.time(), tzinfo=UTC)
    assert scope.end == datetime.combine(TODAY + timedelta(days=1), datetime.min.time(), UTC)
    assert scope.covers("steps", scope.end - timedelta(seconds=1))
    assert not scope.covers("steps", scope.end)
    assert not scope.covers("weight", TODAY)
    assert scope.covers("sleep", WINDOW["date_from"])


def test_each_use_of_a_link_is_logged(user, rf):
    created = make_link(user)
    request = rf.get(f"/share/{created.token}", REMOTE_ADDR="203.0.113.9")
    request.request_id = "req-123456"
    row = sharing.share_grant_record_use(grant=created.grant, request=request)
    assert row.via == AccessLog.Via.SHARE_LINK and row.share_grant_id == created.grant.pk
    assert row.actor is None and row.actor_label == "share link"
    assert row.owner_id == user.pk and row.ip == "203.0.113.9"
    assert row.request_id == "req-123456"
    # The log row never holds the token.
    assert row.endpoint == "GET /share/<token>"


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"metric_types": []}, "metric_types"),
        ({"metric_types": ["Blood Pressure"]}, "metric_types"),
        ({"date_from": TODAY, "date_to": TODAY - timedelta(days=1)}, "date_to"),
        # An expiry as a distance from the test's clock (now inside the test: conftest's
        # `_evening_clock`), not from the real time this module is collected at.
        ({"expires_at": -timedelta(hours=1)}, "expires_at"),
        ({"expires_at": timedelta(days=400)}, "expires_at"),
    ],
)
def test_create_validates_scope_and_expiry(user, overrides, field):
    if isinstance(overrides.get("expires_at"), timedelta):
        overrides = {**overrides, "expires_at": timezone.now() + overrides["expires_at"]}
    with pytest.raises(ValidationError) as excinfo:
        make_link(user, **overrides)
    assert field in excinfo.value.message_dict
    assert not ShareGrant.objects.exists()


def test_share_grant_history_never_holds_the_hashes(user):
    created = make_link(user)
    sharing.share_grant_revoke(grant=created.grant)
    grant = ShareGrant.objects.get()
    for entry in LogEntry.objects.get_for_object(grant):
        text = f"{entry.changes} {entry.changes_text} {entry.serialized_data}"
        assert "code_hash" not in text and "token_hash" not in text
        assert grant.code_hash not in text and grant.token_hash not in text


# --- Named clinician ---------------------------------------------------------------------------


def test_named_grant_needs_a_clinician(user, other_user):
    with pytest.raises(ValidationError):
        sharing.share_grant_create(
            owner=user, clinician=other_user, metric_types=["steps"], **WINDOW
        )


# --- API -------------------------------------------------------------------------------------


def test_patient_creates_a_link_and_sees_the_code_once(auth_client, user):
    response = auth_client.post(
        "/api/v1/share-grants",
        {"metric_types": ["steps"], "date_from": str(TODAY), "date_to": str(TODAY)},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "link" and body["status"] == "active"
    assert body["access_code"] and body["link_token"]
    grant = sharing.share_grant_for_link(body["link_token"], body["access_code"])
    assert grant is not None and grant.owner == user
    listed = auth_client.get("/api/v1/share-grants").json()
    assert [row["id"] for row in listed] == [grant.pk]
    assert "access_code" not in listed[0] and "link_token" not in listed[0]


def test_patient_shares_with_a_named_clinician(auth_client, user):
    doctor = ClinicianFactory(email="doc@example.org")
    response = auth_client.post(
        "/api/v1/share-grants",
        {
            "clinician_email": "DOC@example.org",
            "metric_types": ["blood_pressure_systolic", "blood_pressure_diastolic"],
            "date_from": str(TODAY - timedelta(days=7)),
            "date_to": str(TODAY),
            "expires_at": (timezone.now() + timedelta(days=3)).isoformat(),
            "label": "For my appointment",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "clinician" and body["grantee"]["id"] == doctor.pk
    assert body["access_code"] is None and body["link_token"] is None


def test_sharing_with_an_unknown_clinician_is_400(auth_client, other_user):
    response = auth_client.post(
        "/api/v1/share-grants",
        {
            "clinician_email": other_user.email,
            "metric_types": ["steps"],
            "date_from": str(TODAY),
            "date_to": str(TODAY),
        },
        format="json",
    )
    assert response.status_code == 400
    assert "clinician_email" in response.json()


def test_create_rejects_bad_input_with_field_errors(auth_client):
    response = auth_client.post(
        "/api/v1/share-grants",
        {"metric_types": ["steps"], "date_from": str(TODAY), "date_to": str(TODAY - timedelta(1))},
        format="json",
    )
    assert response.status_code == 400
    assert "date_to" in response.json()


def test_patient_revokes_a_grant(auth_client, user):
    grant = ShareGrantFactory(owner=user)
    response = auth_client.post(f"/api/v1/share-grants/{grant.pk}/revoke")
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    grant.refresh_from_db()
    assert grant.revoked_at is not None


def test_nobody_else_sees_or_revokes_a_grant(other_client, user):
    grant = ShareGrantFactory(owner=user)
    assert other_client.get("/api/v1/share-grants").json() == []
    assert other_client.post(f"/api/v1/share-grants/{grant.pk}/revoke").status_code == 404
    grant.refresh_from_db()
    assert grant.revoked_at is None


def test_clinician_lists_grants_naming_them_while_active(clinician_client, clinician, user):
    mine = ShareGrantFactory(owner=user, grantee=clinician)
    ShareGrantFactory(owner=user, grantee=clinician, revoked_at=timezone.now())
    ShareGrantFactory(owner=user)  # another clinician's
    rows = clinician_client.get("/api/v1/share-grants/received").json()
    assert [row["id"] for row in rows] == [mine.pk]


def test_share_grant_endpoints_need_authentication(api_client):
    assert api_client.get("/api/v1/share-grants").status_code == 401
    assert api_client.post("/api/v1/share-grants", {}, format="json").status_code == 401
