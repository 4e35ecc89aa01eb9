"""E-mails about an account's security: registration answers and credential changes.

Rendered from `templates/accounts/email/<name>_subject.txt` and `<name>.txt`, and sent when
the current transaction commits (never for a write that rolled back). They carry no password,
token or health data."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string


def notice_send(*, to: str, name: str, context: dict) -> None:
    subject = render_to_string(f"accounts/email/{name}_subject.txt", context).strip()
    body = render_to_string(f"accounts/email/{name}.txt", context)

    def send() -> None:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])

    transaction.on_commit(send, robust=True)
