from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class EmailOrUsernameBackend(ModelBackend):
    """Log in with either the e-mail address or the username, both case-insensitively."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        User = get_user_model()
        login = username or kwargs.get(User.USERNAME_FIELD) or kwargs.get("email")
        if not login or password is None:
            return None
        field = "email__iexact" if "@" in login else "username__iexact"
        user = User.objects.filter(**{field: login.strip()}).first()
        if user is None:
            # Same cost as a real check, so timing does not reveal which accounts exist.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    def user_can_authenticate(self, user) -> bool:
        # Dependents (family member profiles) have no login of their own.
        return (
            super().user_can_authenticate(user)
            and user.deleted_at is None
            and not getattr(user, "is_dependent", False)
        )
