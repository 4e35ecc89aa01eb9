"""One identity per name: usernames and e-mails are unique whatever their case, in the database,
and a login names exactly one account (issue 19, point 4)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from accounts import lockout
from accounts.models import LoginLockout, User
from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"


def test_the_database_refuses_a_username_that_differs_only_in_case():
    UserFactory(username="demo")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="DEMO", email="other@example.org")


def test_the_database_refuses_an_email_that_differs_only_in_case():
    UserFactory(email="demo@example.org")
    other = UserFactory(email="other@example.org")
    # `.update()` skips the model's lower-casing: the index itself must hold.
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=other.pk).update(email="DEMO@example.org")


def test_registering_a_case_variant_of_a_username_creates_no_second_account(api_client):
    UserFactory(username="demo")
    response = api_client.post(
        "/api/v1/users/register",
        {"username": "DEMO", "email": "new@example.org", "password": "Str0ng-pass!"},
        format="json",
    )
    assert response.status_code < 500
    assert list(
        User.objects.filter(username__iexact="demo").values_list("username", flat=True)
    ) == ["demo"]


@pytest.mark.parametrize("login", ["demo", "DEMO", "Demo@Example.org"])
def test_login_in_any_case_reaches_the_one_account(api_client, login):
    user = UserFactory(username="demo", email="demo@example.org")
    response = api_client.post(TOKEN, {"username": login, "password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert lockout.find_user_by_login(login) == user


def test_failures_on_one_name_count_only_toward_that_account(api_client):
    demo = UserFactory(username="demo")
    other = UserFactory(username="demo2")
    for _ in range(3):
        api_client.post(TOKEN, {"username": "DEMO", "password": "Wrong-1!"}, format="json")
    assert LoginLockout.objects.get(user=demo).failures == 3
    assert not LoginLockout.objects.filter(user=other).exists()


MIGRATION = "0007_case_insensitive_identity"


@pytest.mark.django_db(transaction=True)
def test_the_migration_stops_with_a_list_when_case_variants_exist():
    executor = MigrationExecutor(connection)
    before = [("accounts", "0006_otp_enrolment_link")]
    # Every app's leaf: rolling accounts back unapplies the apps that depend on it too.
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    try:
        old = MigrationExecutor(connection).loader.project_state(before).apps
        OldUser = old.get_model("accounts", "User")
        OldUser.objects.create(username="demo", email="demo@example.org")
        OldUser.objects.create(username="DEMO", email="demo2@example.org")
        OldUser.objects.create(username="eve", email="Eve@example.org")
        OldUser.objects.create(username="eve2", email="eve@example.org")
        with pytest.raises(RuntimeError) as refused:
            MigrationExecutor(connection).migrate(latest)
        message = str(refused.value)
        assert "username 'demo'" in message and "DEMO" in message
        assert "e-mail 'eve@example.org'" in message and "eve2" in message
        OldUser.objects.filter(username__in=["DEMO", "eve2"]).delete()
    finally:
        MigrationExecutor(connection).migrate(latest)
    assert ("accounts", MIGRATION) in MigrationExecutor(connection).loader.applied_migrations
