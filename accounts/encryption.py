"""Helpers around django-fernet-fields' encrypted fields (key rotation, introspection)."""

from __future__ import annotations

from django.apps import apps
from fernet_fields import EncryptedField


def encrypted_fields() -> list[tuple[type, list[str]]]:
    """Every (model, [encrypted field names]) pair in the project."""
    found = []
    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedField)]
        if names:
            found.append((model, names))
    return found


def reset_key_caches() -> None:
    """Forget the Fernet objects each field built from settings.FERNET_KEYS (they are cached
    per field), so that a change of keys takes effect in this process."""
    for model, names in encrypted_fields():
        for name in names:
            field = model._meta.get_field(name)
            for attr in ("keys", "fernet_keys", "fernet"):
                field.__dict__.pop(attr, None)
