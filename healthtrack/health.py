"""Liveness (/health) and readiness (/ready) probes."""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse


def health(request):
    """Liveness: the process answers. Touches neither the database nor the cache."""
    return JsonResponse({"status": "ok", "version": settings.HEALTHTRACK_VERSION})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    key = f"ready:{uuid.uuid4().hex}"
    if settings.REDIS_URL:
        # The app's cache swallows Redis errors (it degrades to misses); the probe must not.
        from django_redis import get_redis_connection

        get_redis_connection("default").ping()
        return
    cache.set(key, "1", 5)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return the value just written")
    cache.delete(key)


def _check_broker() -> None:
    from healthtrack.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=1)


def _check_archive_storage() -> None:
    """The lifecycle archive's bucket answers with our credentials (HEAD bucket)."""
    from django.core.files.storage import storages

    storage = storages["lifecycle_archive"]
    storage.connection.meta.client.head_bucket(Bucket=storage.bucket_name)


def ready(request):
    """Readiness: database, cache and (when one is configured) the Celery broker and the S3
    archive storage."""
    checks = {"database": _check_database, "cache": _check_cache}
    if settings.REDIS_URL and not settings.CELERY_TASK_ALWAYS_EAGER:
        checks["broker"] = _check_broker
    if settings.LIFECYCLE_ARCHIVE_S3_BUCKET:
        checks["archive_storage"] = _check_archive_storage
    results, healthy = {}, True
    for name, check in checks.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # a probe reports every failure, whatever its kind
            healthy = False
            results[name] = {"ok": False, "error": type(exc).__name__}
        else:
            results[name] = {"ok": True}
        results[name]["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": results},
        status=200 if healthy else 503,
    )
