"""Credentials that really end: password changes and resets, and the JWT revocation list.

- A password change or reset (`password_changed`) raises the user's `credentials_version`,
  so every JWT issued before it (they carry the version as claim `cv`) is refused on the next
  request; it also blacklists every refresh token, revokes every personal API token and, by
  changing the password hash, ends every other session (Django checks the session's hash on
  each request). The user is told by e-mail.
- Each login starts a refresh-token family: every refresh token rotated from it, and every
  access token issued from those, carries the family's id (claim `fam`, the first refresh
  token's `jti`). Revoking the family (`token_family_revoke`: on logout, or when a rotated
  refresh token is used again, which means two parties hold it) ends all of them at once.
- The revocation list (`RevokedToken`: family ids and single access-token `jti`s) lives in
  the database and travels in the JWT user cache entry (accounts.user_cache), so the
  check costs no extra lookup; writing to it drops that entry, and with the cache down the
  database answers.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import ApiToken, RevokedToken, User
from accounts.notices import notice_send
from accounts.user_cache import user_cache_forget

VERSION_CLAIM = "cv"
FAMILY_CLAIM = "fam"


class FamilyRefreshToken(RefreshToken):
    """A refresh token that starts a family and carries the user's credentials version."""

    @classmethod
    def for_user(cls, user):
        token = super().for_user(user)
        token[VERSION_CLAIM] = user.credentials_version
        token[FAMILY_CLAIM] = token[api_settings.JTI_CLAIM]
        return token


def revoked_ids(user_id) -> list[str]:
    """The user's revoked family ids and access-token ids that have not expired yet."""
    return list(
        RevokedToken.objects.filter(user_id=user_id, expires_at__gt=timezone.now())
        .order_by("jti")
        .values_list("jti", flat=True)
    )


def token_is_revoked(token, *, user: User, revoked) -> bool:
    """Whether a validated JWT of `user` is revoked: issued under an older credentials version,
    or its own id or its family's is on the list."""
    if token.get(VERSION_CLAIM, 0) != user.credentials_version:
        return True
    family = token.get(FAMILY_CLAIM)
    return token.get(api_settings.JTI_CLAIM) in revoked or (
        family is not None and family in revoked
    )


def _forget_cached_user(user_id) -> None:
    user_cache_forget(user_id)


def token_revoke(*, user_id, jti: str, expires_at: datetime) -> None:
    """Put a family id or an access-token id on the revocation list until `expires_at`
    (the user's entries that have run out go at the same time)."""
    RevokedToken.objects.filter(user_id=user_id, expires_at__lte=timezone.now()).delete()
    RevokedToken.objects.update_or_create(
        user_id=user_id, jti=jti, defaults={"expires_at": expires_at}
    )
    _forget_cached_user(user_id)


def token_family_revoke(payload: dict) -> None:
    """Revoke the family of a (validly signed) refresh token's claims, until the newest
    member could expire: a refresh token's lifetime from now."""
    user_id = payload.get(api_settings.USER_ID_CLAIM)
    family = payload.get(FAMILY_CLAIM) or payload.get(api_settings.JTI_CLAIM)
    if user_id is None or not family:
        return
    expires = timezone.now() + api_settings.REFRESH_TOKEN_LIFETIME
    if not User.objects.filter(pk=user_id).exists():
        return
    token_revoke(user_id=user_id, jti=family, expires_at=expires)


def refresh_tokens_revoke(*, user: User) -> int:
    """Blacklist every refresh token the user holds; returns how many were revoked."""
    tokens = OutstandingToken.objects.filter(user=user).exclude(blacklistedtoken__isnull=False)
    revoked = [BlacklistedToken(token=t) for t in tokens]
    BlacklistedToken.objects.bulk_create(revoked, ignore_conflicts=True)
    return len(revoked)


@transaction.atomic
def credentials_revoke_all(*, user: User) -> None:
    """End every token of the user: JWTs (new credentials version), refresh tokens
    (blacklisted) and personal API tokens (revoked)."""
    User.objects.filter(pk=user.pk).update(credentials_version=F("credentials_version") + 1)
    user.refresh_from_db(fields=["credentials_version"])
    refresh_tokens_revoke(user=user)
    ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    _forget_cached_user(user.pk)


@transaction.atomic
def password_changed(*, user: User, how: str, base_url: str) -> None:
    """After the password of `user` was changed (`how`: "changed" or "reset"): revoke every
    credential and tell the user. The caller keeps its own session (update_session_auth_hash)
    if it should go on."""
    credentials_revoke_all(user=user)
    notice_send(
        to=user.email,
        name="password_changed",
        context={
            "username": user.get_username(),
            "how": how,
            "when": timezone.now(),
            "reset_url": base_url.rstrip("/") + reverse("password_reset"),
        },
    )
