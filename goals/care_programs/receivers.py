"""Care programs listen to the data signals and enqueue an adherence recompute per program.

As for goals (`goals.receivers`): enqueue through the outbox, in the writing transaction (the
row commits or rolls back with the write; for the diary, in the follow-up's own transaction
after it committed: `nutrition.signals.nutrition_committed`), never compute here. An error fails
the write (for the diary, the follow-up, which the relay's task then retries).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date, timedelta

from django.dispatch import receiver

from goals.care_programs.models import CareProgram
from goals.care_programs.programs import METRIC_CODES
from healthtrack.core import days as calendar
from healthtrack.core.outbox import enqueue_on_commit
from metrics.signals import measurements_changed, rollups_recut
from nutrition.signals import nutrition_committed

MAX_SPAN_DAYS = 400
ADHERENCE_TASK = "goals.recompute_program_adherence"
#: The change feed's fact (`healthtrack.changes.services.record_upserts`' `facts`): whether
#: the person has an active care program at all, read in a diary write's feed statement.
HAS_ACTIVE_PROGRAM = "goals.care_programs.has_active"
_HAS_ACTIVE_PROGRAM_SQL = (
    f'SELECT EXISTS (SELECT 1 FROM "{CareProgram._meta.db_table}"'  # noqa: S608
    ' WHERE "user_id" = %s AND "status" = %s)'
)


def has_active_program_question(user_id: int) -> tuple[str, list]:
    return _HAS_ACTIVE_PROGRAM_SQL, [user_id, CareProgram.Status.ACTIVE.value]


def enqueue_adherence(user_id: int, days: Iterable[date]) -> None:
    days = sorted(set(days))
    if not days:
        return
    program_ids = list(
        CareProgram.objects.for_user(user_id)
        .active()
        .covering(days[0], days[-1])
        .values_list("pk", flat=True)
    )
    iso = [d.isoformat() for d in days]
    digest = hashlib.sha256(",".join(iso).encode()).hexdigest()[:24]
    for program_id in program_ids:
        enqueue_on_commit(
            ADHERENCE_TASK,
            {"program_id": program_id, "days": iso},
            dedupe_key=f"program-adherence:{program_id}:{digest}",
        )


@receiver(measurements_changed, dispatch_uid="goals.care_programs.programs.on_measurements_changed")
def on_measurements_changed(
    sender, *, user_id: int, metric_types, start=None, end=None, **kwargs
) -> None:
    if start is None or end is None or not METRIC_CODES & set(metric_types):
        return
    tz = kwargs.get("tz") or calendar.zone_of(user_id)  # the owner's local days
    first, last = calendar.day_of(start, tz), calendar.day_of(end, tz)
    if "exercise" in metric_types:
        last += timedelta(days=6)  # a strength session counts for the week after it
    elif "sleep" in metric_types:
        last += timedelta(days=1)  # sleep from noon counts for the next morning's night
    if (last - first).days > MAX_SPAN_DAYS:
        first = last - timedelta(days=MAX_SPAN_DAYS)
    enqueue_adherence(user_id, (first + timedelta(days=n) for n in range((last - first).days + 1)))


@receiver(rollups_recut, dispatch_uid="goals.care_programs.programs.on_rollups_recut")
def on_rollups_recut(sender, *, user_id: int, **kwargs) -> None:
    # The person's days moved (a new time zone): every day of their active programs.
    for program_id in CareProgram.objects.for_user(user_id).active().values_list("pk", flat=True):
        enqueue_on_commit(
            ADHERENCE_TASK,
            {"program_id": program_id, "days": None},
            dedupe_key=f"program-adherence:{program_id}:all",
        )


@receiver(nutrition_committed, dispatch_uid="goals.care_programs.programs.on_nutrition_changed")
def on_nutrition_changed(sender, *, user_id: int, days, facts=None, **kwargs) -> None:
    # `facts`: answered in the write's change-feed statement when the write's own send sends
    # this (nutrition.services); a person with no active program has nothing to recompute.
    # (A program activated after that statement recomputes its days itself.)
    if (facts or {}).get(HAS_ACTIVE_PROGRAM) is False:
        return
    enqueue_adherence(user_id, days)
