"""The rules of a clinician's note, for `insights.services` to call before it writes. Errors
are keyed by field (the API names `user_id` for the patient)."""

from __future__ import annotations

from django.core.exceptions import ValidationError


def clean_note_patient(*, author, patient) -> None:
    """A note is about someone other than its author (checked before who may write it)."""
    if author.pk == patient.pk:
        raise ValidationError({"user_id": ["Choose a patient in your care, not yourself."]})


def clean_note(note) -> None:
    """A title and message within their lengths and a known severity: the model's field
    definitions (the patient, author and reviewer are set by the service, not submitted)."""
    note.full_clean(exclude=["user", "author", "reviewed_by"])
