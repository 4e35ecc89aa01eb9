"""Celery tasks of the insights app (queue `recommendations`). Each takes ids, loads, calls one
service function and is safe to run twice."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError

from insights import cache as rec_cache
from insights import services, snapshot_builder

logger = logging.getLogger(__name__)

RETRY = {
    "autoretry_for": (DatabaseError,),
    "retry_backoff": 5,  # 5 s, 10 s, 20 s ... with jitter
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
}


def _load_user(user_id: int):
    return (
        get_user_model()
        .objects.select_related("nutrition_targets")
        .filter(pk=user_id, is_active=True, deleted_at__isnull=True)
        .first()
    )


@shared_task(name="insights.compute_recommendations", **RETRY)
def compute_recommendations(user_id: int, days: int | None = None) -> int | None:
    """Recompute and store `user_id`'s recommendations (atomic; a rerun on the same data
    writes nothing). Returns how many there are, None for an unknown or inactive user."""
    user = _load_user(user_id)
    if user is None:
        return None
    computed = services.recommendations_compute(user=user, days=days)
    # The stored set may differ from what the API cached (a window slid overnight).
    rec_cache.invalidate(user_id)
    return len(computed.recommendations)


@shared_task(name="insights.nightly_recommendations")
def nightly_recommendations() -> dict:
    """Fan out: one `compute_recommendations_chunk` per RECOMMENDATIONS_NIGHTLY_CHUNK users
    among those due (`snapshot_builder.users_due_for_recommendations`); the others cost nothing."""
    size = int(getattr(settings, "RECOMMENDATIONS_NIGHTLY_CHUNK", 200))
    chunks = users = 0
    chunk: list[int] = []
    for user_id in snapshot_builder.users_due_for_recommendations().iterator(chunk_size=2000):
        chunk.append(user_id)
        if len(chunk) >= size:
            compute_recommendations_chunk.apply_async(args=[chunk])
            chunks, users, chunk = chunks + 1, users + len(chunk), []
    if chunk:
        compute_recommendations_chunk.apply_async(args=[chunk])
        chunks, users = chunks + 1, users + len(chunk)
    logger.info("nightly recommendations: %d users due, %d chunks", users, chunks)
    return {"users": users, "chunks": chunks}


@shared_task(name="insights.compute_recommendations_chunk", **RETRY)
def compute_recommendations_chunk(user_ids: list[int]) -> int:
    """Recompute the chunk's users in one batch (a fixed number of queries, one transaction;
    a database error retries the chunk with backoff, which is safe: a rerun writes nothing
    new). Should the batch fail otherwise (a rule tripping on one person's data), each user is
    computed alone so that one person cannot hold up the others. Returns how many users were
    computed."""
    users = list(
        get_user_model()
        .objects.select_related("nutrition_targets")
        .filter(pk__in=user_ids, is_active=True, deleted_at__isnull=True)
        .order_by("pk")
    )
    try:
        services.recommendations_compute_many(users=users)
        done = len(users)
    except DatabaseError:
        raise
    except Exception as error:
        logger.error(
            "recommendations batch failed (%s); computing one by one", type(error).__name__
        )
        done = 0
        for user in users:
            try:
                services.recommendations_compute(user=user)
            except Exception as single:
                logger.error(
                    "recommendations for user %s failed: %s", user.pk, type(single).__name__
                )
                continue
            done += 1
    rec_cache.invalidate_many(user.pk for user in users)
    return done


@shared_task(name="insights.check_alerts", **RETRY)
def check_alerts(user_id: int, start: str, end: str) -> int:
    """The alert check of a write, retried here when it failed inline (see receivers)."""
    created = services.alerts_check(
        user_id=user_id,
        start=datetime.fromisoformat(start).astimezone(UTC),
        end=datetime.fromisoformat(end).astimezone(UTC),
    )
    return len(created)
