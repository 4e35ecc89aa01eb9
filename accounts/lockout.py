"""Account lock-out after consecutive failed logins.

`LOGIN_LOCKOUT_FAILURES` (5) failures in a row, each within `LOGIN_LOCKOUT_MINUTES` (15) of
the previous one, lock the account for `LOGIN_LOCKOUT_MINUTES`: while locked even the right
password is refused. A successful login clears the count. Per account, whatever the IP.

Where it is enforced, so that every door gets it:
- `accounts.backends.EmailOrUsernameBackend.authenticate` refuses a locked account
  (PermissionDenied) and clears the count on success: the API token endpoint, the admin and
  the browser login page (Django's auth views) all authenticate through it;
- failures are recorded by a `user_login_failed` receiver (below), which Django sends from
  `authenticate()` whichever view called it;
- a caller that wants to say why (the token endpoint answers 429 with `Retry-After`) asks
  `lock_for_login(login)`.

A name that is no account is counted and locked the same way (`UnknownLoginLockout`, keyed
by a hash of the name), and gets the same 429: the lock-out does not tell real accounts from
unknown ones.

State lives in the database (`LoginLockout`), see the model for why.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone
from prometheus_client import Counter

from accounts.models import LoginLockout, UnknownLoginLockout, User

logger = logging.getLogger(__name__)

LOCKOUTS = Counter("healthtrack_login_lockouts", "Accounts locked after failed logins.")


@dataclass(frozen=True)
class Lock:
    until: datetime

    @property
    def retry_after(self) -> int:
        """Whole seconds until the lock ends (at least 1)."""
        return max(1, math.ceil((self.until - timezone.now()).total_seconds()))

    @property
    def message(self) -> str:
        minutes = math.ceil(self.retry_after / 60)
        unit = "minute" if minutes == 1 else "minutes"
        return (
            f"This account is locked after too many failed logins. Try again in {minutes} {unit}."
        )


def _window() -> timedelta:
    return timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)


def find_user_by_login(login: str | None) -> User | None:
    """The account a login names: e-mail (with an @) or username, both case-insensitively.
    Names are unique whatever their case (migration 0006), so at most one matches; should two
    ever match, neither is chosen."""
    login = (login or "").strip()
    if not login:
        return None
    field = "email__iexact" if "@" in login else "username__iexact"
    matches = list(User.objects.filter(**{field: login})[:2])
    return matches[0] if len(matches) == 1 else None


def unknown_login_key(login: str) -> str:
    return hashlib.sha256(login.strip().lower().encode()).hexdigest()


def lock_for(user_id: int) -> Lock | None:
    """The lock on this account now, or None."""
    until = (
        LoginLockout.objects.filter(user_id=user_id, locked_until__gt=timezone.now())
        .values_list("locked_until", flat=True)
        .first()
    )
    return Lock(until) if until else None


def unknown_lock_for(login: str) -> Lock | None:
    until = (
        UnknownLoginLockout.objects.filter(
            login_hash=unknown_login_key(login), locked_until__gt=timezone.now()
        )
        .values_list("locked_until", flat=True)
        .first()
    )
    return Lock(until) if until else None


def lock_for_login(login: str | None) -> Lock | None:
    """The lock on the account a login names, or on the unknown name (the same answer)."""
    if not (login or "").strip():
        return None
    user = find_user_by_login(login)
    return lock_for(user.pk) if user else unknown_lock_for(login)


@transaction.atomic
def login_failure_record(*, user_id: int) -> Lock | None:
    """Count one failed login; returns the lock when the account is (now) locked.

    Attempts while locked are refused without being counted, so a lock is never extended
    by the attacker who caused it. Concurrent failures serialise on the row."""
    LoginLockout.objects.get_or_create(user_id=user_id)
    row = LoginLockout.objects.select_for_update().get(user_id=user_id)
    lock = _count_failure(row)
    if lock:
        LOCKOUTS.inc()
        logger.warning("account locked after failed logins", extra={"user_id": user_id})
    return lock


@transaction.atomic
def unknown_login_failure_record(*, login: str) -> Lock | None:
    """Count one failed login with a name that is no account, as for a real one. Runs that
    have run out are deleted as they are met, so the table holds the last window only."""
    now = timezone.now()
    UnknownLoginLockout.objects.filter(last_failure_at__lt=now - 2 * _window()).delete()
    key = unknown_login_key(login)
    UnknownLoginLockout.objects.get_or_create(login_hash=key)
    return _count_failure(UnknownLoginLockout.objects.select_for_update().get(login_hash=key))


def _count_failure(row) -> Lock | None:
    now = timezone.now()
    if row.locked_until and row.locked_until > now:
        return Lock(row.locked_until)
    if row.locked_until or (row.last_failure_at and now - row.last_failure_at > _window()):
        row.failures, row.locked_until = 0, None  # an old lock or run has run out
    row.failures += 1
    row.last_failure_at = now
    lock = None
    if row.failures >= settings.LOGIN_LOCKOUT_FAILURES:
        row.failures = 0
        row.locked_until = now + _window()
        lock = Lock(row.locked_until)
    row.save(update_fields=["failures", "last_failure_at", "locked_until"])
    return lock


def login_success_record(*, user_id: int) -> None:
    """A successful login ends the run of failures."""
    LoginLockout.objects.filter(user_id=user_id).delete()


@receiver(user_login_failed, dispatch_uid="accounts.lockout.record_failure")
def _record_failure(sender, credentials: dict, request=None, **kwargs) -> None:
    login = credentials.get("username") or credentials.get("email")
    if not isinstance(login, str) or not login.strip():
        return
    user = find_user_by_login(login)
    if user is not None:
        login_failure_record(user_id=user.pk)
    else:
        unknown_login_failure_record(login=login)
