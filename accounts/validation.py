"""The rules of an account, for `accounts.services` and `accounts.family` to call before they
write: the password rules (`settings.AUTH_PASSWORD_VALIDATORS`, among them
`ComplexityValidator` below) and the user model's field definitions (the form of
the username and address, the profile's bounds, `validate_time_zone`). Errors are keyed by
field."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Collection
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

METRIC_TYPE_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_METRIC_TYPES = 50

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


def clean_metric_types(metric_types, *, known: Callable[[], Collection[str]]) -> list[str]:
    """The distinct codes of `metric_types`, in their order (a repeat means the same type:
    it is shared once). Refused: not a list, empty, not a code, a code the catalogue
    (`known()`) does not know (each named), more than MAX_METRIC_TYPES."""
    if not isinstance(metric_types, list | tuple) or not metric_types:
        raise ValidationError({"metric_types": ["Choose at least one metric type."]})
    codes = []
    for code in metric_types:
        if not isinstance(code, str) or not METRIC_TYPE_CODE.match(code):
            raise ValidationError({"metric_types": ["Metric types are lower-case codes."]})
        if code not in codes:
            codes.append(code)
    catalogue = known()
    unknown = [code for code in codes if code not in catalogue]
    if unknown:
        names = ", ".join(f"'{code}'" for code in unknown)
        label = "Unknown metric type" if len(unknown) == 1 else "Unknown metric types"
        raise ValidationError(
            {"metric_types": [f"{label}: {names}. Known: {', '.join(sorted(catalogue))}."]}
        )
    if len(codes) > MAX_METRIC_TYPES:
        raise ValidationError({"metric_types": [f"At most {MAX_METRIC_TYPES} metric types."]})
    return codes


def clean_share_window(*, date_from: date, date_to: date) -> None:
    """A share's window of days does not end before it starts."""
    if date_from > date_to:
        raise ValidationError({"date_to": ["The window ends before it starts."]})


def clean_share_expiry(expires_at: datetime | None, *, now: datetime) -> datetime:
    """A share's expiry (SHARE_GRANT_DEFAULT_DAYS from `now` when not given): in the future,
    at most SHARE_GRANT_MAX_DAYS away."""
    if expires_at is None:
        expires_at = now + timedelta(days=settings.SHARE_GRANT_DEFAULT_DAYS)
    if expires_at <= now:
        raise ValidationError({"expires_at": ["The expiry must be in the future."]})
    if expires_at > now + timedelta(days=settings.SHARE_GRANT_MAX_DAYS):
        raise ValidationError(
            {"expires_at": [f"A share lasts at most {settings.SHARE_GRANT_MAX_DAYS} days."]}
        )
    return expires_at


def clean_share_grantee(*, owner, clinician) -> None:
    """A share names an active clinician other than its owner."""
    from accounts import access  # accounts.models imports this module; access imports them

    if not access.is_clinician(clinician):
        raise ValidationError({"clinician_email": ["No clinician with that e-mail address."]})
    if clinician.pk == owner.pk:
        raise ValidationError({"clinician_email": ["You cannot share with yourself."]})


def clean_care_team_members(*, clinician, patient) -> None:
    """A care team joins an active clinician and another person whose account is open."""
    if clinician.role != clinician.Role.CLINICIAN or not clinician.is_active:
        raise ValidationError({"clinician": ["Only an active clinician can join a care team."]})
    if clinician.pk == patient.pk:
        raise ValidationError({"patient": ["A clinician cannot be their own patient."]})
    if patient.deleted_at is not None or not patient.is_active:
        raise ValidationError({"patient": ["This patient's account is closed."]})


def clean_family_manager(manager) -> None:
    """Who adds family members or grants access: an open account, not a dependent."""
    if not manager.is_active or manager.deleted_at is not None:
        raise ValidationError({"detail": ["This account is closed."]})
    if manager.is_dependent:
        raise ValidationError({"detail": ["A dependent cannot manage family members."]})


def clean_dependent(*, relation: str, first_name: str) -> None:
    """A new dependent: a relation a dependent can have (not self, not doctor) and a name."""
    from accounts.models import FamilyMembership  # accounts.models imports this module

    if relation not in FamilyMembership.Relation.values or relation in (
        FamilyMembership.Relation.SELF,
        FamilyMembership.Relation.DOCTOR,
    ):
        raise ValidationError({"relation": ["Not a relation a dependent can have."]})
    if not (first_name or "").strip():
        raise ValidationError({"first_name": ["A name is required."]})


def clean_family_grant(*, role: str, relation: str) -> None:
    """A family grant's role (manager or read_only) and a known relation."""
    from accounts.models import FamilyMembership  # accounts.models imports this module

    if role not in FamilyMembership.Role.values:
        raise ValidationError({"role": ["Choose manager or read_only."]})
    if relation not in FamilyMembership.Relation.values:
        raise ValidationError({"relation": ["Not a known relation."]})
