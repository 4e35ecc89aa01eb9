from __future__ import annotations

from datetime import date

from celery import shared_task
from django.db import DatabaseError

from goals import programs


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
