"""Staff second factor (TOTP) in the admin when ADMIN_REQUIRE_2FA is on."""

from __future__ import annotations

import re
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import otp
from accounts.models import User
from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

INDEX = "/admin/"
LOGIN = "/admin/login/"
ENROL = "/admin/2fa/enrol/"


def code_for(device: TOTPDevice, offset_steps: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + offset_steps * device.step
    return f"{totp.token():0{device.digits}d}"


@pytest.fixture
def require_2fa(settings):
    settings.ADMIN_REQUIRE_2FA = True


@pytest.fixture
def staff(db):
    return UserFactory(role=User.Role.ADMIN, is_staff=True, is_superuser=True)


@pytest.fixture
def device(staff):
    return otp.otp_provision(user=staff)


def login(client, username, token=""):
    return client.post(
        LOGIN, {"username": username, "password": PASSWORD, "otp_token": token, "next": INDEX}
    )


def test_2fa_is_off_outside_production_by_default(client, staff):
    client.force_login(staff)
    assert client.get(INDEX).status_code == 200


def test_staff_without_a_verified_device_cannot_reach_admin_pages(client, require_2fa, staff):
    client.force_login(staff)  # password only
    for url in (INDEX, reverse("admin:accounts_user_changelist")):
        response = client.get(url)
        assert response.status_code == 302 and LOGIN in response["Location"]


def test_staff_with_a_device_but_no_code_cannot_log_in(client, require_2fa, staff, device):
    response = login(client, staff.username)
    assert response.status_code == 200
    assert "Enter the code" in response.content.decode()
    assert client.get(INDEX).status_code == 302


def test_a_wrong_code_is_refused(client, require_2fa, staff, device):
    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
    response = login(client, staff.username, wrong)
    assert response.status_code == 200 and "not valid" in response.content.decode()
    assert client.get(INDEX).status_code == 302


def test_staff_with_a_valid_totp_reaches_the_admin(client, require_2fa, staff, device):
    response = login(client, staff.username, code_for(device))
    assert response.status_code == 302 and response["Location"] == INDEX
    assert client.get(INDEX).status_code == 200
    assert client.get(reverse("admin:accounts_user_changelist")).status_code == 200


def test_a_code_works_only_once(client, require_2fa, staff, device):
    token = code_for(device)
    assert login(client, staff.username, token).status_code == 302
    client.logout()
    assert login(client, staff.username, token).status_code == 200


def test_staff_without_a_device_is_sent_to_enrol_and_then_reaches_the_admin(
    client, require_2fa, staff
):
    response = login(client, staff.username)
    assert response.status_code == 302 and response["Location"] == ENROL
    assert client.get(INDEX).status_code == 302
    page = client.get(ENROL)
    assert page.status_code == 200
    html = page.content.decode()
    assert '<div id="otp-qr"><svg' in html
    secret = re.search(r"Secret: <code>([A-Z2-7=]+)</code>", html).group(1)
    pending = TOTPDevice.objects.get(user=staff, confirmed=False)
    assert otp.secret_base32(pending) == secret
    confirmed = client.post(ENROL, {"otp_token": code_for(pending)})
    assert confirmed.status_code == 302 and confirmed["Location"] == INDEX
    assert TOTPDevice.objects.get(user=staff).confirmed
    assert client.get(INDEX).status_code == 200


def test_each_visit_of_the_enrol_page_shows_a_new_secret(client, require_2fa, staff):
    client.force_login(staff)
    client.get(ENROL)
    first = TOTPDevice.objects.get(user=staff).key
    client.get(ENROL)
    assert TOTPDevice.objects.get(user=staff).key != first


def test_a_wrong_enrolment_code_confirms_nothing(client, require_2fa, staff):
    client.force_login(staff)
    client.get(ENROL)
    pending = TOTPDevice.objects.get(user=staff)
    wrong = f"{(int(code_for(pending)) + 1) % 1_000_000:06d}"
    response = client.post(ENROL, {"otp_token": wrong})
    assert response.status_code == 400 and "not valid" in response.content.decode()
    assert not TOTPDevice.objects.filter(confirmed=True).exists()
    assert client.get(INDEX).status_code == 302


def test_a_password_alone_cannot_replace_an_enrolled_device(client, require_2fa, staff, device):
    client.force_login(staff)
    page = client.get(ENROL).content.decode()
    assert "already set up" in page
    assert 'id="otp-qr"' not in page and "Secret:" not in page
    assert list(TOTPDevice.objects.filter(user=staff)) == [device]


def test_enrol_page_is_for_staff_only(client, user):
    assert client.get(ENROL).status_code == 302
    client.force_login(user)
    assert client.get(ENROL).status_code == 403


def test_otp_enrol_command_prints_the_secret_once_and_reset_replaces(staff):
    out = StringIO()
    call_command("otp_enrol", staff.username, "--no-qr", stdout=out)
    device = TOTPDevice.objects.get(user=staff)
    assert device.confirmed and otp.secret_base32(device) in out.getvalue()
    with pytest.raises(CommandError):
        call_command("otp_enrol", staff.username, stdout=StringIO())
    call_command("otp_enrol", staff.username, "--reset", stdout=StringIO())
    assert TOTPDevice.objects.get(user=staff).key != device.key


def test_otp_enrol_command_refuses_non_staff(user):
    with pytest.raises(CommandError):
        call_command("otp_enrol", user.username, stdout=StringIO())
