"""A third-party public client connects through OAuth2 with PKCE in a real browser: the patient
logs in and approves on the consent page, the app exchanges the code for a token and searches
FHIR Observations, the patient disconnects it in Settings, and the app's next request is 401."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone
from fhir.resources.bundle import Bundle
from playwright.sync_api import expect

from accounts.models import AccessLog, ConnectedApp
from metrics import services as metric_services
from tests.accounts.factories import PASSWORD, UserFactory
from tests.accounts.oauth_helpers import authorize_url, pkce_pair, public_app
from tests.browser.conftest import requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium, pytest.mark.django_db(transaction=True)]

CALLBACK = "http://127.0.0.1:9/callback"  # the app's; the test answers it in the browser
SCOPE = "patient/Observation.rs offline_access"


def test_public_client_pkce_consent_token_fhir_search_revoke_then_401(
    desktop, browser, live_server
):
    patient = UserFactory(username="olive", first_name="Olive")
    for hours, value in ((3, 64), (2, 70)):
        metric_services.metric_create(
            user=patient,
            metric_type="heart_rate",
            value=value,
            recorded_at=timezone.now() - timedelta(hours=hours),
        )
    app = public_app(name="Pulse Diary", redirect_uri=CALLBACK)
    verifier, challenge = pkce_pair()
    tab = desktop.tab
    callbacks: list[str] = []

    def answer_callback(route):
        callbacks.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<h1>Pulse Diary</h1>")

    tab.route(re.compile(r"^http://127\.0\.0\.1:9/callback"), answer_callback)

    # The app sends the patient to the authorization endpoint: log in first, then consent.
    tab.goto(authorize_url(app, SCOPE, challenge))
    expect(tab).to_have_url(re.compile(r"/accounts/login/"))
    tab.get_by_label("Username or e-mail").fill("olive")
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Log in").click()

    expect(tab.get_by_role("heading", level=1)).to_have_text("Connect “Pulse Diary”?")
    scopes = tab.locator("#consent-scopes")
    expect(scopes).to_contain_text("Read your measurements")
    expect(scopes).to_contain_text("Stay connected when you are not using the app")
    expect(tab.locator("#consent-expiry")).to_contain_text("lasts 1 hour")
    assert desktop.fits_the_screen()
    desktop.screenshot("oauth-consent")
    tab.get_by_role("button", name="Allow").click()

    # The browser lands on the app's callback with the code and the state.
    expect(tab.get_by_role("heading", level=1)).to_have_text("Pulse Diary")
    [callback] = callbacks
    query = parse_qs(urlparse(callback).query)
    assert query["state"] == ["st4te"]

    # The app (not the browser) exchanges the code with its PKCE verifier.
    api = browser.playwright.request.new_context(base_url=live_server.url)
    token = api.post(
        "/o/token/",
        form={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": CALLBACK,
            "client_id": app.client_id,
            "code_verifier": verifier,
        },
    )
    assert token.status == 200, token.text()
    body = token.json()
    assert body["patient"] == f"user-{patient.pk}" and body["refresh_token"]
    bearer = {"Authorization": f"Bearer {body['access_token']}"}

    search = api.get("/fhir/Observation?code=8867-4&_count=1", headers=bearer)
    assert search.status == 200
    assert search.headers["content-type"] == "application/fhir+json"
    bundle = search.json()
    Bundle.parse_obj(bundle)
    assert [e["resource"]["valueQuantity"]["value"] for e in bundle["entry"]] == [64.0]
    next_url = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
    second = api.get(next_url, headers=bearer).json()
    assert [e["resource"]["valueQuantity"]["value"] for e in second["entry"]] == [70.0]

    # The patient sees the app and its reads, and disconnects it with one click.
    tab.goto("/settings/apps/")
    row = tab.get_by_role("row", name=re.compile("Pulse Diary"))
    expect(row).to_contain_text("Read your measurements")
    expect(row).not_to_contain_text("Never")
    desktop.screenshot("oauth-connected-apps")
    row.get_by_role("button", name=re.compile("Disconnect")).click()
    expect(tab.get_by_text("“Pulse Diary” is disconnected")).to_be_visible()
    expect(tab.get_by_text("No connected apps")).to_be_visible()

    refused = api.get("/fhir/Observation", headers=bearer)
    assert refused.status == 401
    assert refused.json()["resourceType"] == "OperationOutcome"
    api.dispose()

    tab.goto("/settings/access-log/")
    expect(tab.get_by_role("cell", name="Pulse Diary (app)").first).to_be_visible()
    assert AccessLog.objects.filter(owner_id=patient.pk, via="app").count() == 2
    assert ConnectedApp.objects.get().revoked_at is not None
    assert desktop.problems == []


def test_denying_on_a_phone_sends_the_patient_back_to_the_app_with_nothing_shared(phone):
    UserFactory(username="dora")
    app = public_app(name="Step Counter Pro", redirect_uri=CALLBACK)
    tab = phone.tab
    callbacks: list[str] = []

    def answer_callback(route):
        callbacks.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<h1>Step Counter Pro</h1>")

    tab.route(re.compile(r"^http://127\.0\.0\.1:9/callback"), answer_callback)
    tab.goto(authorize_url(app, "patient/Observation.rs patient/Goal.rs", pkce_pair()[1]))
    tab.get_by_label("Username or e-mail").fill("dora")
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Log in").click()

    expect(tab.locator("#consent-scopes")).to_contain_text("Read your health goals")
    expect(tab.locator("#consent-expiry")).to_contain_text("the app must ask you again")
    assert phone.fits_the_screen()
    phone.screenshot("oauth-consent")
    tab.get_by_role("button", name="Deny").click()

    expect(tab.get_by_role("heading", level=1)).to_have_text("Step Counter Pro")
    [callback] = callbacks
    assert parse_qs(urlparse(callback).query)["error"] == ["access_denied"]
    assert not ConnectedApp.objects.exists()
    assert phone.problems == []
