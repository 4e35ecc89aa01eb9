from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from accounts import (
            checks,  # noqa: F401  (registers the system checks)
            lockout,  # noqa: F401  (counts failed logins: user_login_failed)
            user_cache,  # noqa: F401  (drops cached users on save)
        )
