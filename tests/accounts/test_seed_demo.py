from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.demo import DEMO_PASSWORD
from accounts.models import User

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_prints_logins():
    out = StringIO()
    call_command("seed_demo", days=3, stdout=out)
    call_command("seed_demo", days=3, stdout=StringIO())
    assert User.objects.filter(is_dependent=False).count() == 3  # + the demo patient's child
    assert User.objects.filter(is_dependent=True).count() == 1
    assert "demo@healthtrack.local" in out.getvalue()
    assert DEMO_PASSWORD in out.getvalue()


def test_demo_staff_can_log_in_to_the_admin(client):
    call_command("seed_demo", days=3, stdout=StringIO())
    assert client.login(username="admin", password=DEMO_PASSWORD)
    assert client.get("/admin/").status_code == 200


def test_if_empty_skips_a_database_with_users():
    User.objects.create_user(username="someone", email="s@example.org", password="x")
    call_command("seed_demo", if_empty=True, days=3, stdout=StringIO())
    assert User.objects.count() == 1
