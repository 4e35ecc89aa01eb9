"""Unknown fields in an API write are refused, never silently dropped.

One rule for every JSON (and multipart) write under /api/v1/: a key the endpoint does not
accept is answered with 400 ``{"unknown_field": ["Unknown field: 'foo'. Accepted: a, b."]}``.
Read-only fields (``id``, computed values) are not accepted either: a client sends only what it
may change. Serializers get the rule from :class:`StrictFieldsMixin`; the few views that read a
body without a serializer call :func:`refuse_unknown_fields`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rest_framework import serializers
from rest_framework.fields import empty

UNKNOWN_FIELD = "unknown_field"


def unknown_fields_message(unknown: Iterable[str], accepted: Iterable[str]) -> str:
    unknown = sorted(unknown)
    names = ", ".join(f"'{name}'" for name in unknown)
    label = "Unknown field" if len(unknown) == 1 else "Unknown fields"
    return f"{label}: {names}. Accepted: {', '.join(sorted(accepted))}."


def unknown_fields(data, accepted: Iterable[str]) -> list[str]:
    if not isinstance(data, Mapping):
        return []
    accepted = set(accepted)
    return sorted(str(key) for key in data if key not in accepted)


def refuse_unknown_fields(data, accepted: Iterable[str]) -> None:
    """Raise a 400 naming every key of `data` outside `accepted` (nothing if not a mapping)."""
    accepted = list(accepted)
    unknown = unknown_fields(data, accepted)
    if unknown:
        raise serializers.ValidationError(
            {UNKNOWN_FIELD: [unknown_fields_message(unknown, accepted)]}
        )


class StrictFieldsMixin:
    """Put first in a write serializer's bases: keys that are not writable fields are a 400."""

    def run_validation(self, data=empty):
        # Before the field checks, and whatever a subclass does in `to_internal_value`.
        accepted = [name for name, f in self.fields.items() if not f.read_only]
        refuse_unknown_fields(data, accepted)
        return super().run_validation(data)
