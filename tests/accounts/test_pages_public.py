"""Public pages: landing, sign up, log in (rate-limited), log out, password reset."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from accounts.models import User
from accounts.services import user_soft_delete
from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

STRONG = "Str0ng-pass!"


def signup_data(**overrides):
    return {
        "username": "newbie",
        "email": "New@Example.org",
        "password1": STRONG,
        "password2": STRONG,
        **overrides,
    }


# --- landing --------------------------------------------------------------------------------


def test_landing_invites_visitors_to_sign_up_or_log_in(client):
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'href="/accounts/signup/"' in body
    assert 'href="/accounts/login/"' in body


def test_landing_sends_signed_in_users_to_their_dashboard(client, user):
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == "/dashboard/"


# --- sign up --------------------------------------------------------------------------------


def test_signup_creates_a_patient_and_says_to_check_the_email(client):
    response = client.post("/accounts/signup/", signup_data(), follow=True)
    assert response.redirect_chain == [("/accounts/signup/sent/", 302)]
    user = User.objects.get(username="newbie")
    assert user.email == "new@example.org"
    assert user.role == User.Role.PATIENT
    assert user.check_password(STRONG)
    assert "Check your e-mail" in response.content.decode()
    assert client.login(username="newbie", password=STRONG)


@pytest.mark.parametrize(
    "password, fragment",
    [
        ("Sh0rt!", "too short"),
        ("alllower-case1", "upper-case"),
        ("NoDigits-here", "digit"),
        ("NoSpecial123", "special"),
    ],
)
def test_signup_applies_the_api_password_rules_and_keeps_the_input(client, password, fragment):
    response = client.post("/accounts/signup/", signup_data(password1=password, password2=password))
    assert response.status_code == 400
    assert fragment in " ".join(response.context["form"].errors["password1"])
    body = response.content.decode()
    assert 'value="newbie"' in body
    assert 'value="New@Example.org"' in body  # as typed
    assert password not in body  # passwords are never sent back
    assert not User.objects.filter(username="newbie").exists()


def test_signup_creates_nothing_for_a_taken_email_in_any_case(client):
    # Answered as a fresh sign-up (tests/accounts/test_enumeration.py).
    UserFactory(email="new@example.org")
    response = client.post("/accounts/signup/", signup_data(email="NEW@example.ORG"))
    assert response.url == "/accounts/signup/sent/"
    assert not User.objects.filter(username="newbie").exists()


def test_signup_creates_nothing_for_a_taken_username(client):
    UserFactory(username="newbie")
    response = client.post("/accounts/signup/", signup_data())
    assert response.url == "/accounts/signup/sent/"
    assert User.objects.filter(username="newbie").count() == 1


def test_signup_rejects_a_password_like_the_username(client):
    data = signup_data(
        username="Carolina-2024", password1="Carolina-2024!", password2="Carolina-2024!"
    )
    response = client.post("/accounts/signup/", data)
    assert "similar" in " ".join(response.context["form"].errors["password1"])


def test_signup_needs_the_same_password_twice(client):
    response = client.post("/accounts/signup/", signup_data(password2="Other-pass-1!"))
    assert "do not match" in " ".join(response.context["form"].errors["password2"])
    assert not User.objects.filter(username="newbie").exists()


def test_signup_sends_signed_in_users_to_the_dashboard(client, user):
    client.force_login(user)
    assert client.get("/accounts/signup/").url == "/dashboard/"


# --- log in ---------------------------------------------------------------------------------


@pytest.mark.parametrize("login", ["carol", "Carol@Example.org"])
def test_login_by_username_or_email(client, login):
    user = UserFactory(username="carol", email="carol@example.org")
    response = client.post("/accounts/login/", {"username": login, "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == "/dashboard/"
    assert int(client.session["_auth_user_id"]) == user.pk


def test_login_goes_back_to_the_page_asked_for(client, user):
    response = client.get("/settings/profile/")
    assert response.url == "/accounts/login/?next=/settings/profile/"
    response = client.post(
        response.url,
        {"username": user.username, "password": PASSWORD, "next": "/settings/profile/"},
    )
    assert response.url == "/settings/profile/"


def test_login_with_a_wrong_password_says_so_and_keeps_the_username(client, user):
    response = client.post("/accounts/login/", {"username": user.username, "password": "nope"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "do not match an account" in body
    assert f'value="{user.username}"' in body
    assert "_auth_user_id" not in client.session


def test_a_deleted_account_cannot_log_in(client, user):
    user_soft_delete(user=user)
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


@pytest.fixture
def limits_on(settings):
    settings.RATELIMIT_ENABLE = True
    settings.AUTH_RATE_LIMIT = "3/m"


def test_login_is_rate_limited_per_ip_with_a_clear_message(client, user, limits_on):
    for n in range(3):
        client.post("/accounts/login/", {"username": f"someone{n}", "password": "nope"})
    # Over the limit even the right password is not checked.
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    body = response.content.decode()
    assert "Too many attempts" in body
    assert f'value="{user.username}"' in body
    assert "_auth_user_id" not in client.session


def test_login_is_rate_limited_per_account_across_ips(client, user, limits_on):
    for n in range(3):
        client.post(
            "/accounts/login/",
            {"username": user.username.upper(), "password": "nope"},
            REMOTE_ADDR=f"10.0.0.{n + 1}",
        )
    response = client.post(
        "/accounts/login/",
        {"username": user.username, "password": PASSWORD},
        REMOTE_ADDR="10.0.0.99",
    )
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_login_page_itself_is_not_counted(client, user, limits_on):
    for _ in range(5):
        assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302


def test_signup_is_rate_limited_per_ip(client, limits_on):
    for n in range(3):
        client.post("/accounts/signup/", signup_data(username=f"u{n}", email=f"u{n}@example.org"))
    response = client.post("/accounts/signup/", signup_data())
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert not User.objects.filter(username="newbie").exists()


# --- log out --------------------------------------------------------------------------------


def test_logout_is_a_post_that_ends_the_session(client, user):
    client.force_login(user)
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/", follow=True)
    assert response.redirect_chain == [("/", 302)]
    assert "You have logged out" in response.content.decode()
    assert "_auth_user_id" not in client.session


# --- password reset -------------------------------------------------------------------------


def test_password_reset_by_email_sets_a_new_password(client, user):
    response = client.post("/accounts/password-reset/", {"email": user.email.upper()})
    assert response.url == "/accounts/password-reset/sent/"
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/password-reset/\S+/\S+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    response = client.get(link.group(1), follow=True)
    form_url = response.redirect_chain[-1][0]
    assert response.context["validlink"]
    new = "An0ther-pass!"
    response = client.post(form_url, {"new_password1": new, "new_password2": new})
    assert response.url == "/accounts/password-reset/complete/"
    user.refresh_from_db()
    assert user.check_password(new)


def test_password_reset_applies_the_password_rules(client, user):
    client.post("/accounts/password-reset/", {"email": user.email})
    link = re.search(r"http://testserver(/accounts/password-reset/\S+/\S+/)", mail.outbox[0].body)
    response = client.get(link.group(1), follow=True)
    form_url = response.redirect_chain[-1][0]
    response = client.post(form_url, {"new_password1": "weakweak", "new_password2": "weakweak"})
    assert response.status_code == 400
    assert response.context["form"].errors["new_password2"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_password_reset_for_an_unknown_email_looks_the_same_and_sends_nothing(client):
    response = client.post("/accounts/password-reset/", {"email": "nobody@example.org"})
    assert response.url == "/accounts/password-reset/sent/"
    assert mail.outbox == []


def test_password_reset_with_a_bad_link_offers_a_new_one(client):
    response = client.get("/accounts/password-reset/MQ/bad-token/")
    assert response.status_code == 200
    assert "no longer works" in response.content.decode()


def test_password_reset_is_rate_limited_per_account(client, user, limits_on):
    for n in range(3):
        client.post(
            "/accounts/password-reset/", {"email": user.email}, REMOTE_ADDR=f"10.0.1.{n + 1}"
        )
    response = client.post(
        "/accounts/password-reset/", {"email": user.email}, REMOTE_ADDR="10.0.1.99"
    )
    assert response.status_code == 429
    assert len(mail.outbox) == 3
