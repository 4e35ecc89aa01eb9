"""The rules of a clinician's note, for `insights.services` to call before it writes. Errors
are keyed by field (the API names `user_id` for the patient)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError

from insights.models import AlertAction

NOTE_MAX_LENGTH = 2000
MAX_SNOOZE = timedelta(days=30)
#: Actions whose note may not be empty: a decision that closes or hands on an alert says why.
NOTE_REQUIRED = frozenset({AlertAction.Action.RESOLVE, AlertAction.Action.ESCALATE})


def clean_note_patient(*, author, patient) -> None:
    """A note is about someone other than its author (checked before who may write it)."""
    if author.pk == patient.pk:
        raise ValidationError({"user_id": ["Choose a patient in your care, not yourself."]})


def clean_note(note) -> None:
    """A title and message within their lengths and a known severity: the model's field
    definitions (the patient, author and reviewer are set by the service, not submitted)."""
    note.full_clean(exclude=["user", "author", "reviewed_by"])


def clean_alert_action(action: str) -> None:
    """One of the four decisions a clinician takes on an alert."""
    if action not in AlertAction.Action.values:
        raise ValidationError({"action": ["Choose acknowledge, snooze, resolve or escalate."]})


def clean_alert_note(action: str, note: str | None) -> str:
    """The decision's note, stripped: within its length, and present when the decision closes
    or hands on the alert."""
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationError({"note": [f"Keep the note under {NOTE_MAX_LENGTH} characters."]})
    if action in NOTE_REQUIRED and not note:
        raise ValidationError({"note": ["Write a note saying why."]})
    return note


def clean_snooze_until(snooze_until: datetime | None, *, now: datetime) -> None:
    """A snooze ends in the future, at most 30 days after `now`."""
    if snooze_until is None or snooze_until <= now:
        raise ValidationError({"snooze_until": ["Choose a time in the future."]})
    if snooze_until > now + MAX_SNOOZE:
        raise ValidationError({"snooze_until": ["Snooze for 30 days at most."]})
