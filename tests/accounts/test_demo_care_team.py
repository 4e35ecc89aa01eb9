from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from accounts import access
from accounts.demo import DEMO_PASSWORD
from accounts.models import CareTeam, User

pytestmark = pytest.mark.django_db


def test_demo_clinician_cares_for_the_demo_patient_idempotently():
    call_command("seed_demo", days=1, stdout=StringIO())
    call_command("seed_demo", days=1, stdout=StringIO())
    patient = User.objects.get(username="demo")
    clinician = User.objects.get(username="drsmith")
    assert CareTeam.objects.active().filter(clinician=clinician, patient=patient).count() == 1
    assert access.can_read(clinician, patient.pk)
    assert access.is_admin_clinician(clinician)


def test_demo_clinician_sees_the_demo_patient_in_the_admin(client):
    call_command("seed_demo", days=1, stdout=StringIO())
    assert client.login(username="drsmith", password=DEMO_PASSWORD)
    patient = User.objects.get(username="demo")
    response = client.get("/admin/accounts/user/")
    assert response.status_code == 200
    # Their patients, not the clinician themself.
    assert set(response.context["cl"].result_list) == {patient}
