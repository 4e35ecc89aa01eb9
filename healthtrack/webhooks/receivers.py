"""Events, each recorded in the transaction of the write it announces (ids, never values):
observation.created / observation.deleted from the change feed (a measurement created or
deleted); alert.raised when an alert is stored; goal.achieved when a goal is completed;
import.finished when an import job finishes (done or failed)."""

from __future__ import annotations

from django.db.models.signals import post_save

from goals.models import HealthGoal
from healthtrack.changes.models import ChangeEvent
from healthtrack.changes.services import ask_on_measurement_writes
from healthtrack.changes.signals import changes_recorded
from healthtrack.portability.models import ImportJob
from healthtrack.webhooks import services
from insights.models import HealthAlert, HealthInsight

OBSERVATION_EVENTS = {
    ChangeEvent.Action.CREATED: "observation.created",
    ChangeEvent.Action.DELETED: "observation.deleted",
}


def on_changes_recorded(sender, *, user_id, events, facts=None, **kwargs) -> None:
    # Subscriptions first: without one, the events (a lazy QuerySet for an upsert) are
    # never read. A measurement write's change-feed statement answered it already.
    subscribed = (facts or {}).get(services.SUBSCRIBED)
    if subscribed is None:
        subscribed = services.has_subscriptions(patient_id=user_id)
    if not subscribed:
        return
    for event in events:
        event_type = OBSERVATION_EVENTS.get(event.action)
        if event.resource != ChangeEvent.Resource.MEASUREMENT or event_type is None:
            continue
        services.event_record(
            patient_id=user_id,
            event_type=event_type,
            data={"resourceType": "Observation", "id": f"metric-{event.object_id}"},
        )


def _fields(update_fields) -> set[str] | None:
    return None if update_fields is None else set(update_fields)


def on_insight_saved(sender, instance, created, **kwargs) -> None:
    if created and instance.kind == HealthInsight.Kind.ALERT:
        services.event_record(
            patient_id=instance.user_id,
            event_type="alert.raised",
            data={"alert": instance.pk},
        )


def on_goal_saved(sender, instance, created, update_fields=None, **kwargs) -> None:
    fields = _fields(update_fields)
    completed_now = created or fields is None or "completed_at" in fields
    if instance.status == HealthGoal.Status.COMPLETED and completed_now:
        services.event_record(
            patient_id=instance.user_id,
            event_type="goal.achieved",
            data={"resourceType": "Goal", "id": f"goal-{instance.pk}"},
        )


def on_import_saved(sender, instance, created, update_fields=None, **kwargs) -> None:
    fields = _fields(update_fields)
    if instance.finished_at is not None and (fields is None or "finished_at" in fields):
        services.event_record(
            patient_id=instance.user_id,
            event_type="import.finished",
            data={"import": instance.pk, "status": instance.status},
        )


def connect() -> None:
    ask_on_measurement_writes(services.SUBSCRIBED, services.subscribed_question)
    changes_recorded.connect(on_changes_recorded, dispatch_uid="webhooks.changes")
    for model in (HealthInsight, HealthAlert):
        post_save.connect(on_insight_saved, sender=model, dispatch_uid=f"webhooks.{model.__name__}")
    post_save.connect(on_goal_saved, sender=HealthGoal, dispatch_uid="webhooks.goal")
    post_save.connect(on_import_saved, sender=ImportJob, dispatch_uid="webhooks.import")
