from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command

from accounts.models import User
from healthtrack.core.encryption import reset_key_caches, rotate_model_field
from tests.accounts.factories import UserFactory
from tests.core.test_encryption import raw_column

pytestmark = pytest.mark.django_db


@pytest.fixture
def old_and_new_keys(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FERNET_KEYS = [old]
    reset_key_caches()
    yield settings, old, new
    reset_key_caches()


def test_rotation_rewrites_every_value_under_the_new_key(old_and_new_keys):
    settings, old, new = old_and_new_keys
    users = [UserFactory(medical_history=f"history {i}") for i in range(7)]
    settings.FERNET_KEYS = [new, old]
    reset_key_caches()

    out = StringIO()
    call_command("rotate_encryption_keys", batch_size=3, stdout=out)
    assert "accounts.User.medical_history: 7 re-encrypted, 0 already current" in out.getvalue()

    for user in users:
        token = raw_column("accounts_user", "medical_history", user.pk)
        with pytest.raises(InvalidToken):
            Fernet(old).decrypt(token)
    # The old key can now be dropped: everything still reads.
    settings.FERNET_KEYS = [new]
    reset_key_caches()
    assert sorted(User.objects.values_list("medical_history", flat=True)) == [
        f"history {i}" for i in range(7)
    ]
    assert {u.date_of_birth for u in User.objects.all()} == {users[0].date_of_birth}


def test_rotation_is_resumable_and_skips_rows_already_rotated(old_and_new_keys):
    settings, old, new = old_and_new_keys
    UserFactory.create_batch(4, medical_history="x")
    settings.FERNET_KEYS = [new, old]
    reset_key_caches()
    # A first run that "stopped" after a while: some rows rotated already.
    UserFactory.create_batch(2, medical_history="written under the new key")
    assert rotate_model_field(User, "medical_history", batch_size=2) == (4, 2)
    assert rotate_model_field(User, "medical_history", batch_size=2) == (0, 6)


def test_rotation_writes_nothing_to_the_audit_log(old_and_new_keys):
    from auditlog.models import LogEntry

    settings, old, new = old_and_new_keys
    UserFactory(medical_history="x")
    before = LogEntry.objects.count()
    settings.FERNET_KEYS = [new, old]
    reset_key_caches()
    call_command("rotate_encryption_keys", stdout=StringIO())
    assert LogEntry.objects.count() == before
