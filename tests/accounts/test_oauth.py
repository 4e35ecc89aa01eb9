"""OAuth2 for third-party apps: consent, PKCE, refresh, client credentials, connected apps,
revocation and the audit trails (accounts/oauth.py, accounts/oauth_views.py)."""

from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from auditlog.models import LogEntry
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, Grant, RefreshToken

from accounts import care, family
from accounts.models import AccessLog, ConnectedApp, User
from metrics import services as metric_services
from tests.accounts.factories import ClinicianFactory, UserFactory
from tests.accounts.oauth_helpers import (
    CLIENT_SECRET,
    approve,
    authorize_url,
    bearer,
    clinic_app,
    clinic_token,
    code_from,
    exchange,
    issued_token,
    pkce_pair,
    public_app,
    token_for,
)

pytestmark = pytest.mark.django_db

READ_OBSERVATIONS = "patient/Observation.rs"


@pytest.fixture
def app():
    return public_app()


@pytest.fixture
def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def _reading(person, value=71, hours_ago=2):
    return metric_services.metric_create(
        user=person,
        metric_type="heart_rate",
        value=value,
        recorded_at=timezone.now() - timedelta(hours=hours_ago),
    )


def test_consent_page_names_the_app_each_scope_in_plain_words_and_the_expiry(signed_in, app):
    _, challenge = pkce_pair()
    page = signed_in.get(authorize_url(app, f"{READ_OBSERVATIONS} offline_access", challenge))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Connect “Pulse Diary”?" in text
    assert "Read your measurements" in text and READ_OBSERVATIONS in text
    assert "Stay connected when you are not using the app" in text
    assert "lasts 1 hour" in text and "up to 90 days" in text
    assert 'name="allow"' in text and ">Deny<" in text
    assert 'href="/static/css/app.css"' in text or "app.css" in text  # the product's design


def test_consent_page_needs_a_signed_in_user(client, app):
    _, challenge = pkce_pair()
    response = client.get(authorize_url(app, READ_OBSERVATIONS, challenge))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_denying_sends_access_denied_to_the_app_and_connects_nothing(signed_in, app):
    response, _ = approve(signed_in, app, READ_OBSERVATIONS, allow=False)
    assert response.status_code == 302
    assert parse_qs(urlparse(response["Location"]).query)["error"] == ["access_denied"]
    assert not ConnectedApp.objects.exists()
    assert not AccessToken.objects.exists()


def test_a_public_client_must_use_pkce(signed_in, app):
    url = authorize_url(app, READ_OBSERVATIONS, "x").replace("code_challenge=x", "")
    url = url.replace("&code_challenge_method=S256", "")
    response = signed_in.get(url)
    assert response.status_code == 400
    text = response.content.decode()
    assert "This app cannot connect" in text and "invalid_request" in text
    assert not Grant.objects.exists()


def test_the_code_is_exchanged_only_with_its_verifier(signed_in, app):
    response, verifier = approve(signed_in, app, READ_OBSERVATIONS)
    code = code_from(response)
    wrong = exchange(Client(), app, code, verifier[:-2] + "zz")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.exists()


def test_the_token_names_the_patient_and_carries_the_approved_scopes(signed_in, app, user):
    token = token_for(signed_in, app, READ_OBSERVATIONS)
    assert token["patient"] == f"user-{user.pk}"
    assert token["scope"] == READ_OBSERVATIONS
    assert "refresh_token" not in token  # no offline_access, no refresh token
    stored = AccessToken.objects.get()
    assert stored.token == "" and stored.token_checksum  # kept as a checksum only
    connection = ConnectedApp.objects.get()
    assert (connection.patient, connection.approved_by, connection.scope) == (
        user,
        user,
        READ_OBSERVATIONS,
    )


def test_offline_access_gives_a_refresh_token_that_rotates(signed_in, app):
    token = token_for(signed_in, app, f"{READ_OBSERVATIONS} offline_access")
    refreshed = Client().post(
        "/o/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": app.client_id,
        },
    )
    assert refreshed.status_code == 200, refreshed.content
    body = refreshed.json()
    assert body["refresh_token"] != token["refresh_token"]
    assert Client().get("/fhir/Observation", **bearer(body)).status_code == 200
    again = Client().post(
        "/o/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": app.client_id,
        },
    )
    assert again.status_code == 400


def test_a_patient_app_cannot_ask_for_system_scopes(signed_in, app):
    _, challenge = pkce_pair()
    response = signed_in.get(authorize_url(app, "system/Observation.rs", challenge))
    assert response.status_code == 302
    assert parse_qs(urlparse(response["Location"]).query)["error"] == ["invalid_scope"]


def test_a_family_manager_connects_an_app_for_a_dependent(signed_in, app, user):
    kid = family.family_member_create(manager=user, first_name="Kid").member
    _reading(kid, value=90)
    _reading(user, value=60)
    page = signed_in.get(authorize_url(app, READ_OBSERVATIONS, pkce_pair()[1]))
    assert "Kid" in page.content.decode()
    token = token_for(signed_in, app, READ_OBSERVATIONS, patient=kid)
    assert token["patient"] == f"user-{kid.pk}"
    bundle = Client().get("/fhir/Observation", **bearer(token)).json()
    values = [e["resource"]["valueQuantity"]["value"] for e in bundle["entry"]]
    assert values == [90.0]  # the dependent's, not the manager's
    connection = ConnectedApp.objects.get()
    assert (connection.patient, connection.approved_by) == (kid, user)
    own = Client().get(f"/fhir/Observation?patient=user-{user.pk}", **bearer(token))
    assert own.status_code == 404


def test_a_read_only_family_member_cannot_connect_an_app_for_the_member(app, user):
    reader = UserFactory()
    family.family_access_grant(granted_by=user, email=reader.email, role="read_only")
    client = Client()
    client.force_login(reader)
    response, _ = approve(client, app, READ_OBSERVATIONS, patient=user)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ConnectedApp.objects.exists()


def test_connected_apps_lists_what_each_app_may_read_and_when_it_last_did(signed_in, app):
    token = token_for(signed_in, app, f"{READ_OBSERVATIONS} patient/Goal.rs")
    page = signed_in.get("/settings/apps/").content.decode()
    assert "Pulse Diary" in page and "Read your measurements" in page
    assert "Read your health goals" in page and "Never" in page
    Client().get("/fhir/Observation", **bearer(token))
    page = signed_in.get("/settings/apps/").content.decode()
    assert "Never" not in page
    assert ConnectedApp.objects.get().last_read_at is not None


def test_revoking_stops_the_apps_tokens_on_its_next_request(signed_in, app):
    token = token_for(signed_in, app, f"{READ_OBSERVATIONS} offline_access")
    assert Client().get("/fhir/Observation", **bearer(token)).status_code == 200
    connection = ConnectedApp.objects.get()
    response = signed_in.post(f"/settings/apps/{connection.pk}/revoke/")
    assert response.status_code == 302
    refused = Client().get("/fhir/Observation", **bearer(token))
    assert refused.status_code == 401
    assert refused.json()["resourceType"] == "OperationOutcome"
    refresh = Client().post(
        "/o/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": app.client_id,
        },
    )
    assert refresh.status_code == 400
    assert not AccessToken.objects.exists()
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
    assert "No connected apps" in signed_in.get("/settings/apps/").content.decode()


def test_nobody_else_can_revoke_a_patients_app(signed_in, app, other_user):
    token_for(signed_in, app, READ_OBSERVATIONS)
    connection = ConnectedApp.objects.get()
    stranger = Client()
    stranger.force_login(other_user)
    assert stranger.post(f"/settings/apps/{connection.pk}/revoke/").status_code == 404
    assert ConnectedApp.objects.live().count() == 1


def test_grants_and_revocations_are_in_the_change_log(signed_in, app, user):
    token_for(signed_in, app, READ_OBSERVATIONS)
    connection = ConnectedApp.objects.get()
    signed_in.post(f"/settings/apps/{connection.pk}/revoke/")
    entries = LogEntry.objects.get_for_object(connection).order_by("timestamp", "pk")
    assert [e.action for e in entries] == [LogEntry.Action.CREATE, LogEntry.Action.UPDATE]
    assert all(e.actor_id == user.pk for e in entries)
    assert "revoked_at" in entries[1].changes_dict
    assert token_for.__name__ not in str(entries[1].changes)  # no token in the diff


def test_every_read_by_an_app_shows_in_who_saw_my_data_under_its_name(signed_in, app, user):
    _reading(user)
    token = token_for(signed_in, app, f"{READ_OBSERVATIONS} patient/Patient.rs")
    Client().get("/fhir/Observation", **bearer(token))
    Client().get(f"/fhir/Patient/user-{user.pk}", **bearer(token))
    rows = AccessLog.objects.filter(owner_id=user.pk, via=AccessLog.Via.APP).order_by("pk")
    assert [r.actor_label for r in rows] == ["Pulse Diary (app)"] * 2
    assert [r.endpoint for r in rows] == [
        "GET /fhir/Observation",
        f"GET /fhir/Patient/user-{user.pk}",
    ]
    page = signed_in.get("/settings/access-log/").content.decode()
    assert "Pulse Diary (app)" in page and "Connected app" in page


def test_client_credentials_read_the_clinicians_care_team_patients_only(user, other_user):
    clinician = ClinicianFactory()
    care.care_team_add(clinician=clinician, patient=user)
    _reading(user, value=65)
    _reading(other_user, value=99)
    app = clinic_app(clinician)
    token = clinic_token(Client(), app)
    bundle = Client().get("/fhir/Observation", **bearer(token)).json()
    assert [e["resource"]["subject"]["reference"] for e in bundle["entry"]] == [
        f"Patient/user-{user.pk}"
    ]
    other = Client().get(f"/fhir/Observation?patient=user-{other_user.pk}", **bearer(token))
    assert other.status_code == 404
    row = AccessLog.objects.get(owner_id=user.pk, via=AccessLog.Via.APP)
    assert (row.actor, row.actor_label) == (clinician, "Clinic EHR (app)")


def test_client_credentials_are_refused_to_an_app_not_owned_by_a_clinician(user):
    app = clinic_app(user, name="Not a clinic")
    response = Client().post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "system/Observation.rs"},
        HTTP_AUTHORIZATION="Basic "
        + base64.b64encode(f"{app.client_id}:{CLIENT_SECRET}".encode()).decode(),
    )
    assert response.status_code in (400, 401)
    assert not AccessToken.objects.exists()


def test_discovery_documents_name_the_endpoints_and_scopes(client):
    server = client.get("/.well-known/oauth-authorization-server").json()
    assert server["authorization_endpoint"].endswith("/o/authorize/")
    assert server["token_endpoint"].endswith("/o/token/")
    assert server["code_challenge_methods_supported"] == ["S256"]
    assert "patient/Observation.rs" in server["scopes_supported"]
    smart = client.get("/fhir/.well-known/smart-configuration")
    assert smart.status_code == 200
    body = smart.json()
    assert body["token_endpoint"] == server["token_endpoint"]
    assert "permission-v2" in body["capabilities"] and "client-public" in body["capabilities"]
    assert "offline_access" in body["scopes_supported"]


def test_the_token_endpoint_is_rate_limited_per_client(settings, app):
    settings.RATELIMIT_ENABLE = True
    settings.AUTH_RATE_LIMIT = "2/m"
    data = {"grant_type": "authorization_code", "code": "nope", "client_id": app.client_id}
    statuses = [Client().post("/o/token/", data).status_code for _ in range(3)]
    assert statuses == [400, 400, 429]
    other = public_app(name="Other app")
    fresh = Client().post("/o/token/", {**data, "client_id": other.client_id})
    assert fresh.status_code == 429  # the same address is over its limit too
    refused = Client().post("/o/token/", data)
    assert refused["Retry-After"] == "60" and refused.json()["error"] == "slow_down"


def test_the_daily_job_deletes_expired_tokens_and_keeps_live_ones(user, app):
    from accounts.tasks import prune_oauth_tokens

    live = issued_token(user, app, READ_OBSERVATIONS)
    issued_token(user, public_app(name="Old app"), READ_OBSERVATIONS)
    AccessToken.objects.filter(application__name="Old app").update(
        expires=timezone.now() - timedelta(days=1)
    )
    prune_oauth_tokens.delay()
    prune_oauth_tokens.delay()  # twice: nothing more to do
    assert list(AccessToken.objects.values_list("application__name", flat=True)) == ["Pulse Diary"]
    assert Client().get("/fhir/Observation", **bearer(live)).status_code == 200


def _registration(**fields) -> dict:
    return {
        "name": "Clinic EHR",
        "client_type": "confidential",
        "authorization_grant_type": "client-credentials",
        "redirect_uris": "",
        "allowed_origins": "",
        "client_id": "clinic-ehr",
        "client_secret": "s3cret-s3cret-s3cret",
        "hash_client_secret": "on",
        **fields,
    }


def test_apps_are_registered_in_the_admin_and_a_clinic_back_end_belongs_to_a_clinician(
    client, user
):
    superuser = User.objects.create_superuser("root", "root@example.org", "x")
    client.force_login(superuser)
    url = "/admin/oauth2_provider/application/add/"
    refused = client.post(url, _registration(user=user.pk))
    assert refused.status_code == 200
    assert "A clinic back-end must belong to a clinician." in refused.content.decode()
    clinician = ClinicianFactory()
    public = client.post(url, _registration(user=clinician.pk, client_type="public"))
    assert "Client credentials need a confidential client." in public.content.decode()
    assert not Application.objects.exists()
    created = client.post(url, _registration(user=clinician.pk))
    assert created.status_code == 302, created.content
    app = Application.objects.get()
    assert app.user == clinician and app.skip_authorization is False
    assert app.client_secret != "s3cret-s3cret-s3cret"  # stored hashed
    token = Client().post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "system/Patient.rs"},
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"clinic-ehr:s3cret-s3cret-s3cret").decode(),
    )
    assert token.status_code == 200 and token.json()["scope"] == "system/Patient.rs"
