"""Registration, password reset and lock-out answer the same whether or not an account exists
(issue 19, point 5). The e-mail goes to the address given: an existing account's owner hears
that someone tried to register with it."""

from __future__ import annotations

import pytest
from django.core import mail

from accounts.models import User
from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


REGISTER = "/api/v1/users/register"
TOKEN = "/api/v1/auth/token/"
STRONG = "Str0ng-pass!"


@pytest.fixture
def register(api_client, django_capture_on_commit_callbacks):
    """POST a registration; the e-mails leave when its transaction commits (accounts.notices)."""

    def send(**data):
        body = {"username": "newbie", "email": "new@example.org", "password": STRONG, **data}
        with django_capture_on_commit_callbacks(execute=True):
            return api_client.post(REGISTER, body, format="json")

    return send


def test_registration_answers_the_same_for_a_taken_email_and_mails_its_owner(register):
    fresh = register(username="fresh", email="fresh@example.org")
    UserFactory(username="owner", email="taken@example.org")
    mail.outbox.clear()

    taken = register(username="someone", email="Taken@Example.org")

    assert (taken.status_code, taken.json()) == (fresh.status_code, fresh.json())
    assert not User.objects.filter(username="someone").exists()
    assert [m.to for m in mail.outbox] == [["taken@example.org"]]
    assert "already has a HealthTrack account" in mail.outbox[0].body
    assert STRONG not in mail.outbox[0].body


def test_registration_answers_the_same_for_a_taken_username_and_mails_the_new_address(register):
    fresh = register(username="fresh", email="fresh@example.org")
    UserFactory(username="owner", email="owner@example.org")
    mail.outbox.clear()

    taken = register(username="OWNER", email="new@example.org")

    assert (taken.status_code, taken.json()) == (fresh.status_code, fresh.json())
    assert not User.objects.filter(email="new@example.org").exists()
    assert [m.to for m in mail.outbox] == [["new@example.org"]]
    assert "username" in mail.outbox[0].body and "taken" in mail.outbox[0].body


def test_a_new_registration_creates_the_account_and_mails_it(register):
    response = register()
    assert response.status_code == 202
    user = User.objects.get(username="newbie")
    assert user.check_password(STRONG)
    assert [m.to for m in mail.outbox] == [["new@example.org"]]
    assert "password" not in response.json()


def test_the_signup_page_answers_the_same_for_a_taken_email(client):
    data = {"username": "fresh", "email": "fresh@example.org", "password1": STRONG}
    fresh = client.post("/accounts/signup/", {**data, "password2": STRONG})
    client.logout()
    UserFactory(username="owner", email="taken@example.org")
    taken_data = {"username": "someone", "email": "taken@example.org", "password1": STRONG}
    taken = client.post("/accounts/signup/", {**taken_data, "password2": STRONG})
    assert fresh.status_code == taken.status_code == 302
    assert fresh.url == taken.url == "/accounts/signup/sent/"
    assert not User.objects.filter(username="someone").exists()


def fail(client, login: str, times: int) -> list:
    return [
        client.post(TOKEN, {"username": login, "password": "Wrong-pass-1!"}, format="json")
        for _ in range(times)
    ]


def test_lock_out_looks_the_same_for_an_unknown_username(api_client):
    UserFactory(username="carol")
    real = fail(api_client, "carol", 6)
    unknown = fail(api_client, "nobody-here", 6)
    assert [r.status_code for r in real] == [r.status_code for r in unknown]
    assert [r.status_code for r in unknown] == [401, 401, 401, 401, 429, 429]
    assert real[-1].json() == unknown[-1].json()
    assert abs(int(real[-1]["Retry-After"]) - int(unknown[-1]["Retry-After"])) <= 1


def test_an_unknown_login_in_another_case_shares_its_count(api_client):
    fail(api_client, "Nobody-Here", 4)
    assert fail(api_client, "nobody-here", 1)[0].status_code == 429


def test_password_reset_answers_the_same_for_an_unknown_address(client):
    UserFactory(email="known@example.org")
    known = client.post("/accounts/password-reset/", {"email": "known@example.org"})
    unknown = client.post("/accounts/password-reset/", {"email": "unknown@example.org"})
    assert (known.status_code, known.url) == (unknown.status_code, unknown.url)
    assert [m.to for m in mail.outbox] == [["known@example.org"]]


def test_a_real_login_still_works_after_someone_failed_on_an_unknown_name(api_client):
    UserFactory(username="carol")
    fail(api_client, "carol-typo", 5)
    response = api_client.post(TOKEN, {"username": "carol", "password": PASSWORD}, format="json")
    assert response.status_code == 200


def test_the_login_page_answers_a_locked_account_as_an_unknown_name(client):
    UserFactory(username="carol")
    answers = {}
    for login in ("carol", "nobody-here"):
        for _ in range(6):
            response = client.post(
                "/accounts/login/", {"username": login, "password": "Wrong-pass-1!"}
            )
        answers[login] = (response.status_code, response.context["form"].non_field_errors())
    assert answers["carol"] == answers["nobody-here"]
    response = client.post("/accounts/login/", {"username": "carol", "password": PASSWORD})
    assert response.status_code != 302  # locked: even the right password is refused
