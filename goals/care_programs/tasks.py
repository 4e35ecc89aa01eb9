from __future__ import annotations

import logging
from datetime import date

from celery import shared_task
from django.db import DatabaseError

from goals.care_programs import programs

logger = logging.getLogger(__name__)


@shared_task(
    name="goals.recompute_program_adherence",
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    max_retries=3,
)
def recompute_program_adherence(program_id: int, days: list[str] | None = None) -> int:
    """Recompute a program's adherence for `days` (ISO dates; None: all). Safe to run twice,
    late or out of order: it recomputes from the committed data under the program's lock."""
    parsed = [date.fromisoformat(d) for d in days] if days is not None else None
    return programs.program_adherence_recompute(program_id=program_id, days=parsed)


@shared_task(name="goals.complete_ended_programs", autoretry_for=(DatabaseError,), max_retries=3)
def complete_ended_programs() -> int:
    """Daily (Celery beat): programs whose end date has passed become completed. Idempotent:
    a second run finds nothing left to complete."""
    completed = programs.programs_complete_ended()
    logger.info("care programs completed: %d", len(completed))
    return len(completed)
