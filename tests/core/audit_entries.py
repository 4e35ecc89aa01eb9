"""What the tests of a row written with its audit entry in one statement
(`healthtrack.core.audit_rows`) compare with the entry django-auditlog writes itself."""

from __future__ import annotations

from auditlog.models import LogEntry

# The entry's fields that must match auditlog's own (its id and timestamp differ by nature).
COMPARED = [
    "content_type_id",
    "object_repr",
    "serialized_data",
    "action",
    "changes_text",
    "actor_id",
    "actor_email",
    "remote_addr",
    "remote_port",
    "additional_data",
    "cid",
]


def entry_of(instance) -> LogEntry:
    """The one audit entry of `instance`."""
    (entry,) = LogEntry.objects.get_for_object(instance)
    return entry


def compared(entry: LogEntry) -> dict:
    return {name: getattr(entry, name) for name in COMPARED}
