"""Token API calls skip the browser's middleware (healthtrack/apistack.py) and keep every
guarantee: the JWT checked, reads by others audited, writes audited, security headers; every
other request still runs sessions, CSRF and the rest."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import AccessLog
from metrics.models import HealthMetric
from tests.accounts.factories import PASSWORD
from tests.metrics.factories import HealthMetricFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/health-metrics"
READING = {"metric_type": "heart_rate", "value": 61, "recorded_at": "2026-03-02T08:00:00Z"}


def bearer(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {AccessToken.for_user(user)}"}


def test_a_bearer_call_gets_no_session_but_every_security_header(client, user):
    HealthMetricFactory(user=user)
    response = client.get(URL, **bearer(user))
    assert response.status_code == 200 and len(response.json()["results"]) == 1
    assert not response.cookies  # no session or CSRF cookie was made for it
    assert "Cookie" not in response.get("Vary", "")
    for header in (
        "Content-Security-Policy",
        "Permissions-Policy",
        "X-Frame-Options",
        "X-Content-Type-Options",
        "Referrer-Policy",
    ):
        assert header in response.headers, header


def test_a_bearer_call_with_a_bad_token_is_refused_even_with_a_session(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    response = client.get(URL, HTTP_AUTHORIZATION="Bearer not-a-jwt")
    assert response.status_code == 401


def test_a_bearer_write_needs_no_csrf_token_and_is_audited(user):
    client = Client(enforce_csrf_checks=True)
    response = client.post(URL, READING, content_type="application/json", **bearer(user))
    assert response.status_code == 201
    metric = HealthMetric.objects.get()
    entry = LogEntry.objects.get_for_object(metric).get()
    assert entry.actor == user


def test_a_clinicians_bearer_read_of_a_patient_is_audited(client, clinician, user, care_team):
    HealthMetricFactory(user=user)
    response = client.get(f"{URL}/user/{user.pk}", **bearer(clinician))
    assert response.status_code == 200 and len(response.json()["results"]) == 1
    row = AccessLog.objects.get()
    assert (row.actor, row.owner_id, row.via) == (clinician, user.pk, AccessLog.Via.CARE_TEAM)


def test_an_outsiders_bearer_read_is_404(client, other_user, user):
    HealthMetricFactory(user=user)
    assert client.get(f"{URL}/user/{user.pk}", **bearer(other_user)).status_code == 404


def test_a_session_write_without_csrf_token_is_still_refused(user):
    client = Client(enforce_csrf_checks=True)
    assert client.login(username=user.username, password=PASSWORD)
    response = client.post(URL, READING, content_type="application/json")
    assert response.status_code == 403
    assert not HealthMetric.objects.exists()


def test_pages_still_run_sessions_and_csrf_with_a_bearer_header(user):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/", **bearer(user))
    assert page.status_code == 200 and "csrftoken" in page.cookies
    refused = client.post(
        "/accounts/login/", {"username": user.username, "password": PASSWORD}, **bearer(user)
    )
    assert refused.status_code == 403


def test_the_liveness_probe_skips_sessions_and_users_but_keeps_its_id_and_headers(client, user):
    client.force_login(user)  # a browser's session cookie comes along
    response = client.get("/health", HTTP_X_REQUEST_ID="probe-000001")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert response["X-Request-ID"] == "probe-000001"
    request = response.wsgi_request
    assert not hasattr(request, "session") and not request.user.is_authenticated
    assert not response.cookies
    for header in (
        "Content-Security-Policy",
        "Permissions-Policy",
        "X-Frame-Options",
        "X-Content-Type-Options",
        "Referrer-Policy",
    ):
        assert header in response.headers, header


def test_pages_next_to_the_probe_still_get_the_session(client, user):
    client.force_login(user)
    response = client.get("/ready")
    assert response.wsgi_request.user == user


class Marking:
    """A middleware that marks the responses it saw."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response["X-Marked"] = "yes"
        return response


def test_a_bearer_call_jumps_over_the_browser_block_and_a_page_runs_it(user, monkeypatch):
    from django.middleware.csrf import CsrfViewMiddleware

    seen = []
    original = CsrfViewMiddleware.process_request

    def recording(self, request):
        seen.append(request.path)
        return original(self, request)

    monkeypatch.setattr(CsrfViewMiddleware, "process_request", recording)
    client = Client()
    assert client.get(URL, **bearer(user)).status_code == 200
    assert seen == []
    assert client.get("/accounts/login/").status_code == 200
    assert seen and set(seen) == {"/accounts/login/"}  # (its view runs it once more itself)


def test_a_middleware_put_inside_the_browser_block_still_runs_for_bearer_calls(user, settings):
    names = list(settings.MIDDLEWARE)
    names.insert(names.index("healthtrack.apistack.CommonMiddleware"), f"{__name__}.Marking")
    settings.MIDDLEWARE = names
    response = Client().get(URL, **bearer(user))
    assert response.status_code == 200 and response["X-Marked"] == "yes"
    assert not response.cookies
