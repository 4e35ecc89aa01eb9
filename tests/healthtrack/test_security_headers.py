"""Content-Security-Policy and the other security headers (healthtrack.security)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from accounts.api_tokens import api_token_create

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


@pytest.mark.parametrize("url", ["/", "/accounts/login/", "/no-such-page/", "/api/v1/users/me"])
def test_every_response_carries_a_strict_policy(client, url):
    policy = directives(client.get(url)["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["base-uri"] == ["'self'"]


def test_signed_in_pages_carry_the_policy_too(client, user):
    client.force_login(user)
    for url in ["/dashboard/", "/settings/profile/", "/settings/tokens/", "/settings/delete/"]:
        policy = directives(client.get(url)["Content-Security-Policy"])
        assert "'unsafe-inline'" not in policy["script-src"], url
        assert "'unsafe-eval'" not in policy["script-src"], url


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_api_docs_load_only_our_own_scripts_and_no_inline_script(client, user, url):
    client.force_login(user)
    response = client.get(url)
    policy = directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    body = response.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), "inline script on " + url


def test_swagger_start_up_script_is_served_from_our_origin(client, user):
    client.force_login(user)
    response = client.get("/api/docs/?script=")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in response.content.decode()


def test_the_other_security_headers(client):
    response = client.get("/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]


def test_templates_hold_no_inline_script_style_or_handler():
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text):
            offenders.append(f"{path.name}: inline <script>")
        if re.search(r"\sstyle\s*=", text) or "<style" in text:
            offenders.append(f"{path.name}: inline style")
        if re.search(r"\son[a-z]+\s*=", text):
            offenders.append(f"{path.name}: inline event handler")
    assert offenders == []


def test_rendered_pages_hold_no_inline_script_or_style(client, user):
    client.force_login(user)
    api_token_create(user=user, name="App")
    pages = [
        client.get("/dashboard/"),
        client.get("/settings/profile/"),
        client.post("/settings/tokens/", {"name": "New"}, follow=True),
        client.get("/settings/delete/"),
    ]
    client.logout()
    pages += [client.get(u) for u in ["/", "/accounts/login/", "/accounts/signup/", "/nope/"]]
    for response in pages:
        body = response.content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body)
        assert not re.search(r"\sstyle\s*=", body)
        assert not re.search(r"\son[a-z]+\s*=\s*\"", body)


def test_forms_are_refused_without_the_csrf_token(user):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post("/accounts/login/", {"username": user.username, "password": "x"})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()
    browser.force_login(user)
    response = browser.post("/settings/tokens/", {"name": "x"})
    assert response.status_code == 403


def test_public_forms_carry_a_csrf_token(client):
    for url in ["/accounts/login/", "/accounts/signup/", "/accounts/password-reset/"]:
        body = client.get(url).content.decode()
        assert 'name="csrfmiddlewaretoken"' in body, url
