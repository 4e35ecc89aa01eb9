"""Writes on accounts: keyword-only, atomic."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import ApiToken, User


@transaction.atomic
def user_register(*, email: str, username: str, password: str, **profile) -> User:
    user = User(email=email, username=username, **profile)
    validate_password(password, user)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user


def user_revoke_tokens(*, user: User) -> int:
    """Blacklist every refresh token the user holds; returns how many were revoked."""
    tokens = OutstandingToken.objects.filter(user=user).exclude(blacklistedtoken__isnull=False)
    revoked = [BlacklistedToken(token=t) for t in tokens]
    BlacklistedToken.objects.bulk_create(revoked, ignore_conflicts=True)
    return len(revoked)


@transaction.atomic
def user_soft_delete(*, user: User) -> None:
    """Deactivate now and revoke every credential (refresh tokens, personal API tokens);
    the data stays until the retention job purges it."""
    now = timezone.now()
    user.is_active = False
    user.deleted_at = now
    user.save(update_fields=["is_active", "deleted_at"])
    user_revoke_tokens(user=user)
    ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
