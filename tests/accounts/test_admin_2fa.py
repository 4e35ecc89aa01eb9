"""Staff second factor (TOTP) in the admin when ADMIN_REQUIRE_2FA is on."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from io import StringIO

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import otp
from accounts.models import OtpEnrolmentLink, User
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


def _secret(html: str) -> str:
    return re.search(r"Secret: <code>([A-Z2-7=]+)</code>", html).group(1)


def test_a_staff_password_alone_cannot_add_a_device(client, require_2fa, staff):
    response = login(client, staff.username)
    assert response.status_code == 302 and response["Location"] == ENROL
    page = client.get(ENROL)
    html = page.content.decode()
    assert page.status_code == 200 and "one-time enrolment link" in html
    assert 'id="otp-qr"' not in html and "Secret:" not in html
    # Guessing at the confirm step with no link opened confirms nothing, creates nothing.
    refused = client.post(ENROL, {"otp_token": "123456"})
    assert refused.status_code == 400
    assert not TOTPDevice.objects.filter(user=staff).exists()
    assert client.get(INDEX).status_code == 302


def test_the_login_page_explains_the_enrolment_link(client, require_2fa):
    html = client.get(LOGIN).content.decode()
    assert "one-time enrolment link" in html and "password alone cannot add" in html


def test_an_enrolment_link_adds_a_device_once_then_the_admin_opens(client, require_2fa, staff):
    token, link = otp.otp_enrol_link_issue(user=staff)
    assert login(client, staff.username)["Location"] == ENROL
    page = client.get(f"{ENROL}{token}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<div id="otp-qr"><svg' in html
    pending = TOTPDevice.objects.get(user=staff, confirmed=False)
    assert otp.secret_base32(pending) == _secret(html)
    confirmed = client.post(ENROL, {"otp_token": code_for(pending)})
    assert confirmed.status_code == 302 and confirmed["Location"] == INDEX
    assert TOTPDevice.objects.get(user=staff).confirmed
    assert client.get(INDEX).status_code == 200
    link.refresh_from_db()
    assert link.used_at is not None
    # Spent: the same link shows nothing again.
    assert client.get(f"{ENROL}{token}/").status_code == 404


def test_an_enrolment_link_works_only_once(client, require_2fa, staff):
    token, _ = otp.otp_enrol_link_issue(user=staff)
    client.force_login(staff)
    assert client.get(f"{ENROL}{token}/").status_code == 200
    again = client.get(f"{ENROL}{token}/")
    assert again.status_code == 404 and "Secret:" not in again.content.decode()
    assert TOTPDevice.objects.filter(user=staff).count() == 1


def test_an_enrolment_link_is_for_its_own_account_only(client, require_2fa, staff):
    other = UserFactory(role=User.Role.ADMIN, is_staff=True)
    token, link = otp.otp_enrol_link_issue(user=staff)
    client.force_login(other)
    assert client.get(f"{ENROL}{token}/").status_code == 404
    assert not TOTPDevice.objects.exists()
    link.refresh_from_db()
    assert link.used_at is None  # still good for its owner


def test_an_enrolment_link_expires_after_24_hours(client, require_2fa, staff, settings):
    assert settings.OTP_ENROL_LINK_HOURS == 24
    token, link = otp.otp_enrol_link_issue(user=staff)
    assert link.expires_at - link.created_at == timedelta(hours=24)
    OtpEnrolmentLink.objects.filter(pk=link.pk).update(expires_at=timezone.now())
    client.force_login(staff)
    assert client.get(f"{ENROL}{token}/").status_code == 404
    assert not TOTPDevice.objects.exists()


def test_a_new_link_cancels_the_earlier_one(client, require_2fa, staff):
    first, _ = otp.otp_enrol_link_issue(user=staff)
    second, _ = otp.otp_enrol_link_issue(user=staff)
    client.force_login(staff)
    assert client.get(f"{ENROL}{first}/").status_code == 404
    assert client.get(f"{ENROL}{second}/").status_code == 200


def test_the_code_is_accepted_only_in_the_session_that_opened_the_link(client, require_2fa, staff):
    token, _ = otp.otp_enrol_link_issue(user=staff)
    client.force_login(staff)
    client.get(f"{ENROL}{token}/")
    pending = TOTPDevice.objects.get(user=staff)
    intruder = Client()
    intruder.force_login(staff)  # someone else who knows the password
    assert intruder.post(ENROL, {"otp_token": code_for(pending)}).status_code == 400
    assert not TOTPDevice.objects.filter(confirmed=True).exists()


def test_a_wrong_enrolment_code_confirms_nothing(client, require_2fa, staff):
    token, _ = otp.otp_enrol_link_issue(user=staff)
    client.force_login(staff)
    client.get(f"{ENROL}{token}/")
    pending = TOTPDevice.objects.get(user=staff)
    wrong = f"{(int(code_for(pending)) + 1) % 1_000_000:06d}"
    response = client.post(ENROL, {"otp_token": wrong})
    assert response.status_code == 400 and "not valid" in response.content.decode()
    assert not TOTPDevice.objects.filter(confirmed=True).exists()
    assert client.get(INDEX).status_code == 302
    assert 'name="otp_token"' in response.content.decode()  # another try, same device


def test_links_are_not_issued_to_non_staff_or_the_already_enrolled(user, staff, device):
    with pytest.raises(ValidationError):
        otp.otp_enrol_link_issue(user=user)
    with pytest.raises(ValidationError):
        otp.otp_enrol_link_issue(user=staff)


def test_issuing_and_using_a_link_is_logged_without_the_token(client, staff):
    admin_user = UserFactory(role=User.Role.ADMIN, is_staff=True, is_superuser=True)
    token, link = otp.otp_enrol_link_issue(user=staff, issued_by=admin_user)
    client.force_login(staff)
    client.get(f"{ENROL}{token}/")
    entries = LogEntry.objects.get_for_object(link).order_by("pk")
    assert [e.action for e in entries] == [LogEntry.Action.CREATE, LogEntry.Action.UPDATE]
    assert "used_at" in entries[1].changes_dict
    text = " ".join(str(e.changes) for e in entries)
    assert token not in text and link.token_hash not in text


def test_a_superuser_issues_links_from_the_users_list(client):
    admin_user = UserFactory(role=User.Role.ADMIN, is_staff=True, is_superuser=True)
    doctor = UserFactory(role=User.Role.CLINICIAN, is_staff=True)
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "issue_otp_enrolment_links", "_selected_action": [doctor.pk]},
    )
    html = response.content.decode()
    assert response.status_code == 200
    token = re.search(r"/admin/2fa/enrol/([\w-]+)/", html).group(1)
    link = OtpEnrolmentLink.objects.get(user=doctor)
    assert link.issued_by == admin_user and link.token_hash != token


def test_otp_enrol_command_prints_a_one_time_link(client, staff):
    out = StringIO()
    call_command("otp_enrol", staff.username, "--link", stdout=out)
    path = re.search(r"(/admin/2fa/enrol/[\w-]+/)", out.getvalue()).group(1)
    assert not TOTPDevice.objects.exists()
    client.force_login(staff)
    assert client.get(path).status_code == 200
    assert client.get(path).status_code == 404


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
