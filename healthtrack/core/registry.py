"""What an app offers the layers below it, registered by name of function, never found by name
of app: each app adds its own in `AppConfig.ready()`, so the order is INSTALLED_APPS order.

    class MetricsConfig(AppConfig):
        def ready(self) -> None:
            from healthtrack.core import registry
            from metrics import demo

            registry.demo_seeder_register(demo.seed)

`accounts.demo.seed_demo` creates the demo people and then runs every registered seeder.
"""

from __future__ import annotations

from collections.abc import Callable

_demo_seeders: list[Callable] = []


def demo_seeder_register(seed: Callable) -> None:
    """Add `seed(*, users, days, rng)`, which must be idempotent (registering twice is one)."""
    if seed not in _demo_seeders:
        _demo_seeders.append(seed)


def demo_seeders() -> list[Callable]:
    """The registered demo seeders, in registration (INSTALLED_APPS) order."""
    return list(_demo_seeders)
