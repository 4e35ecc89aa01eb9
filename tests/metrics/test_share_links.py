"""Share links: the read-only page `/share/<token>` and the API view `/api/v1/share/<token>`
show exactly the grant's scope to whoever has the link and the code, and nothing once the
link has expired or was revoked; wrong codes get a clear message and are rate-limited per IP
and per link; each use is logged without the token."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts import sharing
from accounts.models import AccessLog
from metrics import services
from tests.accounts.factories import UserFactory
from tests.healthtrack.roles import expire

pytestmark = pytest.mark.django_db


def today():
    return timezone.now().astimezone(UTC).date()


def at(day, hour=9):
    return datetime.combine(day, time(hour), tzinfo=UTC)


@pytest.fixture
def patient(db):
    person = UserFactory(first_name="Pia", last_name="Privatename", email="pia@example.org")
    d = today()
    # In scope: steps on three days of the window (two samples on one of them).
    services.metric_create(user=person, metric_type="steps", value=1111, recorded_at=at(d))
    services.metric_create(
        user=person, metric_type="steps", value=2222, recorded_at=at(d - timedelta(days=2))
    )
    services.metric_create(
        user=person, metric_type="steps", value=3333, recorded_at=at(d - timedelta(days=2), 15)
    )
    # Out of scope: steps before the window, another type inside it.
    services.metric_create(
        user=person, metric_type="steps", value=9876, recorded_at=at(d - timedelta(days=20))
    )
    services.metric_create(user=person, metric_type="weight", value=87.6, recorded_at=at(d))
    return person


@pytest.fixture
def link(patient):
    return sharing.share_grant_create(
        owner=patient,
        metric_types=["steps", "resting_heart_rate"],
        date_from=today() - timedelta(days=6),
        date_to=today(),
        label="For Dr Who",
    )


@pytest.fixture
def limits_on(settings, monkeypatch):
    """Rate limits on, all attempts in one window: django-ratelimit's windows are fixed per
    key, so a test crossing a window boundary would otherwise see its count reset."""
    settings.RATELIMIT_ENABLE = True
    settings.SHARE_RATE_LIMIT = "3/m"
    monkeypatch.setattr("django_ratelimit.core._get_window", lambda value, period: 4_102_444_800)


def page(link) -> str:
    return link.link_path


def api(link) -> str:
    return f"/api/v1/share/{link.token}"


# --- the page ---------------------------------------------------------------------------


def test_link_page_asks_for_the_code_with_a_csrf_protected_form(client, link):
    response = client.get(page(link))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="code"' in body and "csrfmiddlewaretoken" in body
    assert "1111" not in body and "Privatename" not in body
    assert "no-store" in response["Cache-Control"]
    # The token in the URL is never sent to another site.
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Robots-Tag"] == "noindex, nofollow"


def test_link_page_refuses_a_post_without_the_csrf_token(link):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(page(link), {"code": link.code}).status_code == 403
    assert not AccessLog.objects.exists()


def test_right_code_shows_exactly_the_grants_scope(client, link, patient):
    response = client.post(page(link), {"code": link.code.lower()})
    assert response.status_code == 200
    body = response.content.decode()
    # The shared type's daily values in the window: a table and a chart.
    assert "Steps" in body and "<svg" in body and "<table" in body
    assert "1,111" in body and "5,555" in body  # 2222 + 3333 on one day
    assert "Resting heart rate" in body and "No data in this period" in body
    # Nothing else: not the day before the window, not other types, not who the patient is.
    for absent in ["9,876", "9876", "Weight", "87.6", "Privatename", "pia@example.org"]:
        assert absent not in body, absent
    assert not re.search(r"<script(?![^>]*\bsrc=)", body) and " style=" not in body
    assert "no-store" in response["Cache-Control"]


def test_each_use_is_logged_without_the_token(client, link, patient):
    client.post(page(link), {"code": link.code}, HTTP_X_REQUEST_ID="share-req-1")
    row = AccessLog.objects.get()
    assert (row.owner_id, row.via, row.share_grant_id) == (patient.pk, "share_link", link.grant.pk)
    assert row.actor is None and row.actor_label == "share link"
    assert link.token not in row.endpoint and row.request_id == "share-req-1"
    client.post(page(link), {"code": link.code})
    assert AccessLog.objects.count() == 2


def test_wrong_code_gets_a_clear_message_and_no_data(client, link):
    response = client.post(page(link), {"code": "WRONGCODE1"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "That access code is not right" in body and "1,111" not in body
    assert client.post(page(link), {"code": ""}).status_code == 400
    assert not AccessLog.objects.exists()


@pytest.mark.parametrize("end", ["expired", "revoked", "unknown"])
def test_expired_revoked_or_unknown_link_is_a_404_page(client, link, end):
    url = page(link)
    if end == "expired":
        expire(link.grant)
    elif end == "revoked":
        sharing.share_grant_revoke(grant=link.grant)
    else:
        url = sharing.SHARE_LINK_PATH.format(token="x" * 43)
    for response in (client.get(url), client.post(url, {"code": link.code})):
        assert response.status_code == 404
        body = response.content.decode()
        assert "not available" in body and "1,111" not in body
    assert not AccessLog.objects.exists()


def test_code_attempts_are_rate_limited_per_ip(client, link, limits_on, patient):
    other = sharing.share_grant_create(
        owner=patient, metric_types=["steps"], date_from=today(), date_to=today()
    )
    for _ in range(3):
        client.post(page(link), {"code": "WRONGCODE1"})
    # The same address is refused even on another link, even with the right code.
    refused = client.post(page(other), {"code": other.code})
    assert refused.status_code == 429 and refused["Retry-After"] == "60"
    assert "Too many attempts" in refused.content.decode()
    assert "1,111" not in refused.content.decode()


def test_code_attempts_are_rate_limited_per_link(client, link, limits_on):
    for n in range(3):
        client.post(page(link), {"code": "WRONGCODE1"}, REMOTE_ADDR=f"10.0.0.{n}")
    refused = client.post(page(link), {"code": link.code}, REMOTE_ADDR="10.0.0.99")
    assert refused.status_code == 429
    # Only attempts count: the form itself still opens.
    assert client.get(page(link), REMOTE_ADDR="10.0.0.100").status_code == 200


# --- the API view ---------------------------------------------------------------------------


def test_api_returns_the_scope_as_json_with_the_code_in_a_header(api_client, link, patient):
    response = api_client.get(api(link), HTTP_X_SHARE_CODE=link.code)
    assert response.status_code == 200
    data = response.json()
    assert data["label"] == "For Dr Who"
    assert [m["metric_type"] for m in data["metrics"]] == ["steps", "resting_heart_rate"]
    steps = data["metrics"][0]
    assert [(d["date"], d["value"]) for d in steps["days"]] == [
        ((today() - timedelta(days=2)).isoformat(), 5555.0),
        (today().isoformat(), 1111.0),
    ]
    assert steps["days"][0]["count"] == 2
    assert data["metrics"][1]["days"] == []
    assert "9876" not in response.content.decode() and "weight" not in response.content.decode()
    assert "Privatename" not in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    row = AccessLog.objects.get()
    assert row.via == "share_link" and link.token not in row.endpoint


def test_api_accepts_the_code_as_a_query_parameter(api_client, link):
    assert api_client.get(api(link), {"code": link.code}).status_code == 200


def test_api_without_a_code_is_400_and_with_a_wrong_one_403(api_client, link):
    assert api_client.get(api(link)).json() == {
        "code": ["Give the access code in the X-Share-Code header."]
    }
    wrong = api_client.get(api(link), HTTP_X_SHARE_CODE="WRONGCODE1")
    assert wrong.status_code == 403 and wrong.json() == {"detail": "Wrong access code."}
    assert not AccessLog.objects.exists()


@pytest.mark.parametrize("end", ["expired", "revoked", "unknown"])
def test_api_gives_nothing_for_an_expired_revoked_or_unknown_link(api_client, link, end):
    url = api(link)
    if end == "expired":
        expire(link.grant)
    elif end == "revoked":
        sharing.share_grant_revoke(grant=link.grant)
    else:
        url = f"/api/v1/share/{'y' * 43}"
    response = api_client.get(url, HTTP_X_SHARE_CODE=link.code)
    assert response.status_code == 404 and "metrics" not in response.json()
    assert not AccessLog.objects.exists()


def test_api_is_rate_limited_per_link(api_client, link, limits_on):
    for n in range(3):
        api_client.get(api(link), HTTP_X_SHARE_CODE="WRONGCODE1", REMOTE_ADDR=f"10.1.0.{n}")
    refused = api_client.get(api(link), HTTP_X_SHARE_CODE=link.code, REMOTE_ADDR="10.1.0.9")
    assert refused.status_code == 429 and refused["Retry-After"] == "60"


def test_a_logged_in_user_gets_no_more_than_the_link_gives(client, link, patient):
    # The link's scope, whoever opens it: even the owner's session does not widen it.
    client.force_login(patient)
    body = client.post(page(link), {"code": link.code}).content.decode()
    assert "1,111" in body and "9,876" not in body and "Weight" not in body
