from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth import authenticate

from accounts.models import User
from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_login_by_username():
    user = UserFactory(username="alice")
    assert authenticate(username="alice", password=PASSWORD) == user


def test_login_by_email_case_insensitively():
    user = UserFactory(email="Alice@Example.org")
    assert user.email == "alice@example.org"
    assert authenticate(username="ALICE@example.org", password=PASSWORD) == user


def test_wrong_password_or_unknown_login_fails():
    UserFactory(username="alice")
    assert authenticate(username="alice", password="nope") is None
    assert authenticate(username="nobody@example.org", password=PASSWORD) is None


def test_deactivated_or_deleted_user_cannot_log_in():
    UserFactory(username="gone", is_active=False)
    assert authenticate(username="gone", password=PASSWORD) is None


def test_email_is_unique():
    UserFactory(email="a@example.org")
    with pytest.raises(Exception):
        UserFactory(email="A@example.org")


def test_age_from_the_encrypted_date_of_birth():
    user = UserFactory(date_of_birth=date(2000, 6, 15))
    assert user.age_on(date(2026, 6, 14)) == 25
    assert user.age_on(date(2026, 6, 15)) == 26
    assert User(date_of_birth=None).age_on(date(2026, 1, 1)) is None


def test_default_role_and_sex():
    user = User.objects.create_user(username="bob", email="b@example.org", password=PASSWORD)
    assert user.role == User.Role.PATIENT
    assert user.sex == User.Sex.UNSPECIFIED
