"""Checks that matter behind PgBouncer in transaction mode (run by `make test-pgbouncer`)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection, transaction

from accounts.models import User
from tests.accounts.factories import UserFactory

behind_pgbouncer = pytest.mark.skipif(
    not settings.DATABASES["default"].get("DISABLE_SERVER_SIDE_CURSORS"),
    reason="run by `make test-pgbouncer` (DB_DISABLE_SERVER_SIDE_CURSORS=true)",
)


@behind_pgbouncer
@pytest.mark.django_db(transaction=True)
def test_iterating_a_large_queryset_outside_a_transaction_works():
    UserFactory.create_batch(30)
    # With server-side cursors on, a named cursor outside a transaction breaks under
    # transaction pooling; Django must fetch client-side here.
    names = [u.username for u in User.objects.order_by("pk").iterator(chunk_size=7)]
    assert len(names) == 30


@behind_pgbouncer
@pytest.mark.django_db(transaction=True)
def test_transactions_commit_and_roll_back_through_the_pooler():
    with transaction.atomic():
        UserFactory(username="kept")
    with pytest.raises(RuntimeError), transaction.atomic():
        UserFactory(username="dropped")
        raise RuntimeError
    assert set(User.objects.values_list("username", flat=True)) == {"kept"}


@behind_pgbouncer
@pytest.mark.django_db
def test_the_connection_is_postgresql():
    assert connection.vendor == "postgresql"
