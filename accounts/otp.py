"""Staff second factor: TOTP devices (django-otp) for the admin.

Enrolment shows the secret once: each start replaces any unconfirmed device with a new
secret, and a device stops being shown once confirmed (django-otp's admin hides keys too).
A confirmed device is replaced only by `manage.py otp_enrol --reset` (server access).
"""

from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg
from django.db import transaction
from django.db.models import QuerySet
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User

DEVICE_NAME = "admin"


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
def otp_enrol_confirm(*, user: User, token: str) -> TOTPDevice | None:
    """Confirm the pending device if `token` is a valid code from it."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).last()
    if device is None or not device.verify_token((token or "").strip()):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return device


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
