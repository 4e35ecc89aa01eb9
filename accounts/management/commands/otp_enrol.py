"""Give a staff user a TOTP device from the command line (or reset a lost one), or, with
`--link`, a one-time enrolment link (24 h, single use) for them to set it up themselves."""

from __future__ import annotations

import io

import qrcode
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import otp
from accounts.models import User


class Command(BaseCommand):
    help = (
        "Create a confirmed TOTP device for a staff user and print its secret, otpauth URL and "
        "a terminal QR code (shown once). --reset replaces existing devices."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--reset", action="store_true", help="Delete the user's devices first.")
        parser.add_argument("--no-qr", action="store_true", help="Do not print the QR code.")
        parser.add_argument(
            "--link",
            action="store_true",
            help="Print a one-time enrolment link (valid 24 h) instead of creating a device.",
        )

    def handle(self, *args, username: str, reset: bool, no_qr: bool, link: bool, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        if not user.is_staff:
            raise CommandError(f"{username!r} is not staff; only staff use the admin.")
        if link:
            if reset:
                otp.otp_devices_delete(user=user)
            try:
                token, issued = otp.otp_enrol_link_issue(user=user)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages))
            self.stdout.write(f"One-time enrolment link for {username} (valid until ")
            self.stdout.write(f"{issued.expires_at:%Y-%m-%d %H:%M} UTC, works once):")
            self.stdout.write(otp.enrol_link_path(token))
            self.stdout.write("Prefix it with the site's address. Shown once.")
            return
        try:
            device = otp.otp_provision(user=user, reset=reset)
        except ValueError as exc:
            raise CommandError(str(exc))
        self.stdout.write(f"Secret (base32): {otp.secret_base32(device)}")
        self.stdout.write(f"URL: {device.config_url}")
        if not no_qr:
            code = qrcode.QRCode(border=1)
            code.add_data(device.config_url)
            out = io.StringIO()
            code.print_ascii(out=out)
            self.stdout.write(out.getvalue())
        self.stdout.write("Shown once: store it in the authenticator app now.")
