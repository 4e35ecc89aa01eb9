"""Share grants: a patient shares some metric types over a date window, with a named
clinician or by a link plus an access code, until an expiry; revocable.

The link token and the access code are returned once by `share_grant_create` and only their
hashes are stored. The data views (metrics app) resolve a link with `share_grant_for_link`,
read its `share_grant_scope` and log each use with `share_grant_record_use`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from accounts import validation
from accounts.audit import record_access
from accounts.models import AccessLog, ShareGrant, User
from accounts.validation import MAX_METRIC_TYPES as MAX_METRIC_TYPES  # the serializer's bound

# Where the read-only page of a link lives (served by the metrics app's views).
SHARE_LINK_PATH = "/share/{token}"

# Unambiguous upper-case letters and digits (no 0/O, 1/I/L): read aloud or typed by hand.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10  # 31**10, about 2**49
_LONG_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,}")


@dataclass(frozen=True)
class ShareScope:
    """What a grant lets its holder read: `owner_id`'s `metric_types`, readings taken from
    `start` (inclusive) to `end` (exclusive), UTC; `date_from`/`date_to` inclusive for daily
    rollups."""

    grant_id: int
    owner_id: int
    metric_types: tuple[str, ...]
    date_from: date
    date_to: date
    start: datetime
    end: datetime
    expires_at: datetime

    def covers(self, metric_type: str, when: date | datetime) -> bool:
        if metric_type not in self.metric_types:
            return False
        if isinstance(when, datetime):
            return self.start <= when < self.end
        return self.date_from <= when <= self.date_to


@dataclass(frozen=True)
class CreatedShareGrant:
    """The new grant plus, for a link, the token and code in clear: shown once, never stored."""

    grant: ShareGrant
    token: str | None = None
    code: str | None = None

    @property
    def link_path(self) -> str | None:
        return SHARE_LINK_PATH.format(token=self.token) if self.token else None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    """Codes are compared upper-case, ignoring spaces and dashes people type."""
    return re.sub(r"[\s-]", "", code or "").upper()


# The metric-type catalogue lives in the metrics app, which accounts may not import: the
# metrics app hands its catalogue (a live view of it, not a copy) over in `ready()`.
_metric_type_catalogue: Collection[str] | None = None


def register_metric_type_catalogue(codes: Collection[str]) -> None:
    """Called by the metrics app at start-up: the codes a grant may name."""
    global _metric_type_catalogue
    _metric_type_catalogue = codes


def known_metric_types() -> Collection[str]:
    if _metric_type_catalogue is None:
        raise ImproperlyConfigured(
            "No metric-type catalogue is registered: the metrics app registers it in ready()."
        )
    return _metric_type_catalogue


def clean_metric_types(metric_types) -> list[str]:
    """`accounts.validation.clean_metric_types` against the registered catalogue."""
    return validation.clean_metric_types(metric_types, known=known_metric_types)


@transaction.atomic
def share_grant_create(
    *,
    owner: User,
    metric_types: list[str],
    date_from: date,
    date_to: date,
    expires_at: datetime | None = None,
    clinician: User | None = None,
    label: str = "",
) -> CreatedShareGrant:
    """Share with `clinician` if given, else by a new link and access code."""
    now = timezone.now()
    codes = clean_metric_types(metric_types)
    validation.clean_share_window(date_from=date_from, date_to=date_to)
    expires_at = validation.clean_share_expiry(expires_at, now=now)
    grant = ShareGrant(
        owner=owner,
        metric_types=codes,
        date_from=date_from,
        date_to=date_to,
        expires_at=expires_at,
        label=(label or "").strip()[:100],
        created_at=now,
    )
    if clinician is not None:
        validation.clean_share_grantee(owner=owner, clinician=clinician)
        grant.kind = ShareGrant.Kind.CLINICIAN
        grant.grantee = clinician
        grant.save()
        return CreatedShareGrant(grant=grant)
    token = secrets.token_urlsafe(32)
    code = _new_code()
    grant.kind = ShareGrant.Kind.LINK
    grant.token_hash = _token_hash(token)
    grant.code_hash = make_password(code)
    grant.save()
    return CreatedShareGrant(grant=grant, token=token, code=code)


@transaction.atomic
def share_grant_revoke(*, grant: ShareGrant) -> ShareGrant:
    """Revoke now; revoking twice keeps the first time."""
    grant = ShareGrant.objects.select_for_update().get(pk=grant.pk)
    if grant.revoked_at is None:
        grant.revoked_at = timezone.now()
        grant.save(update_fields=["revoked_at"])
    return grant


def _active_link_grant(token: str) -> ShareGrant | None:
    grant = (
        ShareGrant.objects.filter(kind=ShareGrant.Kind.LINK, token_hash=_token_hash(token))
        .select_related("owner")
        .first()
    )
    if grant is None or not grant.is_active():
        return None
    if not grant.owner.is_active or grant.owner.deleted_at:
        return None
    return grant


def share_link_is_active(token: str) -> bool:
    """Whether `token` names an active link (so its page asks for the code rather than
    showing "not found"). Says nothing about the code; the token itself is the secret."""
    return bool(token) and _active_link_grant(token) is not None


def share_grant_for_link(token: str, code: str) -> ShareGrant | None:
    """The active link grant for `token` if `code` is its access code; None when the link is
    unknown, expired, revoked, its owner's account is closed, or the code is wrong."""
    if not token or not code:
        return None
    grant = (
        ShareGrant.objects.filter(kind=ShareGrant.Kind.LINK, token_hash=_token_hash(token))
        .select_related("owner")
        .first()
    )
    if grant is None:
        # Same cost as a real check, so timing does not tell whether a token exists.
        make_password(code)
        return None
    code_ok = check_password(normalise_code(code), grant.code_hash)
    owner = grant.owner
    if not code_ok or not grant.is_active() or not owner.is_active or owner.deleted_at:
        return None
    return grant


def share_grant_scope(grant: ShareGrant) -> ShareScope:
    start, end = grant.window_bounds()
    return ShareScope(
        grant_id=grant.pk,
        owner_id=grant.owner_id,
        metric_types=tuple(grant.metric_types),
        date_from=grant.date_from,
        date_to=grant.date_to,
        start=start,
        end=end,
        expires_at=grant.expires_at,
    )


def share_grant_record_use(
    *, grant: ShareGrant, request=None, actor: User | None = None, obj=None, endpoint: str = ""
) -> AccessLog | None:
    """Log one use of a grant (a link page or API view, or a named clinician's read)."""
    via = (
        AccessLog.Via.SHARE_LINK
        if grant.kind == ShareGrant.Kind.LINK
        else AccessLog.Via.SHARE_GRANT
    )
    if actor is None and grant.kind == ShareGrant.Kind.CLINICIAN:
        actor = grant.grantee
    if not endpoint and request is not None:
        # The link token is a secret: never copied into the log.
        endpoint = f"{request.method} {_LONG_TOKEN.sub('<token>', request.path)}"
    return record_access(
        actor=actor,
        owner_id=grant.owner_id,
        via=via,
        request=request,
        obj=obj,
        endpoint=endpoint,
        share_grant=grant,
    )
