"""The data settings act for a family member too (`?member=<id>`): a family manager shares a
dependent's readings, manages their care team, sees who read their data, their devices and
imports; a read-only member sees the same pages without the forms and is 404 on every write; a
stranger is 404. A manager never closes the account of an adult who gave them access."""

from __future__ import annotations

from datetime import UTC, date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import family
from accounts.models import AccessLog, CareTeam, FamilyMembership, ShareGrant, User
from healthtrack.portability.models import ImportJob
from metrics.models import HealthMetric
from tests.accounts.factories import ClinicianFactory, UserFactory
from tests.accounts.family_factories import make_dependent
from tests.metrics.factories import DeviceFactory

pytestmark = pytest.mark.django_db

CSV = "metric_type,value,unit,recorded_at,end_at,source\nheart_rate,61,,{when},,Polar H10\n"


def today() -> date:
    return timezone.now().astimezone(UTC).date()


@pytest.fixture
def child(user):
    return make_dependent(user, first_name="Ada", date_of_birth=date(2018, 5, 1))


@pytest.fixture
def reader(child, user):
    doctor = UserFactory(first_name="Dora", last_name="Reader", username="dora.reader")
    family.family_access_grant(
        granted_by=user, email=doctor.email, role=FamilyMembership.Role.READ_ONLY, member=child
    )
    return doctor


@pytest.fixture
def paediatrician(db):
    return ClinicianFactory(first_name="Pia", last_name="Kid")


def page(client, who):
    client.force_login(who)
    return client


def api(who) -> APIClient:
    client = APIClient()
    client.force_authenticate(who)
    return client


def share_form(**extra) -> dict:
    return {
        "share-metric_types": ["steps"],
        "share-date_from": (today() - timedelta(days=7)).isoformat(),
        "share-date_to": today().isoformat(),
        "share-expires_on": (today() + timedelta(days=30)).isoformat(),
        "share-label": "School nurse",
        **extra,
    }


# --- pages ------------------------------------------------------------------------------------


def test_a_manager_shares_a_dependents_readings_from_the_sharing_page(client, user, child):
    response = page(client, user).post(f"/settings/sharing/?member={child.pk}", share_form())

    assert response.status_code == 302
    assert response["Location"] == f"/settings/sharing/?member={child.pk}"
    grant = ShareGrant.objects.get()
    assert (grant.owner_id, grant.metric_types) == (child.pk, ["steps"])
    assert not ShareGrant.objects.filter(owner=user).exists()
    shown = client.get(response["Location"]).content.decode()
    assert "School nurse" in shown
    assert "Ada" in shown


def test_a_manager_adds_a_clinician_to_a_dependents_care_team(client, user, child, paediatrician):
    response = page(client, user).post(
        f"/settings/sharing/?member={child.pk}", {"care-email": paediatrician.email}
    )

    assert response.status_code == 302
    team = CareTeam.objects.get()
    assert (team.patient_id, team.clinician_id, team.created_by_id) == (
        child.pk,
        paediatrician.pk,
        user.pk,
    )
    messages = client.get(response["Location"]).content.decode()
    assert "is now in Ada’s care team" in messages or "is now in Ada&#x27;s care team" in messages


def test_a_manager_ends_a_care_team_and_revokes_a_share_for_a_dependent(
    client, user, child, paediatrician
):
    from accounts import care, sharing

    team = care.care_team_add(clinician=paediatrician, patient=child, source="patient")
    grant = sharing.share_grant_create(
        owner=child, metric_types=["steps"], date_from=today(), date_to=today()
    ).grant
    page(client, user)

    ended = client.post(f"/settings/sharing/care-team/{team.pk}/end/?member={child.pk}")
    revoked = client.post(f"/settings/sharing/grants/{grant.pk}/revoke/?member={child.pk}")

    assert ended.status_code == revoked.status_code == 302
    team.refresh_from_db()
    grant.refresh_from_db()
    assert team.ended_at is not None
    assert grant.status == "revoked"


def test_a_read_only_member_sees_the_sharing_page_without_its_forms(client, child, reader):
    from accounts import sharing

    sharing.share_grant_create(
        owner=child, metric_types=["steps"], date_from=today(), date_to=today(), label="Nurse"
    )
    response = page(client, reader).get(f"/settings/sharing/?member={child.pk}")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Nurse" in html
    assert "Create share" not in html
    assert "Add to the care team" not in html
    assert "Revoke" not in html


def test_a_read_only_member_cannot_share_or_end_anything(client, child, reader, paediatrician):
    from accounts import care, sharing

    team = care.care_team_add(clinician=paediatrician, patient=child, source="patient")
    grant = sharing.share_grant_create(
        owner=child, metric_types=["steps"], date_from=today(), date_to=today()
    ).grant
    page(client, reader)

    assert client.post(f"/settings/sharing/?member={child.pk}", share_form()).status_code == 404
    post_care = client.post(
        f"/settings/sharing/?member={child.pk}", {"care-email": paediatrician.email}
    )
    assert post_care.status_code == 404
    end = client.post(f"/settings/sharing/care-team/{team.pk}/end/?member={child.pk}")
    revoke = client.post(f"/settings/sharing/grants/{grant.pk}/revoke/?member={child.pk}")
    assert end.status_code == revoke.status_code == 404
    assert ShareGrant.objects.count() == CareTeam.objects.count() == 1
    team.refresh_from_db()
    grant.refresh_from_db()
    assert team.ended_at is None
    assert grant.status == "active"


def test_the_devices_and_access_log_pages_show_the_members(client, user, child, reader):
    DeviceFactory(user=child, name="Ada's band")
    DeviceFactory(user=user, name="My watch")
    page(client, reader).get(f"/metrics/?member={child.pk}")  # a read by the reader: logged

    for who in (user, reader):
        devices = page(client, who).get(f"/settings/devices/?member={child.pk}")
        assert devices.status_code == 200
        assert "Ada&#x27;s band" in devices.content.decode()
        assert "My watch" not in devices.content.decode()
    log = page(client, user).get(f"/settings/access-log/?member={child.pk}")
    assert log.status_code == 200
    assert "Who saw Ada" in log.content.decode()
    assert AccessLog.objects.filter(owner=child, actor=reader).exists()
    assert "dora.reader" in log.content.decode()


@pytest.mark.parametrize(
    "url", ["/settings/devices/", "/settings/sharing/", "/settings/access-log/"]
)
def test_a_stranger_gets_404_on_a_members_settings_pages(client, other_user, child, url):
    response = page(client, other_user).get(f"{url}?member={child.pk}")
    assert response.status_code == 404


# --- API --------------------------------------------------------------------------------------


def test_a_manager_creates_lists_and_revokes_a_dependents_share_grant(user, child):
    client = api(user)
    body = {
        "metric_types": ["steps"],
        "date_from": (today() - timedelta(days=3)).isoformat(),
        "date_to": today().isoformat(),
    }

    created = client.post(f"/api/v1/share-grants?member={child.pk}", body, format="json")
    assert created.status_code == 201, created.json()
    grant = ShareGrant.objects.get()
    assert grant.owner_id == child.pk
    listed = client.get(f"/api/v1/share-grants?member={child.pk}").json()
    assert [g["id"] for g in listed] == [grant.pk]
    assert client.get("/api/v1/share-grants").json() == []  # the manager's own: none
    revoked = client.post(f"/api/v1/share-grants/{grant.pk}/revoke?member={child.pk}")
    assert revoked.status_code == 200
    grant.refresh_from_db()
    assert grant.status == "revoked"


def test_a_manager_adds_and_ends_a_dependents_clinician_through_the_api(user, child, paediatrician):
    client = api(user)
    added = client.post(
        f"/api/v1/care-team/clinicians?member={child.pk}",
        {"email": paediatrician.email},
        format="json",
    )
    assert added.status_code == 201, added.json()
    team = CareTeam.objects.get()
    assert (team.patient_id, team.created_by_id) == (child.pk, user.pk)
    listed = client.get(f"/api/v1/care-team/clinicians?member={child.pk}").json()
    assert [t["id"] for t in listed] == [team.pk]

    ended = client.post(f"/api/v1/care-team/{team.pk}/end?member={child.pk}")
    assert ended.status_code == 200
    team.refresh_from_db()
    assert team.ended_at is not None


def test_a_read_only_member_reads_but_never_writes_a_dependents_sharing(
    child, reader, paediatrician
):
    from accounts import sharing

    grant = sharing.share_grant_create(
        owner=child, metric_types=["steps"], date_from=today(), date_to=today()
    ).grant
    client = api(reader)
    assert [g["id"] for g in client.get(f"/api/v1/share-grants?member={child.pk}").json()] == [
        grant.pk
    ]
    body = {"metric_types": ["steps"], "date_from": today(), "date_to": today()}
    writes = [
        client.post(f"/api/v1/share-grants?member={child.pk}", body, format="json"),
        client.post(f"/api/v1/share-grants/{grant.pk}/revoke?member={child.pk}"),
        client.post(
            f"/api/v1/care-team/clinicians?member={child.pk}",
            {"email": paediatrician.email},
            format="json",
        ),
    ]
    assert [w.status_code for w in writes] == [404, 404, 404]
    grant.refresh_from_db()
    assert grant.status == "active"
    assert ShareGrant.objects.count() == 1
    assert not CareTeam.objects.exists()


def test_reading_a_members_access_log_through_the_api(user, child, reader):
    api(reader).get(f"/api/v1/health-metrics?member={child.pk}")

    theirs = api(user).get(f"/api/v1/users/me/access-log?member={child.pk}")
    mine = api(user).get("/api/v1/users/me/access-log")

    assert theirs.status_code == 200
    assert [row["actor"] for row in theirs.json()["results"]][-1:] == ["Dora Reader"]
    assert all(row["actor"] != "Dora Reader" for row in mine.json()["results"])


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/share-grants",
        "/api/v1/care-team/clinicians",
        "/api/v1/users/me/access-log",
        "/api/v1/imports",
    ],
)
def test_a_stranger_gets_404_on_a_members_sharing_and_imports(other_user, child, url):
    assert api(other_user).get(f"{url}?member={child.pk}").status_code == 404


def test_a_manager_imports_readings_for_a_dependent(
    user, child, reader, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path / "media"
    when = (timezone.now() - timedelta(hours=2)).astimezone(UTC).strftime("%Y-%m-%dT%H:00:00Z")
    upload = SimpleUploadedFile("heart.csv", CSV.format(when=when).encode())
    client = api(user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/imports?member={child.pk}", {"file": upload}, format="multipart"
        )

    assert response.status_code == 202, response.json()
    job = ImportJob.objects.get()
    assert job.user_id == child.pk
    assert HealthMetric.objects.filter(user=child, metric_type="heart_rate").count() == 1
    assert not HealthMetric.objects.filter(user=user).exists()
    listed = client.get(f"/api/v1/imports?member={child.pk}").json()["results"]
    assert [j["id"] for j in listed] == [job.pk]
    assert client.get("/api/v1/imports").json()["results"] == []  # the manager's own
    refused = api(reader).post(
        f"/api/v1/imports?member={child.pk}",
        {"file": SimpleUploadedFile("heart.csv", b"x")},
        format="multipart",
    )
    assert refused.status_code == 404
    assert ImportJob.objects.count() == 1


def test_a_manager_removes_a_dependent_but_never_closes_an_adults_account(user, child):
    adult = UserFactory()
    family.family_access_grant(
        granted_by=adult, email=user.email, role=FamilyMembership.Role.MANAGER
    )
    client = api(user)

    assert (
        client.patch(f"/api/v1/users/{adult.pk}", {"height_cm": 170}, format="json").status_code
        == 200
    )
    assert client.delete(f"/api/v1/users/{adult.pk}").status_code == 404
    adult.refresh_from_db()
    assert adult.deleted_at is None
    assert client.delete(f"/api/v1/users/{child.pk}").status_code == 204
    assert User.objects.get(pk=child.pk).deleted_at is not None


# --- the "Your data" page -----------------------------------------------------------------------


def test_a_manager_exports_and_imports_for_a_dependent_on_the_data_page(
    client, user, child, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path / "media"
    page(client, user)
    html = client.get(f"/settings/data/?member={child.pk}").content.decode()
    assert f"/api/v1/export?format=zip&amp;member={child.pk}" in html
    assert f'name="member" value="{child.pk}"' in html  # the report form
    when = (timezone.now() - timedelta(hours=2)).astimezone(UTC).strftime("%Y-%m-%dT%H:00:00Z")
    upload = SimpleUploadedFile("heart.csv", CSV.format(when=when).encode())

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/settings/data/?member={child.pk}", {"file": upload})

    assert response.status_code == 302
    assert response["Location"] == f"/settings/data/?member={child.pk}"
    assert ImportJob.objects.get().user_id == child.pk
    assert HealthMetric.objects.filter(user=child).count() == 1
    assert "heart.csv" in client.get(response["Location"]).content.decode()
    assert "heart.csv" not in client.get("/settings/data/").content.decode()


def test_a_read_only_member_gets_the_report_but_not_export_or_import(client, child, reader):
    page(client, reader)
    response = client.get(f"/settings/data/?member={child.pk}")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Report for your doctor" in html
    assert "/api/v1/export?format" not in html
    assert 'enctype="multipart/form-data"' not in html
    upload = SimpleUploadedFile("heart.csv", b"metric_type,value\n")
    assert client.post(f"/settings/data/?member={child.pk}", {"file": upload}).status_code == 404
    assert not ImportJob.objects.exists()


def test_a_stranger_gets_404_on_a_members_data_page(client, other_user, child):
    assert page(client, other_user).get(f"/settings/data/?member={child.pk}").status_code == 404
    assert client.get(f"/settings/export/?member={child.pk}")["Location"] == (
        f"/settings/data/?member={child.pk}"
    )
