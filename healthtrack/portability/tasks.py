"""Celery tasks: load by id, call one service, safe to run twice. The names match the routes
in settings (`*.import_*` -> queue "imports", `*.purge_*` -> queue "maintenance")."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from healthtrack.portability import services


@shared_task(
    name="portability.import_file",
    autoretry_for=(OperationalError,),
    max_retries=3,
    retry_backoff=True,
    time_limit=settings.IMPORT_TASK_TIME_LIMIT,
    soft_time_limit=settings.IMPORT_TASK_TIME_LIMIT - 60,
)
def import_file(job_id: int) -> str | None:
    """Run an import job on its stored upload; a finished job is left as it is."""
    job = services.import_job_run(job_id=job_id)
    return job.status if job is not None else None


@shared_task(
    name="portability.purge_deleted_accounts", autoretry_for=(OperationalError,), max_retries=3
)
def purge_deleted_accounts() -> int:
    """Daily (Celery beat): purge accounts deleted more than ACCOUNT_PURGE_AFTER_DAYS ago."""
    return services.deleted_accounts_purge()
