"""Functions the other apps offer `accounts` (dashboard panels, demo data), found at run time
so that `accounts`, the base app, imports none of them."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable

from django.apps import apps


def app_hooks(module: str, name: str) -> list[Callable]:
    """`<app>.<module>.<name>` of each installed top-level app but accounts that has it, in
    INSTALLED_APPS order."""
    found = []
    for config in apps.get_app_configs():
        if config.name == "accounts" or "." in config.name:
            continue
        if importlib.util.find_spec(f"{config.name}.{module}") is None:
            continue
        loaded = importlib.import_module(f"{config.name}.{module}")
        if hasattr(loaded, name):
            found.append(getattr(loaded, name))
    return found
