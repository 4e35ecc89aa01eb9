"""The 404, 403 and 500 pages say what happened and where to go."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.views import defaults

pytestmark = pytest.mark.django_db


def test_404_page_offers_a_way_back(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "We cannot find that page" in body
    assert 'href="/accounts/login/"' in body


def test_404_page_for_a_signed_in_user_leads_to_the_dashboard(client, user):
    client.force_login(user)
    body = client.get("/no-such-page/").content.decode()
    assert 'href="/dashboard/"' in body
    assert "Log out" in body


def test_403_page(rf: RequestFactory, user):
    request = rf.get("/x")
    request.user = user
    response = defaults.permission_denied(request, PermissionDenied())
    assert response.status_code == 403
    assert "You cannot open this page" in response.content.decode()


def test_500_page_renders_without_a_request_context(rf: RequestFactory):
    response = defaults.server_error(rf.get("/x"))
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on our side" in body
    assert "/static/css/app.css" in body


def test_favicon_ico_leads_to_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response.url == "/static/img/favicon.svg"
