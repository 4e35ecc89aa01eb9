"""Care programs listen to the data signals and enqueue an adherence recompute per program.

As for goals (`goals.receivers`): enqueue through `transaction.on_commit`, never compute here,
and never fail the data write (errors are logged).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, timedelta

from django.db import DatabaseError, transaction
from django.dispatch import receiver

from accounts import days as calendar
from goals.models import CareProgram
from goals.program_tasks import recompute_program_adherence
from goals.programs import METRIC_CODES
from metrics.signals import measurements_changed, rollups_recut
from nutrition.signals import nutrition_changed

logger = logging.getLogger(__name__)
MAX_SPAN_DAYS = 400


def enqueue_adherence(user_id: int, days: Iterable[date]) -> None:
    days = sorted(set(days))
    if not days:
        return
    try:
        program_ids = list(
            CareProgram.objects.for_user(user_id)
            .active()
            .covering(days[0], days[-1])
            .values_list("pk", flat=True)
        )
    except DatabaseError as exc:
        logger.error("programs: could not find programs to recompute: %s", type(exc).__name__)
        return
    iso = [d.isoformat() for d in days]
    for program_id in program_ids:
        transaction.on_commit(
            lambda pid=program_id: recompute_program_adherence.delay(pid, iso), robust=True
        )


@receiver(measurements_changed, dispatch_uid="goals.programs.on_measurements_changed")
def on_measurements_changed(
    sender, *, user_id: int, metric_types, start=None, end=None, **kwargs
) -> None:
    if start is None or end is None or not METRIC_CODES & set(metric_types):
        return
    tz = calendar.zone_of(user_id)  # the owner's local days
    first, last = calendar.day_of(start, tz), calendar.day_of(end, tz)
    if "exercise" in metric_types:
        last += timedelta(days=6)  # a strength session counts for the week after it
    elif "sleep" in metric_types:
        last += timedelta(days=1)  # sleep from noon counts for the next morning's night
    if (last - first).days > MAX_SPAN_DAYS:
        first = last - timedelta(days=MAX_SPAN_DAYS)
    enqueue_adherence(user_id, (first + timedelta(days=n) for n in range((last - first).days + 1)))


@receiver(rollups_recut, dispatch_uid="goals.programs.on_rollups_recut")
def on_rollups_recut(sender, *, user_id: int, **kwargs) -> None:
    # The person's days moved (a new time zone): every day of their active programs.
    try:
        program_ids = list(
            CareProgram.objects.for_user(user_id).active().values_list("pk", flat=True)
        )
    except DatabaseError as exc:
        logger.error("programs: could not find programs to recompute: %s", type(exc).__name__)
        return
    for program_id in program_ids:
        transaction.on_commit(
            lambda pid=program_id: recompute_program_adherence.delay(pid, None), robust=True
        )


@receiver(nutrition_changed, dispatch_uid="goals.programs.on_nutrition_changed")
def on_nutrition_changed(sender, *, user_id: int, days, **kwargs) -> None:
    enqueue_adherence(user_id, days)
