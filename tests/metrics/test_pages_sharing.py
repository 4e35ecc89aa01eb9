"""Settings → Sharing: care team by e-mail, share grants (clinician or link + code), revoke."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from accounts.models import CareTeam, ShareGrant
from accounts.sharing import share_grant_create, share_grant_for_link
from tests.accounts.care_factories import CareTeamFactory
from tests.accounts.factories import ClinicianFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def page_client(client, user):
    client.force_login(user)
    return client


def share_data(**changes) -> dict:
    today = timezone.now().astimezone(UTC).date()
    data = {
        "share-metric_types": ["steps", "blood_pressure"],
        "share-date_from": (today - timedelta(days=30)).isoformat(),
        "share-date_to": today.isoformat(),
        "share-expires_on": (today + timedelta(days=7)).isoformat(),
        "share-clinician_email": "",
        "share-label": "Cardiology",
    }
    data.update(changes)
    return data


def test_accepting_a_clinician_by_email_adds_them_to_the_care_team(page_client, user):
    clinician = ClinicianFactory(email="doc@example.org", first_name="Ana", last_name="Lee")
    response = page_client.post(
        "/settings/sharing/", {"care-email": "DOC@example.org"}, follow=True
    )
    assert "Ana Lee is now in your care team" in response.content.decode()
    assert CareTeam.objects.active().filter(clinician=clinician, patient=user).exists()
    assert "doc@example.org" in page_client.get("/settings/sharing/").content.decode()


def test_an_unknown_clinician_email_is_an_error_that_keeps_the_input(page_client, user):
    response = page_client.post("/settings/sharing/", {"care-email": "nobody@example.org"})
    assert response.context["care_form"].errors["email"] == [
        "No clinician with that e-mail address."
    ]
    assert 'value="nobody@example.org"' in response.content.decode()
    assert not CareTeam.objects.filter(patient=user).exists()


def test_ending_a_care_team_membership_keeps_it_as_history(page_client, user):
    membership = CareTeamFactory(patient=user)
    response = page_client.post(f"/settings/sharing/care-team/{membership.pk}/end/")
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.ended_at is not None and membership.ended_by == user


def test_someone_elses_care_team_or_share_cannot_be_ended_or_revoked(page_client, other_user):
    membership = CareTeamFactory(patient=other_user)
    today = timezone.now().date()
    grant = share_grant_create(
        owner=other_user, metric_types=["steps"], date_from=today, date_to=today
    ).grant
    assert page_client.post(f"/settings/sharing/care-team/{membership.pk}/end/").status_code == 404
    assert page_client.post(f"/settings/sharing/grants/{grant.pk}/revoke/").status_code == 404
    membership.refresh_from_db()
    grant.refresh_from_db()
    assert membership.ended_at is None and grant.revoked_at is None


def test_a_link_share_shows_the_link_and_code_once_and_they_work(page_client, user):
    response = page_client.post("/settings/sharing/", share_data())
    assert response.status_code == 302
    page = page_client.get("/settings/sharing/")
    shown = page.context["new_share"]
    assert shown["link"].startswith("http://testserver/share/")
    body = page.content.decode()
    assert shown["code"] in body and "only this once" in body
    token = shown["link"].rsplit("/", 1)[1]
    grant = share_grant_for_link(token, shown["code"])
    assert grant is not None and grant.owner == user
    assert grant.metric_types == ["steps", "blood_pressure_systolic", "blood_pressure_diastolic"]
    assert grant.label == "Cardiology"
    again = page_client.get("/settings/sharing/").content.decode()
    assert shown["code"] not in again and "Steps, Blood pressure" in again


def test_a_share_with_a_named_clinician_needs_no_link(page_client, user):
    clinician = ClinicianFactory(email="doc@example.org")
    page_client.post(
        "/settings/sharing/", share_data(**{"share-clinician_email": "doc@example.org"})
    )
    grant = ShareGrant.objects.get(owner=user)
    assert grant.grantee == clinician and grant.kind == ShareGrant.Kind.CLINICIAN
    assert page_client.get("/settings/sharing/").context["new_share"] is None


def test_share_errors_come_from_the_service_and_keep_the_input(page_client, user):
    today = timezone.now().astimezone(UTC).date()
    response = page_client.post(
        "/settings/sharing/",
        share_data(**{"share-date_to": (today - timedelta(days=40)).isoformat()}),
    )
    assert response.status_code == 400
    assert response.context["share_form"].errors["date_to"] == ["The window ends before it starts."]
    assert 'value="Cardiology"' in response.content.decode()
    response = page_client.post(
        "/settings/sharing/", share_data(**{"share-clinician_email": "nobody@example.org"})
    )
    assert response.context["share_form"].errors["clinician_email"] == [
        "No clinician with that e-mail address."
    ]
    response = page_client.post("/settings/sharing/", share_data(**{"share-metric_types": []}))
    assert "metric_types" in response.context["share_form"].errors
    assert not ShareGrant.objects.filter(owner=user).exists()


def test_revoking_a_share_stops_it(page_client, user):
    today = timezone.now().date()
    grant = share_grant_create(
        owner=user, metric_types=["steps"], date_from=today, date_to=today
    ).grant
    response = page_client.post(f"/settings/sharing/grants/{grant.pk}/revoke/", follow=True)
    assert "Share revoked" in response.content.decode()
    grant.refresh_from_db()
    assert grant.revoked_at is not None
