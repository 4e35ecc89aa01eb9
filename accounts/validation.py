"""The rules of an account, for `accounts.services` and `accounts.family` to call before they
write: the password rules (`settings.AUTH_PASSWORD_VALIDATORS`, among them
`ComplexityValidator` below) and the user model's field definitions (the form of
the username and address, the profile's bounds, `validate_time_zone`). Errors are keyed by
field."""

from __future__ import annotations

import re
import zoneinfo

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

_RULES = [
    (re.compile(r"[A-Z]"), "password_no_upper", "one upper-case letter"),
    (re.compile(r"\d"), "password_no_digit", "one digit"),
    (re.compile(r"[^A-Za-z0-9]"), "password_no_special", "one special character"),
]


class ComplexityValidator:
    """At least one upper-case letter, one digit and one special character (one of
    `settings.AUTH_PASSWORD_VALIDATORS`)."""

    def validate(self, password: str, user=None) -> None:
        missing = [text for rx, _code, text in _RULES if not rx.search(password or "")]
        if missing:
            raise ValidationError(
                "The password must contain at least " + ", ".join(missing) + ".",
                code="password_too_simple",
            )

    def get_help_text(self) -> str:
        return "Your password must contain an upper-case letter, a digit and a special character."


def validate_time_zone(value: str) -> None:
    """`User.time_zone`'s field validator: an IANA zone name."""
    if value not in zoneinfo.available_timezones():
        raise ValidationError("Unknown time zone: give an IANA name such as Europe/Paris.")


def clean_user(user, *, password: str | None = None, check_unique: bool = True) -> None:
    """A new account: `password` (when given) against the password rules, then the fields.

    With `check_unique=False` a taken username or address is not an error here: registration
    answers the same whether or not they are taken and looks them up itself."""
    if password is not None:
        validate_password(password, user)
    user.full_clean(
        exclude=["password"], validate_unique=check_unique, validate_constraints=check_unique
    )
