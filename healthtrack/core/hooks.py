"""What an app offers the layers below it, registered by name of function, never found by name
of app: each app adds its own in `AppConfig.ready()`, so the order is INSTALLED_APPS order.

    class MetricsConfig(AppConfig):
        def ready(self) -> None:
            from healthtrack.core import hooks
            from metrics import demo

            hooks.demo_seeder_register(demo.seed)

- demo seeders: `accounts.demo.seed_demo` creates the demo people, then runs each one;
- encryption rotation hooks: `manage.py rotate_encryption_keys` re-encrypts the database
  columns, then runs each one (encrypted values kept outside the database).
"""

from __future__ import annotations

from collections.abc import Callable

_demo_seeders: list[Callable] = []
_rotation_hooks: list[Callable[[], str]] = []


def demo_seeder_register(seed: Callable) -> None:
    """Add `seed(*, users, days, rng)`, which must be idempotent (registering twice is one)."""
    if seed not in _demo_seeders:
        _demo_seeders.append(seed)


def demo_seeders() -> list[Callable]:
    """The registered demo seeders, in registration (INSTALLED_APPS) order."""
    return list(_demo_seeders)


def encryption_rotation_hook_register(hook: Callable[[], str]) -> None:
    """Add `hook()`, which re-encrypts values kept outside the database under the first key of
    FERNET_KEYS and returns its line of output (registering twice is one)."""
    if hook not in _rotation_hooks:
        _rotation_hooks.append(hook)


def encryption_rotation_hooks() -> list[Callable[[], str]]:
    """The registered rotation hooks, in registration (INSTALLED_APPS) order."""
    return list(_rotation_hooks)
