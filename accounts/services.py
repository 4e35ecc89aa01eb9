"""Writes on accounts: keyword-only, atomic."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.credentials import credentials_revoke_all
from accounts.models import User
from accounts.notices import notice_send
from accounts.validation import clean_user


@transaction.atomic
def user_register(*, email: str, username: str, password: str, **profile) -> User:
    user = User(email=email, username=username, **profile)
    clean_user(user, password=password)
    user.set_password(password)
    user.save()
    return user


@transaction.atomic
def user_register_request(
    *, base_url: str, email: str, username: str, password: str, **profile
) -> User | None:
    """Registration that answers the same whether or not the name or address is taken.

    What only the input decides (password rules, the form of the username and address) is a
    ValidationError as before. Then: a new account is created and welcomed by e-mail; an
    address that has an account gets an e-mail saying someone tried to register with it; a
    taken username (any case) is told to the address given. Returns the new user, or None;
    the caller answers the same in every case (README, security: residual risk)."""
    user = User(email=(email or "").strip().lower(), username=username, **profile)
    user.set_password(password)  # the same work in every case
    clean_user(user, password=password, check_unique=False)
    if User.objects.filter(email__iexact=user.email).exists():
        reset_url = base_url.rstrip("/") + reverse("password_reset")
        notice_send(
            to=user.email, name="registration_email_taken", context={"reset_url": reset_url}
        )
        return None
    if User.objects.filter(username__iexact=user.username).exists():
        signup_url = base_url.rstrip("/") + reverse("signup")
        notice_send(
            to=user.email,
            name="registration_username_taken",
            context={"username": user.username, "signup_url": signup_url},
        )
        return None
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # registered meanwhile by a concurrent request
        return None
    notice_send(to=user.email, name="welcome", context={"username": user.username})
    return user


@transaction.atomic
def user_soft_delete(*, user: User) -> None:
    """Deactivate now and revoke every credential (JWTs, refresh tokens, personal API tokens:
    accounts.credentials); the data stays until the retention job purges it."""
    user.is_active = False
    user.deleted_at = timezone.now()
    user.save(update_fields=["is_active", "deleted_at"])
    credentials_revoke_all(user=user)
