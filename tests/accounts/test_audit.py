"""The audit trail: clinician reads logged, the patient's view of it, append-only rows,
retention, and no plaintext of encrypted fields in auditlog's LogEntry."""

from __future__ import annotations

import json
from datetime import date, timedelta
from io import StringIO

import pytest
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.core.management import call_command
from django.utils import timezone

from accounts import audit
from accounts.checks import auditlog_excludes_encrypted_fields
from accounts.models import AccessLog, AppendOnlyError, User
from accounts.services import user_register
from tests.accounts.care_factories import AccessLogFactory, CareTeamFactory, ShareGrantFactory
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


# --- GET /api/v1/users/{id}, role by role ----------


def test_owner_reads_own_profile_without_an_access_log_row(auth_client, user):
    assert auth_client.get(f"/api/v1/users/{user.pk}").status_code == 200
    assert not AccessLog.objects.exists()


def test_clinician_reads_their_patients_profile_and_the_read_is_logged(
    clinician_client, clinician, user, care_team
):
    response = clinician_client.get(
        f"/api/v1/users/{user.pk}", HTTP_X_REQUEST_ID="trace-abcdef12", REMOTE_ADDR="198.51.100.7"
    )
    assert response.status_code == 200
    assert response.json()["medical_history"] == user.medical_history
    row = AccessLog.objects.get()
    assert row.actor == clinician and row.owner_id == user.pk
    assert row.via == AccessLog.Via.CARE_TEAM
    assert row.endpoint == f"GET /api/v1/users/{user.pk}"
    assert (row.object_type, row.object_id) == ("accounts.user", str(user.pk))
    assert row.ip == "198.51.100.7" and row.request_id == "trace-abcdef12"


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_clinician_cannot_change_their_patients_profile(clinician_client, user, care_team, method):
    response = getattr(clinician_client, method)(
        f"/api/v1/users/{user.pk}", {"height_cm": 150}, format="json"
    )
    assert response.status_code == 404
    user.refresh_from_db()
    assert user.height_cm == 170.0 and user.is_active


def test_clinician_without_the_patient_in_care_gets_404(clinician_client, user):
    assert clinician_client.get(f"/api/v1/users/{user.pk}").status_code == 404
    assert not AccessLog.objects.exists()


def test_clinician_after_the_care_team_ended_gets_404(clinician_client, user, care_team):
    care_team.ended_at = timezone.now()
    care_team.save(update_fields=["ended_at"])
    assert clinician_client.get(f"/api/v1/users/{user.pk}").status_code == 404


def test_other_patient_gets_404(other_client, user):
    assert other_client.get(f"/api/v1/users/{user.pk}").status_code == 404


def test_staff_who_is_not_a_clinician_gets_404(api_client, user):
    staff = UserFactory(role=User.Role.ADMIN, is_staff=True, is_superuser=True)
    api_client.force_authenticate(staff)
    assert api_client.get(f"/api/v1/users/{user.pk}").status_code == 404


def test_anonymous_gets_401(api_client, user):
    assert api_client.get(f"/api/v1/users/{user.pk}").status_code == 401


# --- The patient's access log ----------


def test_patient_sees_who_read_their_data_newest_first(
    auth_client, clinician_client, clinician, user, care_team
):
    clinician_client.get(f"/api/v1/users/{user.pk}")
    clinician_client.get(f"/api/v1/users/{user.pk}")
    AccessLogFactory()  # about someone else
    body = auth_client.get("/api/v1/users/me/access-log").json()
    assert body["count"] == 2
    first = body["results"][0]
    assert first["actor"] == clinician.get_full_name()
    assert first["actor_role"] == "clinician" and first["via"] == "care_team"
    assert "ip" not in first and "request_id" not in first
    ids = [row["id"] for row in body["results"]]
    assert ids == sorted(ids, reverse=True)


def test_access_log_needs_authentication(api_client):
    assert api_client.get("/api/v1/users/me/access-log").status_code == 401


def test_access_log_has_a_fixed_query_count(auth_client, user, django_assert_max_num_queries):
    for _ in range(6):
        AccessLogFactory(owner=user)
    with django_assert_max_num_queries(3):
        body = auth_client.get("/api/v1/users/me/access-log").json()
    assert body["count"] == 6


# --- record_access ----------


def test_record_access_skips_the_owner(user):
    assert audit.record_access(actor=user, owner_id=user.pk, via="care_team") is None
    assert not AccessLog.objects.exists()


def test_record_access_trusts_forwarded_for_only_behind_configured_proxies(rf, user, settings):
    doctor = CareTeamFactory(patient=user).clinician
    request = rf.get("/x", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.5")
    settings.TRUSTED_PROXY_COUNT = 0
    assert audit.record_access(actor=doctor, owner_id=user.pk, via="admin", request=request).ip == (
        "10.0.0.1"
    )
    settings.TRUSTED_PROXY_COUNT = 1
    assert audit.record_access(actor=doctor, owner_id=user.pk, via="admin", request=request).ip == (
        "192.0.2.5"
    )


def test_record_read_names_the_basis_of_the_read(rf, clinician, user, care_team):
    request = rf.get("/api/v1/metrics")
    request.user = clinician
    assert audit.record_read(request=request, owner_id=user.pk).via == "care_team"
    granting = UserFactory()
    grant = ShareGrantFactory(owner=granting, grantee=clinician)
    row = audit.record_read(request=request, owner_id=granting.pk)
    assert row.via == "share_grant" and row.share_grant == grant
    request.user = user
    assert audit.record_read(request=request, owner_id=user.pk) is None


def test_access_log_rows_cannot_be_changed_or_deleted():
    row = AccessLogFactory()
    row.endpoint = "tampered"
    with pytest.raises(AppendOnlyError):
        row.save()
    with pytest.raises(AppendOnlyError):
        row.delete()
    with pytest.raises(AppendOnlyError):
        AccessLog.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AccessLog.objects.update(endpoint="tampered")
    assert AccessLog.objects.get().endpoint != "tampered"


def test_access_log_outlives_a_purged_account(user):
    row = AccessLogFactory(owner=user)
    User.objects.filter(pk=user.pk).delete()
    row = AccessLog.objects.get(pk=row.pk)
    assert row.owner_id == user.pk and row.actor_label


# --- Retention ----------


def _age_everything(days: int) -> None:
    then = timezone.now() - timedelta(days=days)
    LogEntry.objects.update(timestamp=then)
    # AccessLog refuses update(); age rows through the base manager, as a test fixture only.
    AccessLog._base_manager.update(at=then)


def test_prune_deletes_only_rows_older_than_retention(settings):
    settings.AUDIT_RETENTION_DAYS = 30
    old_user = UserFactory()
    AccessLogFactory(owner=old_user)
    _age_everything(31)
    UserFactory()
    recent = AccessLogFactory()
    old_entries = LogEntry.objects.filter(timestamp__lt=timezone.now() - timedelta(days=30))
    assert old_entries.exists()
    out = StringIO()
    call_command("prune_audit_log", stdout=out)
    assert not old_entries.exists()
    assert LogEntry.objects.exists()  # the recent user's entries stay
    assert list(AccessLog.objects.values_list("pk", flat=True)) == [recent.pk]
    assert "Deleted" in out.getvalue()


def test_prune_dry_run_counts_and_deletes_nothing(settings):
    settings.AUDIT_RETENTION_DAYS = 30
    AccessLogFactory()
    _age_everything(31)
    before = (LogEntry.objects.count(), AccessLog.objects.count())
    out = StringIO()
    call_command("prune_audit_log", "--dry-run", stdout=out)
    assert (LogEntry.objects.count(), AccessLog.objects.count()) == before
    assert f"Would delete {before[0]} change-log and 1 access-log" in out.getvalue()


def test_retention_defaults_to_seven_years(settings):
    assert settings.AUDIT_RETENTION_DAYS == 2557


# --- No plaintext of encrypted fields in LogEntry ----------

SECRET_HISTORY = "Zebrafish allergy, ICD-Q99.8 since 1999"
SECRET_DOB = date(1961, 7, 2)
NEW_HISTORY = "Narwhal syndrome, stage 2"
NEW_DOB = date(1962, 8, 3)


def _everything_auditlog_stored() -> str:
    rows = LogEntry.objects.values(
        "changes", "changes_text", "serialized_data", "object_repr", "additional_data"
    )
    return json.dumps(list(rows), default=str)


def test_no_plaintext_of_encrypted_fields_reaches_logentry(auth_client):
    user = user_register(
        email="enc@example.org",
        username="enc",
        password="Str0ng-pass!",
        medical_history=SECRET_HISTORY,
        date_of_birth=SECRET_DOB,
    )
    auth_client.force_authenticate(user)
    response = auth_client.patch(
        f"/api/v1/users/{user.pk}",
        {"medical_history": NEW_HISTORY, "date_of_birth": str(NEW_DOB), "height_cm": 171},
        format="json",
    )
    assert response.status_code == 200
    user.refresh_from_db()
    user.medical_history = SECRET_HISTORY + " (edited)"
    user.save()  # a full save, not only update_fields
    entries = LogEntry.objects.get_for_object(user)
    assert {e.action for e in entries} >= {LogEntry.Action.CREATE, LogEntry.Action.UPDATE}
    stored = _everything_auditlog_stored()
    for secret in (
        SECRET_HISTORY,
        NEW_HISTORY,
        "Zebrafish",
        "Narwhal",
        "1961",
        "1962",
        str(SECRET_DOB),
        str(NEW_DOB),
    ):
        assert secret not in stored
    assert "medical_history" not in stored and "date_of_birth" not in stored
    assert "171" in stored  # the non-encrypted change is recorded


def test_system_check_flags_an_auditlog_registration_that_would_leak(settings):
    assert auditlog_excludes_encrypted_fields() == []
    auditlog.unregister(User)
    try:
        auditlog.register(User, exclude_fields=["password"])
        errors = auditlog_excludes_encrypted_fields()
        assert [e.id for e in errors] == ["accounts.E001"]
        assert "date_of_birth" in errors[0].msg and "medical_history" in errors[0].msg
        auditlog.unregister(User)
        auditlog.register(
            User,
            exclude_fields=["password", "date_of_birth", "medical_history", "last_login"],
            serialize_data=True,
        )
        assert [e.id for e in auditlog_excludes_encrypted_fields()] == ["accounts.E002"]
    finally:
        from accounts.models import USER_AUDIT_EXCLUDE

        auditlog.unregister(User)
        auditlog.register(User, exclude_fields=USER_AUDIT_EXCLUDE)
