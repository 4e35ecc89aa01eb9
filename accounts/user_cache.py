"""The JWT user cache entry: the user row (never the password hash; encrypted columns as their
Fernet tokens) followed by the user's revocation list, under `auth:user:<shape>:<id>`.
Read by accounts.api.jwt_authentication; dropped on every User save/delete and by
accounts.credentials when the revocation list changes (both import this module, neither the
other).
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.db import connection, router, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.encoding import force_bytes
from fernet_fields.fields import EncryptedField

from accounts.models import User


def user_cache_key(user_id) -> str:
    return f"auth:user:{_SHAPE}:{user_id}"


CACHED_FIELDS = tuple(f.attname for f in User._meta.concrete_fields if f.attname != "password")
# The columns' names in the key: after a deploy that adds, drops or reorders a column, entries
# written by the old code are never read as the new shape. The entry ends with the user's
# revocation list (accounts.credentials), so checking it costs no second lookup.
_SHAPE = hashlib.sha256(",".join([*CACHED_FIELDS, "+revoked"]).encode()).hexdigest()[:8]
_ENCRYPTED = {f.attname: f for f in User._meta.concrete_fields if isinstance(f, EncryptedField)}


def to_cache(user: User) -> list:
    values = []
    for name in CACHED_FIELDS:
        value = getattr(user, name)
        field = _ENCRYPTED.get(name)
        if field is not None and value is not None:
            prepared = super(EncryptedField, field).get_db_prep_save(value, connection)
            value = field.fernet.encrypt(force_bytes(prepared))
        values.append(value)
    return values


def from_cache(values: list) -> User:
    values = [
        _ENCRYPTED[name].from_db_value(value, None, connection)
        if name in _ENCRYPTED and value is not None
        else value
        for name, value in zip(CACHED_FIELDS, values, strict=True)
    ]
    return User.from_db(router.db_for_read(User), CACHED_FIELDS, values)


def user_cache_forget(user_id) -> None:
    """Drop the cached row now and once more when the current transaction commits (a request
    reading the old row meanwhile could have put it back)."""
    key = user_cache_key(user_id)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key), robust=True)


@receiver(post_save, sender=User, dispatch_uid="auth-user-cache-save")
@receiver(post_delete, sender=User, dispatch_uid="auth-user-cache-delete")
def _forget_changed_user(sender, instance, **kwargs) -> None:
    user_cache_forget(instance.pk)
