"""The admin, role by role: every change list and change page of the accounts and audit
models as superuser, admin clinician with and without the patient in care, other staff,
patient and anonymous."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import care, sharing
from accounts.models import AccessLog, CareTeam, ShareGrant, User
from tests.accounts.care_factories import AccessLogFactory, CareTeamFactory, ShareGrantFactory
from tests.accounts.factories import ClinicianFactory, UserFactory

pytestmark = pytest.mark.django_db

PATIENT_DATA = [User, CareTeam, ShareGrant]
AUDIT = [AccessLog, LogEntry]


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change(obj) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


def url_of(obj, action: str) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{action}", args=[obj.pk])


@pytest.fixture
def patient(db):
    return UserFactory(medical_history="Rare-condition-XYZ")


@pytest.fixture
def records(patient):
    """One row of each accounts/audit model about `patient`."""
    team = CareTeamFactory(patient=patient)
    grant = ShareGrantFactory(owner=patient)
    read = AccessLogFactory(owner=patient)
    entry = LogEntry.objects.get_for_object(patient).first()
    return {User: patient, CareTeam: team, ShareGrant: grant, AccessLog: read, LogEntry: entry}


def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def superuser(db):
    return UserFactory(role=User.Role.ADMIN, is_staff=True, is_superuser=True)


@pytest.fixture
def admin_clinician(db):
    return care.clinician_enable_admin(user=ClinicianFactory())


@pytest.fixture
def caring_clinician(admin_clinician, patient):
    care.care_team_add(clinician=admin_clinician, patient=patient)
    return admin_clinician


# --- Superuser ----------


def test_superuser_opens_every_registered_change_list_and_change_page(client, superuser, records):
    logged_in(client, superuser)
    CareTeamFactory()
    for model, model_admin in admin.site._registry.items():
        assert client.get(changelist(model)).status_code == 200, model
        obj = records.get(model) or model_admin.get_queryset(_request(superuser)).first()
        if obj is not None:
            assert client.get(change(obj)).status_code == 200, model


def _request(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_superuser_sees_every_patient_and_the_profile_decrypted(client, superuser, patient):
    logged_in(client, superuser)
    others = UserFactory.create_batch(2)
    page = client.get(changelist(User)).content.decode()
    for person in [patient, *others]:
        assert person.username in page
    detail = client.get(change(patient)).content.decode()
    assert "Rare-condition-XYZ" in detail and 'name="_save"' in detail


def test_superuser_reads_in_the_admin_are_logged(client, superuser, patient):
    logged_in(client, superuser)
    client.get(change(patient), HTTP_X_REQUEST_ID="admin-req-0001")
    row = AccessLog.objects.get()
    assert (row.actor, row.owner_id, row.via) == (superuser, patient.pk, "admin")
    assert row.object_type == "accounts.user" and row.request_id == "admin-req-0001"


# --- Admin clinician ----------


def test_clinician_sees_only_their_patients(client, caring_clinician, patient, records):
    stranger = UserFactory()
    CareTeamFactory(patient=stranger)
    ShareGrantFactory(owner=stranger)
    logged_in(client, caring_clinician)
    for model in PATIENT_DATA:
        response = client.get(changelist(model))
        assert response.status_code == 200, model
        shown = set(response.context["cl"].result_list.values_list("pk", flat=True))
        expected = set(
            {
                User: [patient.pk],  # not the clinician themself
                CareTeam: CareTeam.objects.filter(patient=patient).values_list("pk", flat=True),
                ShareGrant: [records[ShareGrant].pk],
            }[model]
        )
        assert shown == expected, model


def test_clinician_reads_their_patients_pages_read_only(client, caring_clinician, records):
    logged_in(client, caring_clinician)
    for model in PATIENT_DATA:
        obj = records[model]
        response = client.get(change(obj))
        assert response.status_code == 200, model
        page = response.content.decode()
        assert 'name="_save"' not in page, model
        assert client.post(change(obj), {}).status_code == 403, model
        assert client.get(url_of(obj, "delete")).status_code == 403, model
    assert "Rare-condition-XYZ" in client.get(change(records[User])).content.decode()
    # No password hash, no permissions on a clinician's view of a profile.
    assert "pbkdf2" not in client.get(change(records[User])).content.decode()
    assert "md5$" not in client.get(change(records[User])).content.decode()


def test_clinician_cannot_add_or_change_passwords(client, caring_clinician, patient):
    logged_in(client, caring_clinician)
    assert client.get(reverse("admin:accounts_user_add")).status_code == 403
    assert client.get(reverse("admin:accounts_careteam_add")).status_code == 403
    password_url = reverse("admin:auth_user_password_change", args=[patient.pk])
    assert client.get(password_url).status_code == 403


def test_clinician_reads_in_the_admin_are_logged(client, caring_clinician, patient):
    logged_in(client, caring_clinician)
    client.get(change(patient))
    row = AccessLog.objects.get()
    assert row.actor == caring_clinician and row.owner_id == patient.pk and row.via == "admin"


def test_clinician_without_the_patient_in_care_sees_nothing_of_theirs(
    client, admin_clinician, records
):
    logged_in(client, admin_clinician)
    for model in PATIENT_DATA:
        response = client.get(changelist(model))
        assert response.status_code == 200
        shown = set(response.context["cl"].result_list.values_list("pk", flat=True))
        assert records[model].pk not in shown, model
        # A direct link does not open it either (the admin says it does not exist).
        detail = client.get(change(records[model]))
        assert detail.status_code == 302, model
    assert not AccessLog.objects.exclude(pk=records[AccessLog].pk).exists()


def test_clinician_after_the_care_team_ended_sees_nothing(client, caring_clinician, patient):
    care.care_team_end(membership=CareTeam.objects.get(clinician=caring_clinician))
    logged_in(client, caring_clinician)
    assert client.get(change(patient)).status_code == 302


def test_clinician_does_not_see_the_audit_trails(client, caring_clinician, records):
    logged_in(client, caring_clinician)
    for model in AUDIT:
        assert client.get(changelist(model)).status_code == 403
        assert client.get(change(records[model])).status_code == 403


def test_clinician_not_in_the_group_sees_nothing(client, patient):
    doctor = ClinicianFactory()  # staff, role clinician, but not in "Clinicians"
    care.care_team_add(clinician=doctor, patient=patient)
    logged_in(client, doctor)
    for model in PATIENT_DATA:
        assert client.get(changelist(model)).status_code == 403
    assert client.get(change(patient)).status_code == 403


# --- Other staff, patients, anonymous ----------


def test_staff_who_are_neither_clinicians_nor_superusers_see_no_health_data(client, records):
    staff = UserFactory(role=User.Role.ADMIN, is_staff=True)
    logged_in(client, staff)
    for model in [*PATIENT_DATA, *AUDIT]:
        assert client.get(changelist(model)).status_code == 403, model
        assert client.get(change(records[model])).status_code == 403, model


@pytest.mark.parametrize("who", ["patient", "anonymous"])
def test_patients_and_anonymous_are_sent_to_the_login(client, records, who):
    if who == "patient":
        logged_in(client, records[User])
    for model in [*PATIENT_DATA, *AUDIT]:
        for url in (changelist(model), change(records[model])):
            response = client.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"]


# --- The audit trails are append-only ----------


def test_audit_trails_are_append_only_even_for_superusers(client, superuser, records):
    logged_in(client, superuser)
    for model in AUDIT:
        obj = records[model]
        page = client.get(change(obj)).content.decode()
        assert 'name="_save"' not in page
        assert client.post(change(obj), {}).status_code == 403
        assert client.get(url_of(obj, "delete")).status_code == 403
        assert client.post(url_of(obj, "delete"), {"post": "yes"}).status_code == 403
        assert (
            client.get(
                reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_add")
            ).status_code
            == 403
        )
        response = client.post(
            changelist(model), {"action": "delete_selected", "_selected_action": [obj.pk]}
        )
        assert model.objects.filter(pk=obj.pk).exists()
        assert response.status_code in (200, 302)


def test_auditlog_admin_is_ours():
    from accounts.admin_care import LogEntryAdmin

    assert isinstance(admin.site._registry[LogEntry], LogEntryAdmin)


# --- Actions and no N+1 ----------


def test_superuser_adds_a_care_team_through_the_service(client, superuser, patient):
    doctor = ClinicianFactory()
    logged_in(client, superuser)
    response = client.post(
        reverse("admin:accounts_careteam_add"), {"clinician": doctor.pk, "patient": patient.pk}
    )
    assert response.status_code == 302
    membership = CareTeam.objects.get()
    assert membership.created_by == superuser and membership.source == "admin"
    # A second one for the same pair is refused with a message, not a 500.
    again = client.post(
        reverse("admin:accounts_careteam_add"), {"clinician": doctor.pk, "patient": patient.pk}
    )
    assert again.status_code == 200 and CareTeam.objects.count() == 1


def test_admin_refuses_a_care_team_with_a_non_clinician(client, superuser, patient):
    logged_in(client, superuser)
    response = client.post(
        reverse("admin:accounts_careteam_add"),
        {"clinician": UserFactory().pk, "patient": patient.pk},
    )
    assert response.status_code == 200 and not CareTeam.objects.exists()


def test_superuser_actions_end_care_teams_and_revoke_grants(client, superuser, records):
    logged_in(client, superuser)
    client.post(
        changelist(CareTeam),
        {"action": "end_memberships", "_selected_action": [records[CareTeam].pk]},
    )
    client.post(
        changelist(ShareGrant),
        {"action": "revoke_grants", "_selected_action": [records[ShareGrant].pk]},
    )
    records[CareTeam].refresh_from_db()
    records[ShareGrant].refresh_from_db()
    assert records[CareTeam].ended_by == superuser
    assert records[ShareGrant].revoked_at is not None
    # The change rows name who made them.
    for obj in (records[CareTeam], records[ShareGrant]):
        update = LogEntry.objects.get_for_object(obj).get(action=LogEntry.Action.UPDATE)
        assert update.actor == superuser


def test_share_grant_pages_never_show_the_hashes(client, superuser, patient):
    created = sharing.share_grant_create(
        owner=patient,
        metric_types=["steps"],
        date_from=patient.date_joined.date(),
        date_to=patient.date_joined.date(),
    )
    logged_in(client, superuser)
    page = client.get(change(created.grant)).content.decode()
    assert created.grant.code_hash not in page and created.grant.token_hash not in page


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("model", [User, CareTeam, ShareGrant, AccessLog, LogEntry])
def test_change_lists_have_no_n_plus_one(client, superuser, model):
    logged_in(client, superuser)

    def add_rows(n):
        for _ in range(n):
            patient = UserFactory()
            CareTeamFactory(patient=patient)
            ShareGrantFactory(owner=patient)
            AccessLogFactory(owner=patient)

    add_rows(2)
    few = _queries(client, changelist(model))
    add_rows(5)
    many = _queries(client, changelist(model))
    assert many == few, model
