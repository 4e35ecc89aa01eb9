"""Wiring: the data apps' own "data changed" signals, sent inside the writing transaction,
append upserts in it; deletions append tombstones in the deleting transaction (post_delete).
An event therefore commits or rolls back with its write, and a failure to append fails the
write (a feed never misses a committed change). Deletions made with the audit log
disabled are maintenance (the archive moving rows out of the hot table, retention, an account
purge) and get no tombstone."""

from __future__ import annotations

from datetime import timedelta

from auditlog.context import auditlog_disabled
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models.signals import post_delete

from goals import receivers as goal_receivers
from goals.care_programs import receivers as program_receivers
from goals.models import HealthGoal
from goals.signals import goals_changed
from healthtrack.changes import services
from healthtrack.changes.models import ChangeEvent
from healthtrack.core import days as calendar
from metrics import services as metrics_services
from metrics.models import HealthMetric
from metrics.signals import measurements_changed
from nutrition import receivers as nutrition_receivers
from nutrition.models import NutritionLog
from nutrition.signals import nutrition_changed

Resource = ChangeEvent.Resource


_MEASUREMENT_IDS_SQL = """
SELECT id FROM metrics_healthmetric WHERE user_id = %s AND metric_type IN ({types})
AND recorded_at >= %s AND recorded_at <= %s
"""


def on_measurements_changed(sender, *, user_id, metric_types, start, end, **kwargs) -> None:
    facts = kwargs.get("facts")
    if facts and facts.get(services.MEASUREMENT_APPENDED) is not None:
        # A plain insert's statement appended its event already (`measurement_inserted_append`).
        services.announce_inserted_measurement(user_id, facts)
        return
    # The ids as SQL: on every measurement write, building this QuerySet cost more than the
    # append itself.
    types = sorted(metric_types)
    ids = _MEASUREMENT_IDS_SQL.format(types=", ".join(["%s"] * len(types)))
    adapt = connection.ops.adapt_datetimefield_value
    params = [user_id, *types, adapt(start), adapt(end)]
    # Every write and deletion of measurements holds the person's lock (metrics.services).
    services.record_upserts(
        user_id=user_id,
        resource=Resource.MEASUREMENT,
        existing_ids=lambda: (ids, params),
        locked_ids=True,
        # What the write's other receivers would each ask in a statement of their own
        # (goals: which active goals? webhooks: any live subscription?).
        ask=services.measurement_questions(user_id),
        facts=kwargs.get("facts"),
    )


# The table's name from the model's metadata; every value is a parameter.
_NUTRITION_IDS_SQL = (
    f'SELECT "id" FROM "{NutritionLog._meta.db_table}" WHERE "user_id" = %s AND ({{spans}})'  # noqa: S608
)
_NUTRITION_SPAN_SQL = '("logged_at" >= %s AND "logged_at" < %s)'
_NUTRITION_ENTRIES_SQL = (
    f'SELECT "id" FROM "{NutritionLog._meta.db_table}" WHERE "user_id" = %s AND "id" IN ({{ids}})'  # noqa: S608
)


def on_nutrition_changed(sender, *, user_id, days, entry_ids=None, **kwargs) -> None:
    if entry_ids is not None:
        # The entries the write created or changed: an event for each, none for the day's
        # other entries (a deletion names none: its tombstone is its event). The writer
        # holds their rows (inserted, or locked for update, in its transaction), so nobody
        # else creates, deletes or announces them meanwhile: on PostgreSQL lock,
        # append and advance are one statement, which also answers the questions the
        # feed's receivers would ask in a statement of their own: the webhooks' (any live
        # subscription?), and for the write's follow-up (`nutrition_committed`, sent by the
        # write's own send after the commit with these `facts`) the goals' (which active
        # goals?) and the care programs' (any active program?).
        if not entry_ids:
            return
        ids = sorted(entry_ids)
        sql = _NUTRITION_ENTRIES_SQL.format(ids=", ".join(["%s"] * len(ids)))
        ask = services.measurement_questions(user_id)
        ask[program_receivers.HAS_ACTIVE_PROGRAM] = program_receivers.has_active_program_question(
            user_id
        )
        facts = kwargs.get("facts")
        services.record_upserts(
            user_id=user_id,
            resource=Resource.NUTRITION_ENTRY,
            existing_ids=lambda: (sql, [user_id, *ids]),
            locked_ids=True,
            ask=ask,
            facts={} if facts is None else facts,
        )
        return

    def existing():
        # The entries logged on `days` (the owner's local days), as SQL: for a writer that
        # does not name its entries (a bulk load).
        tz = kwargs.get("tz") or calendar.zone_of(user_id)
        adapt = connection.ops.adapt_datetimefield_value
        params = [user_id]
        for day in sorted(days):
            params += [
                adapt(calendar.day_start(day, tz)),
                adapt(calendar.day_start(day + timedelta(1), tz)),
            ]
        spans = " OR ".join([_NUTRITION_SPAN_SQL] * len(days))
        return _NUTRITION_IDS_SQL.format(spans=spans), params

    if days:
        services.record_upserts(
            user_id=user_id, resource=Resource.NUTRITION_ENTRY, existing_ids=existing
        )


def on_goals_changed(sender, *, user_id, goal_ids, **kwargs) -> None:
    # Deleted goals have their tombstone already (post_delete); the rest exist.
    def existing():
        return HealthGoal._base_manager.filter(user_id=user_id, pk__in=list(goal_ids)).values_list(
            "pk", flat=True
        )

    services.record_upserts(user_id=user_id, resource=Resource.GOAL, existing_ids=existing)


def _tombstone(resource: str):
    def receiver(sender, instance, **kwargs) -> None:
        if auditlog_disabled.get():
            return
        services.record_deletions(
            user_id=instance.user_id, resource=resource, object_ids=[instance.pk]
        )

    return receiver


on_metric_deleted = _tombstone(Resource.MEASUREMENT)
on_nutrition_deleted = _tombstone(Resource.NUTRITION_ENTRY)
on_goal_deleted = _tombstone(Resource.GOAL)


def on_user_deleted(sender, instance, **kwargs) -> None:
    services.forget_user(user_id=instance.pk)


def _connect_first(signal, receiver, dispatch_uid: str) -> None:
    """Connect `receiver` ahead of the signal's other receivers (goals, insights), whatever
    the order the apps became ready in. Lock order: a deletion's tombstone locks the person's
    `ChangeSequence` row before the data signal is sent, so every write must lock it before
    the outbox rows the other receivers lock (`healthtrack.core.outbox`, one pending row per person
    and kind); otherwise a delete and a create of one person could deadlock.
    (Django keeps receivers in connection order and offers no priority: the list is reordered
    under the signal's lock; tests/changes/test_change_feed.py checks the order.)"""
    signal.connect(receiver, dispatch_uid=dispatch_uid)
    with signal.lock:
        signal.receivers.sort(key=lambda entry: entry[0][0] != dispatch_uid)
        signal.sender_receivers_cache.clear()


def connect() -> None:
    metrics_services.fold_into_inserts("changes.measurements", services.measurement_inserted_append)
    services.ask_on_measurement_writes(
        goal_receivers.ACTIVE_GOAL_TYPES, goal_receivers.active_goal_types_question
    )
    _connect_first(measurements_changed, on_measurements_changed, "changes.measurements")
    _connect_first(nutrition_changed, on_nutrition_changed, "changes.nutrition")
    _connect_first(goals_changed, on_goals_changed, "changes.goals")
    post_delete.connect(on_metric_deleted, sender=HealthMetric, dispatch_uid="changes.metric_del")
    post_delete.connect(
        on_nutrition_deleted, sender=NutritionLog, dispatch_uid="changes.nutrition_del"
    )
    post_delete.connect(on_goal_deleted, sender=HealthGoal, dispatch_uid="changes.goal_del")
    post_delete.connect(on_user_deleted, sender=get_user_model(), dispatch_uid="changes.user_del")
    # Not the change feed's: the project's wiring of a weight write to the nutrition app's
    # cached daily totals (their targets read the latest weight; neither app imports the other).
    measurements_changed.connect(
        nutrition_receivers.on_measurements_changed, dispatch_uid="nutrition.daily_weight"
    )
