from __future__ import annotations

from fernet_fields import EncryptedTextField


class OptionalEncryptedTextField(EncryptedTextField):
    """An encrypted text column that stores an empty value as NULL.

    Most measurements carry no note; skipping Fernet for them keeps bulk inserts and list
    reads cheap. A non-empty note is encrypted as usual.
    """

    def __init__(self, *args, **kwargs):
        kwargs["null"] = True
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def get_db_prep_save(self, value, connection):
        if value in (None, ""):
            return None
        return super().get_db_prep_save(value, connection)

    def from_db_value(self, value, expression, connection, *args):
        if value is None:
            return ""
        return super().from_db_value(value, expression, connection, *args)
