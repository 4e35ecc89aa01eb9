"""Staff second factor: TOTP devices (django-otp) for the admin.

A password alone never adds a device: a staff account without a confirmed device enrols only
through a one-time link (`OtpEnrolmentLink`) that an administrator issued for that account
(the users list's action, or `manage.py otp_enrol USERNAME --link`). The link is valid
OTP_ENROL_LINK_HOURS, works once, and only for the account it names, signed in with its
password; issuing and using it are logged. Opening it creates the device and shows the secret
once; the code that confirms it is accepted only in the session that opened the link.
A confirmed device is replaced only by `manage.py otp_enrol --reset` (server access).
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import secrets
from datetime import timedelta

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import OtpEnrolmentLink, User

DEVICE_NAME = "admin"
logger = logging.getLogger("healthtrack.security")


def confirmed_devices(user: User) -> QuerySet:
    return TOTPDevice.objects.filter(user=user, confirmed=True)


def has_confirmed_device(user: User) -> bool:
    return confirmed_devices(user).exists()


def verify(user: User, token: str) -> TOTPDevice | None:
    """The confirmed device that accepts `token` (each token works once), or None."""
    token = (token or "").strip().replace(" ", "")
    if not token.isdigit():
        return None
    for device in confirmed_devices(user).order_by("pk"):
        with transaction.atomic():
            device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
            if device.verify_is_allowed()[0] and device.verify_token(token):
                return device
    return None


@transaction.atomic
def otp_enrol_start(*, user: User) -> TOTPDevice:
    """A new unconfirmed device (a new secret), replacing any earlier unconfirmed one."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


@transaction.atomic
def otp_enrol_confirm(*, user: User, token: str, device_id: int | None = None) -> TOTPDevice | None:
    """Confirm the pending device (`device_id`: that one only) if `token` is a valid code
    from it."""
    pending = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False)
    if device_id is not None:
        pending = pending.filter(pk=device_id)
    device = pending.last()
    if device is None or not device.verify_token((token or "").strip()):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return device


@transaction.atomic
def otp_devices_delete(*, user: User) -> int:
    """Remove every device of `user` (a lost phone): they enrol again through a new link."""
    deleted = TOTPDevice.objects.filter(user=user).delete()[0]
    logger.info("otp devices deleted", extra={"user_id": user.pk, "count": deleted})
    return deleted


@transaction.atomic
def otp_provision(*, user: User, reset: bool = False) -> TOTPDevice:
    """A confirmed device created from the command line (whoever runs it has the server)."""
    if reset:
        TOTPDevice.objects.filter(user=user).delete()
    elif has_confirmed_device(user):
        raise ValueError("This user already has a confirmed TOTP device; use --reset.")
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=True)


def secret_base32(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it when typed in."""
    return base64.b32encode(device.bin_key).decode()


def qr_svg(device: TOTPDevice) -> str:
    """An inline SVG QR code of the device's otpauth:// URL."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    return svg[svg.index("<svg") :]  # without the XML declaration, to inline in HTML


# --- one-time enrolment links ---------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def enrol_link_path(token: str) -> str:
    return reverse("admin:otp_enrol_link", kwargs={"token": token})


@transaction.atomic
def otp_enrol_link_issue(
    *, user: User, issued_by: User | None = None
) -> tuple[str, OtpEnrolmentLink]:
    """A new one-time enrolment link for staff `user`: (token, link). Earlier unused links of
    the user stop working. Refused for non-staff and for a user who already has a device."""
    if not user.is_staff or not user.is_active:
        raise ValidationError("Only active staff accounts use the admin's second factor.")
    if has_confirmed_device(user):
        raise ValidationError(
            "This account already has a confirmed device; reset it first (otp_enrol --reset)."
        )
    now = timezone.now()
    OtpEnrolmentLink.objects.filter(user=user, used_at__isnull=True).update(used_at=now)
    token = secrets.token_urlsafe(32)
    link = OtpEnrolmentLink.objects.create(
        user=user,
        token_hash=_hash(token),
        issued_by=issued_by,
        created_at=now,
        expires_at=now + timedelta(hours=settings.OTP_ENROL_LINK_HOURS),
    )
    logger.info(
        "otp enrolment link issued",
        extra={"user_id": user.pk, "issued_by": getattr(issued_by, "pk", None), "link": link.pk},
    )
    return token, link


@transaction.atomic
def otp_enrol_link_use(*, user: User, token: str) -> TOTPDevice | None:
    """Spend the link `token` for signed-in `user` and start a device (a new secret), or None
    when the link is unknown, someone else's, used or expired. Works once."""
    link = (
        OtpEnrolmentLink.objects.select_for_update()
        .filter(token_hash=_hash(token or ""), user=user, used_at__isnull=True)
        .first()
    )
    now = timezone.now()
    if link is None or link.expires_at <= now or has_confirmed_device(user):
        logger.warning("otp enrolment link refused", extra={"user_id": user.pk})
        return None
    link.used_at = now
    link.save(update_fields=["used_at"])
    logger.info("otp enrolment link used", extra={"user_id": user.pk, "link": link.pk})
    return otp_enrol_start(user=user)
