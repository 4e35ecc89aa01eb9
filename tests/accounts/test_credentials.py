"""Credential changes that really revoke (issue 19, point 2): a password change or reset ends
every refresh token, personal API token and other session of the user, and says so by e-mail;
access tokens are checked against the revocation list on every request; a reused refresh token
revokes its whole family."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.api_tokens import api_token_create
from accounts.models import RevokedToken, User
from accounts.services import user_soft_delete
from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
REVOKE = "/api/v1/auth/token/revoke/"
ME = "/api/v1/users/me"
NEW = "An0ther-pass!"


@pytest.fixture
def carol(db):
    return UserFactory(username="carol", email="carol@example.org")


def pair(login: str = "carol", password: str = PASSWORD) -> dict:
    response = APIClient().post(TOKEN, {"username": login, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def with_token(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def refresh(token: str):
    return APIClient().post(REFRESH, {"refresh": token}, format="json")


def reset_password(client: Client, user: User, new: str, capture) -> None:
    """The reset through the e-mailed link, as a person does it."""
    with capture(execute=True):
        client.post("/accounts/password-reset/", {"email": user.email})
    link = re.search(r"http://testserver(/accounts/password-reset/\S+/\S+/)", mail.outbox[-1].body)
    form_url = client.get(link.group(1), follow=True).redirect_chain[-1][0]
    with capture(execute=True):
        response = client.post(form_url, {"new_password1": new, "new_password2": new})
    assert response.url == "/accounts/password-reset/complete/"


def test_a_password_reset_ends_every_old_credential(carol, django_capture_on_commit_callbacks):
    tokens = pair()
    _, raw = api_token_create(user=carol, name="scale")
    other_session = Client()
    other_session.force_login(carol)
    assert bearer(tokens["access"]).get(ME).status_code == 200
    assert with_token(raw).get(ME).status_code == 200

    reset_password(Client(), carol, NEW, django_capture_on_commit_callbacks)

    assert refresh(tokens["refresh"]).status_code == 401  # no new pair
    assert bearer(tokens["access"]).get(ME).status_code == 401  # on the very next request
    assert with_token(raw).get(ME).status_code == 401
    assert other_session.get("/dashboard/").status_code == 302  # sent to log in
    assert bearer(pair(password=NEW)["access"]).get(ME).status_code == 200
    notice = mail.outbox[-1]
    assert notice.to == ["carol@example.org"] and "account was reset on" in notice.body
    assert NEW not in notice.body and PASSWORD not in notice.body


def test_the_password_change_page_checks_the_old_password(carol, client):
    client.force_login(carol)
    response = client.post(
        "/settings/password/",
        {"old_password": "Not-mine-1!", "new_password1": NEW, "new_password2": NEW},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["old_password"]
    carol.refresh_from_db()
    assert carol.check_password(PASSWORD)


def test_a_password_change_keeps_this_session_and_ends_every_other_credential(
    carol, client, django_capture_on_commit_callbacks
):
    tokens = pair()
    _, raw = api_token_create(user=carol, name="scale")
    other_session = Client()
    other_session.force_login(carol)
    client.force_login(carol)
    assert client.get("/settings/password/").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/settings/password/",
            {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW},
        )

    assert response.status_code == 302
    assert client.get("/dashboard/").status_code == 200  # this session goes on
    assert other_session.get("/dashboard/").status_code == 302
    assert refresh(tokens["refresh"]).status_code == 401
    assert bearer(tokens["access"]).get(ME).status_code == 401
    assert with_token(raw).get(ME).status_code == 401
    assert [m.to for m in mail.outbox] == [["carol@example.org"]]
    assert "account was changed on" in mail.outbox[0].body
    carol.refresh_from_db()
    assert carol.check_password(NEW)


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(carol):
    first = pair()
    rotated = refresh(first["refresh"]).json()
    other_login = pair()  # another device: its own family
    assert bearer(rotated["access"]).get(ME).status_code == 200

    assert refresh(first["refresh"]).status_code == 401  # reuse: someone kept the old one

    assert bearer(rotated["access"]).get(ME).status_code == 401
    assert refresh(rotated["refresh"]).status_code == 401
    assert bearer(first["access"]).get(ME).status_code == 401
    assert bearer(other_login["access"]).get(ME).status_code == 200
    assert refresh(other_login["refresh"]).status_code == 200


def test_revoking_a_refresh_token_ends_its_access_tokens_on_the_next_request(carol):
    tokens = pair()
    assert bearer(tokens["access"]).get(ME).status_code == 200
    assert (
        APIClient().post(REVOKE, {"refresh": tokens["refresh"]}, format="json").status_code == 205
    )
    assert bearer(tokens["access"]).get(ME).status_code == 401
    assert refresh(tokens["refresh"]).status_code == 401


def test_deletion_and_deactivation_apply_on_the_next_request(carol):
    dave = UserFactory(username="dave")
    carols = bearer(pair()["access"])
    daves = bearer(pair("dave")["access"])
    assert carols.get(ME).status_code == daves.get(ME).status_code == 200
    user_soft_delete(user=carol)
    dave.is_active = False  # an administrator locks the account
    dave.save()
    assert carols.get(ME).status_code == 401
    assert daves.get(ME).status_code == 401


def test_the_revocation_list_rides_in_the_cached_user_row(carol, settings):
    settings.AUTH_USER_CACHE_SECONDS = 30
    client = bearer(pair()["access"])
    assert client.get(ME).status_code == 200  # fills the cache
    with CaptureQueriesContext(connection) as queries:
        assert client.get(ME).status_code == 200
    tables = " ".join(q["sql"] for q in queries)
    assert "accounts_revokedtoken" not in tables and "accounts_user" not in tables


def test_revocation_holds_without_the_cache(carol, settings):
    """The database answers when the cache cannot (Redis down is a cache miss here)."""
    settings.AUTH_USER_CACHE_SECONDS = 0
    tokens = pair()
    client = bearer(tokens["access"])
    assert client.get(ME).status_code == 200
    APIClient().post(REVOKE, {"refresh": tokens["refresh"]}, format="json")
    assert client.get(ME).status_code == 401


def test_a_password_set_by_an_administrator_ends_every_old_credential(
    carol, client, django_capture_on_commit_callbacks
):
    tokens = pair()
    _, raw = api_token_create(user=carol, name="scale")
    client.force_login(UserFactory(is_staff=True, is_superuser=True, role=User.Role.ADMIN))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/accounts/user/{carol.pk}/password/",
            {"password1": NEW, "password2": NEW, "usable_password": "true"},
        )
    assert response.status_code == 302
    assert bearer(tokens["access"]).get(ME).status_code == 401
    assert with_token(raw).get(ME).status_code == 401
    assert refresh(tokens["refresh"]).status_code == 401
    assert "set by an administrator" in mail.outbox[-1].body


def test_revocations_that_ran_out_are_dropped_with_the_next_one(carol):
    APIClient().post(REVOKE, {"refresh": pair()["refresh"]}, format="json")
    assert RevokedToken.objects.filter(user=carol).count() == 1
    RevokedToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    APIClient().post(REVOKE, {"refresh": pair()["refresh"]}, format="json")
    assert RevokedToken.objects.filter(user=carol).count() == 1
