"""Events from the change feed: a measurement created or deleted is observation.created /
observation.deleted (FHIR ids, never values), recorded in the feed's own transaction."""

from __future__ import annotations

from healthtrack.changes.models import ChangeEvent
from healthtrack.changes.signals import changes_recorded
from healthtrack.webhooks import services

OBSERVATION_EVENTS = {
    ChangeEvent.Action.CREATED: "observation.created",
    ChangeEvent.Action.DELETED: "observation.deleted",
}


def on_changes_recorded(sender, *, user_id, events, **kwargs) -> None:
    for event in events:
        event_type = OBSERVATION_EVENTS.get(event.action)
        if event.resource != ChangeEvent.Resource.MEASUREMENT or event_type is None:
            continue
        services.event_record(
            patient_id=user_id,
            event_type=event_type,
            data={"resourceType": "Observation", "id": f"metric-{event.object_id}"},
        )


def connect() -> None:
    changes_recorded.connect(on_changes_recorded, dispatch_uid="webhooks.changes")
