from __future__ import annotations

from datetime import date

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.db import connection

from accounts.models import User
from healthtrack.core.encryption import encrypted_fields, reset_key_caches
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def raw_column(table: str, column: str, pk: int) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return bytes(cursor.fetchone()[0])


@pytest.fixture
def keys(settings):
    """Fresh keys for the test; the field caches are reset before and after."""
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    reset_key_caches()
    yield settings
    reset_key_caches()


def test_user_sensitive_fields_are_encrypted_fields():
    names = dict(encrypted_fields())[User]
    assert set(names) == {"date_of_birth", "medical_history"}


def test_raw_columns_hold_no_plaintext(keys):
    user = UserFactory(medical_history="Type 2 diabetes since 2019", date_of_birth=date(1961, 7, 2))
    history = raw_column("accounts_user", "medical_history", user.pk)
    dob = raw_column("accounts_user", "date_of_birth", user.pk)
    assert b"diabetes" not in history
    assert b"1961" not in dob
    # It is a Fernet token under the configured key.
    assert Fernet(keys.FERNET_KEYS[0]).decrypt(history) == b"Type 2 diabetes since 2019"
    reloaded = User.objects.get(pk=user.pk)
    assert reloaded.medical_history == "Type 2 diabetes since 2019"
    assert reloaded.date_of_birth == date(1961, 7, 2)


def test_empty_text_round_trips(keys):
    user = UserFactory(medical_history="")
    assert User.objects.get(pk=user.pk).medical_history == ""


def test_rotation_new_first_key_reads_old_rows_and_writes_new_ones(keys):
    old_key = keys.FERNET_KEYS[0]
    user = UserFactory(medical_history="asthma")

    new_key = Fernet.generate_key().decode()
    keys.FERNET_KEYS = [new_key, old_key]
    reset_key_caches()

    assert User.objects.get(pk=user.pk).medical_history == "asthma"
    later = UserFactory(medical_history="hypertension")
    token = raw_column("accounts_user", "medical_history", later.pk)
    assert Fernet(new_key).decrypt(token) == b"hypertension"
    with pytest.raises(InvalidToken):
        Fernet(old_key).decrypt(token)


def test_a_wrong_key_raises_instead_of_returning_ciphertext(keys):
    user = UserFactory(medical_history="asthma")
    keys.FERNET_KEYS = [Fernet.generate_key().decode()]
    reset_key_caches()
    with pytest.raises(InvalidToken):
        User.objects.get(pk=user.pk)
