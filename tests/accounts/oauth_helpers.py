"""OAuth apps and the authorization-code flow with PKCE, driven through Django's test client."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlparse

from oauth2_provider.models import Application

REDIRECT_URI = "http://127.0.0.1:8765/callback"
CLIENT_SECRET = "clinic-secret-for-tests-only"


def public_app(name: str = "Pulse Diary", redirect_uri: str = REDIRECT_URI) -> Application:
    return Application.objects.create(
        name=name,
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=redirect_uri,
        client_secret="",
    )


def clinic_app(owner, name: str = "Clinic EHR") -> Application:
    return Application.objects.create(
        name=name,
        user=owner,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret=CLIENT_SECRET,
    )


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def authorize_url(app: Application, scope: str, challenge: str, state: str = "st4te") -> str:
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uris.split()[0],
        "scope": scope,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return "/o/authorize/?" + urlencode(query)


def approve(client, app: Application, scope: str, *, patient=None, allow: bool = True):
    """The signed-in user answers the consent page; returns (response, code verifier)."""
    verifier, challenge = pkce_pair()
    url = authorize_url(app, scope, challenge)
    page = client.get(url)
    assert page.status_code == 200, page.content
    form = page.context["form"]
    data = {name: form[name].value() or "" for name in form.fields if name != "allow"}
    if patient is not None:
        data["patient"] = patient.pk
    if allow:
        data["allow"] = "Allow"
    return client.post(url, data), verifier


def code_from(response) -> str:
    assert response.status_code == 302, response.content
    query = parse_qs(urlparse(response["Location"]).query)
    assert query["state"] == ["st4te"]
    return query["code"][0]


def exchange(client, app: Application, code: str, verifier: str):
    return client.post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": app.redirect_uris.split()[0],
            "client_id": app.client_id,
            "code_verifier": verifier,
        },
    )


def token_for(client, app: Application, scope: str, *, patient=None) -> dict:
    """Consent (by the signed-in user), then the token response as JSON."""
    response, verifier = approve(client, app, scope, patient=patient)
    token = exchange(client, app, code_from(response), verifier)
    assert token.status_code == 200, token.content
    return token.json()


def clinic_token(client, app: Application, scope: str = "system/Observation.rs") -> dict:
    """A client-credentials token for a clinic back-end (`client` None: a fresh one)."""
    from django.test import Client

    response = (client or Client()).post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": scope},
        HTTP_AUTHORIZATION="Basic "
        + base64.b64encode(f"{app.client_id}:{CLIENT_SECRET}".encode()).decode(),
    )
    assert response.status_code == 200, response.content
    return response.json()


def bearer(token: dict | str) -> dict[str, str]:
    raw = token if isinstance(token, str) else token["access_token"]
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def issued_token(patient, app: Application, scope: str) -> str:
    """A live token for `patient` as if they had approved `app` for `scope` (no browser)."""
    from datetime import timedelta

    from django.utils import timezone
    from oauth2_provider.models import AccessToken, set_token_value

    from accounts import oauth

    oauth.app_connection_approve(
        application=app, patient=patient, approved_by=patient, scopes=scope.split()
    )
    raw = secrets.token_urlsafe(30)
    token = AccessToken(
        user=patient, application=app, expires=timezone.now() + timedelta(hours=1), scope=scope
    )
    set_token_value(token, raw)  # stored as its checksum only (settings: TOKEN_STORAGE)
    token.save()
    return raw
