"""Account lock-out after consecutive failed logins (accounts.lockout), on every door."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth import authenticate
from django.test import RequestFactory
from django.utils import timezone

from accounts.models import LoginLockout, UnknownLoginLockout
from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"


def token(client, login: str, password: str, ip: str = "10.1.1.1", field: str = "username"):
    return client.post(TOKEN, {field: login, "password": password}, format="json", REMOTE_ADDR=ip)


def fail(client, login: str, times: int, **kwargs) -> list[int]:
    return [token(client, login, "Wrong-pass-1!", **kwargs).status_code for _ in range(times)]


@pytest.fixture
def carol(db):
    return UserFactory(username="carol", email="carol@example.org")


def later(minutes: float):
    return mock.patch(
        "django.utils.timezone.now", return_value=timezone.now() + timedelta(minutes=minutes)
    )


def test_five_failures_lock_the_account_and_the_fifth_says_so(api_client, carol):
    assert fail(api_client, "carol", 4) == [401] * 4
    fifth = token(api_client, "carol", "Wrong-pass-1!")
    assert fifth.status_code == 429
    assert "locked after too many failed logins" in fifth.json()["detail"]
    assert "Try again in 15 minutes" in fifth.json()["detail"]
    assert 890 <= int(fifth["Retry-After"]) <= 900


def test_a_locked_account_refuses_the_right_password(api_client, carol):
    fail(api_client, "carol", 5)
    response = token(api_client, "carol", PASSWORD)
    assert response.status_code == 429
    assert "access" not in response.json()
    assert int(response["Retry-After"]) > 0


def test_the_lock_ends_after_the_window(api_client, carol):
    fail(api_client, "carol", 5)
    with later(14):
        assert token(api_client, "carol", PASSWORD).status_code == 429
    with later(15.1):
        assert token(api_client, "carol", PASSWORD).status_code == 200


def test_a_success_resets_the_count(api_client, carol):
    assert fail(api_client, "carol", 4) == [401] * 4
    assert token(api_client, "carol", PASSWORD).status_code == 200
    assert not LoginLockout.objects.filter(user=carol).exists()
    assert fail(api_client, "carol", 4) == [401] * 4
    assert token(api_client, "carol", PASSWORD).status_code == 200


def test_the_lock_is_per_account_not_per_ip(api_client, carol):
    UserFactory(username="dave")
    codes = [token(api_client, "carol", "nope", ip=f"10.9.0.{i}").status_code for i in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    assert token(api_client, "carol", PASSWORD, ip="10.9.9.9").status_code == 429
    # Another account from the attacking addresses is untouched.
    assert token(api_client, "dave", PASSWORD, ip="10.9.0.1").status_code == 200


def test_username_and_email_count_against_the_same_account(api_client, carol):
    fail(api_client, "carol", 3)
    fail(api_client, "CAROL@example.org", 2, field="email")
    assert token(api_client, "carol", PASSWORD).status_code == 429


def test_failures_far_apart_do_not_add_up(api_client, carol):
    fail(api_client, "carol", 4)
    with later(16):
        assert fail(api_client, "carol", 1) == [401]
        assert token(api_client, "carol", PASSWORD).status_code == 200


def test_attempts_while_locked_do_not_extend_the_lock(api_client, carol):
    fail(api_client, "carol", 5)
    until = LoginLockout.objects.get(user=carol).locked_until
    with later(10):
        assert fail(api_client, "carol", 3) == [429] * 3
    assert LoginLockout.objects.get(user=carol).locked_until == until


def test_the_threshold_and_window_are_settings(api_client, carol, settings):
    settings.LOGIN_LOCKOUT_FAILURES = 2
    settings.LOGIN_LOCKOUT_MINUTES = 1
    assert fail(api_client, "carol", 2) == [401, 429]
    with later(1.1):
        assert token(api_client, "carol", PASSWORD).status_code == 200


def test_unknown_logins_lock_like_accounts_and_create_no_account_rows(api_client):
    # The same answers as a real account's (issue 19: no enumeration by lock-out).
    assert fail(api_client, "nobody-here", 7) == [401] * 4 + [429] * 3
    assert LoginLockout.objects.count() == 0
    assert UnknownLoginLockout.objects.count() == 1
    assert "nobody" not in UnknownLoginLockout.objects.get().login_hash  # a hash, not the name


def test_the_backend_refuses_a_locked_account_for_every_door(carol):
    request = RequestFactory().post("/accounts/login/")
    for _ in range(5):
        assert authenticate(request, username="carol", password="bad") is None
    assert authenticate(request, username="carol", password=PASSWORD) is None
    with later(16):
        assert authenticate(request, username="carol", password=PASSWORD) == carol


def test_failed_admin_logins_lock_the_api_too(client, api_client):
    UserFactory(username="sam", is_staff=True)
    for _ in range(5):
        response = client.post("/admin/login/", {"username": "sam", "password": "bad"})
        assert response.status_code == 200  # the form again, with an error
    # The right password on the admin page is refused while locked...
    response = client.post("/admin/login/", {"username": "sam", "password": PASSWORD})
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    # ...and on the API, which says why.
    assert token(api_client, "sam", PASSWORD).status_code == 429
