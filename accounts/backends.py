from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from accounts import lockout


class EmailOrUsernameBackend(ModelBackend):
    """Log in with either the e-mail address or the username, both case-insensitively (each
    names at most one account: unique whatever the case).

    A locked account (accounts.lockout) is refused even with the right password; a
    successful login clears its failure count. Failures are counted by lockout's
    `user_login_failed` receiver, which `authenticate()` triggers."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        User = get_user_model()
        login = username or kwargs.get(User.USERNAME_FIELD) or kwargs.get("email")
        if not login or password is None:
            return None
        user = lockout.find_user_by_login(login)
        # An unknown name is locked like an account, with the same message.
        lock = lockout.lock_for(user.pk) if user else lockout.unknown_lock_for(login)
        if lock is not None:
            # Stops authenticate() at once (no other backend is tried).
            raise PermissionDenied(lock.message)
        if user is None:
            # Same cost as a real check, so timing does not reveal which accounts exist.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            lockout.login_success_record(user_id=user.pk)
            return user
        return None

    def user_can_authenticate(self, user) -> bool:
        # Dependents (family member profiles) have no login of their own.
        return (
            super().user_can_authenticate(user)
            and user.deleted_at is None
            and not getattr(user, "is_dependent", False)
        )
