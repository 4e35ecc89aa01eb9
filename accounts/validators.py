from __future__ import annotations

import re

from django.core.exceptions import ValidationError

_RULES = [
    (re.compile(r"[A-Z]"), "password_no_upper", "one upper-case letter"),
    (re.compile(r"\d"), "password_no_digit", "one digit"),
    (re.compile(r"[^A-Za-z0-9]"), "password_no_special", "one special character"),
]


class ComplexityValidator:
    """At least one upper-case letter, one digit and one special character."""

    def validate(self, password: str, user=None) -> None:
        missing = [text for rx, _code, text in _RULES if not rx.search(password or "")]
        if missing:
            raise ValidationError(
                "The password must contain at least " + ", ".join(missing) + ".",
                code="password_too_simple",
            )

    def get_help_text(self) -> str:
        return "Your password must contain an upper-case letter, a digit and a special character."
