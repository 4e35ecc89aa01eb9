"""Helpers around django-fernet-fields' encrypted fields (key rotation, introspection)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
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


def _fernets() -> tuple[Fernet, MultiFernet]:
    keys = [Fernet(k) for k in settings.FERNET_KEYS]
    return keys[0], MultiFernet(keys)


def rotate_model_field(model, field_name: str, *, batch_size: int = 500) -> tuple[int, int]:
    """Re-encrypt one encrypted column under the first key of FERNET_KEYS.

    Rows already under the first key are skipped, so an interrupted run can simply be started
    again (resumable) and a finished one costs only reads. Works on the raw tokens with
    MultiFernet.rotate: values are never decrypted into Python objects, no model signal fires
    (nothing reaches the audit log, the plaintext did not change). One transaction per batch.
    Returns (rotated, already_current).
    """
    primary, every_key = _fernets()
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(model._meta.get_field(field_name).column)
    pk = connection.ops.quote_name(model._meta.pk.column)
    rotated = current = 0
    last_pk = None
    while True:
        where = f"WHERE {column} IS NOT NULL" + (f" AND {pk} > %s" if last_pk is not None else "")
        params = [last_pk] if last_pk is not None else []
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {pk}, {column} FROM {table} {where} ORDER BY {pk} LIMIT {int(batch_size)}",  # noqa: S608
                params,
            )
            rows = cursor.fetchall()
        if not rows:
            return rotated, current
        updates = []
        for row_pk, raw in rows:
            token = bytes(raw)
            try:
                primary.decrypt(token)
            except InvalidToken:
                updates.append((connection.Database.Binary(every_key.rotate(token)), row_pk))
            else:
                current += 1
        if updates:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(f"UPDATE {table} SET {column} = %s WHERE {pk} = %s", updates)  # noqa: S608
            rotated += len(updates)
        last_pk = rows[-1][0]
