"""The rules of an import, for `healthtrack.portability.services` to call before it writes.
Errors are keyed by field (`kind`)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from healthtrack.portability.models import ImportJob

Kind = ImportJob.Kind


def clean_import_kind(kind: str | None) -> None:
    """A kind given by the caller is one we import (None: told from the content)."""
    if kind is not None and kind not in Kind.values:
        raise ValidationError({"kind": [f"Unknown kind; use one of: {', '.join(Kind.values)}."]})


def clean_kind_against_content(kind: str | None, *, detected: str | None) -> str:
    """The kind to import as: the one given, unless the content (`detected`, from
    `services.detect_kind`) says otherwise; the detected one when none is given."""
    if kind is None:
        if detected is None:
            raise ValidationError(
                {"kind": ["Could not tell what kind of file this is; give `kind`."]}
            )
        return detected
    if detected is not None and detected != kind:
        raise ValidationError({"kind": [f"The file looks like a {detected} file, not {kind}."]})
    return kind
