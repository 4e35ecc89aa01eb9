"""Personal API tokens: create (shown once), revoke, and look up for authentication.

A token is `ht_` followed by 43 URL-safe random characters (256 bits). The database keeps its
SHA-256 hash (a fast hash is enough for a random secret of that size) and its first 11
characters as a display prefix.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken, User

TOKEN_PREFIX = "ht_"
DISPLAY_PREFIX_LENGTH = 11
# Recording every use would write on every API request; once a minute is precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the token itself, which is never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name.strip(),
        prefix=raw[:DISPLAY_PREFIX_LENGTH],
        key_hash=hash_token(raw),
    )
    return token, raw


def api_token_revoke(*, token: ApiToken) -> None:
    """Revoke a token now; revoking it again changes nothing."""
    now = timezone.now()
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    token.refresh_from_db(fields=["revoked_at"])


def api_token_authenticate(raw: str) -> ApiToken | None:
    """The active token `raw` stands for (with its user), or None. Records when it was used."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    token = ApiToken.objects.active().select_related("user").filter(key_hash=hash_token(raw))
    token = token.first()
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
