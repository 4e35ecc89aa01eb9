"""Liveness (/health) and readiness (/ready) probes.

`/health` is asked every few seconds by every load balancer and orchestrator, and it only says
that the process answers. `LivenessProbe` (wrapped around the WSGI application in
`healthtrack/wsgi.py`) answers a plain `GET /health` itself, before Django's handler and
middleware chain, with the status, body and headers Django gave the same request: the first
such request of a process goes through Django, and its answer (200 only) is kept per scheme
(the HSTS header depends on it). What a probe still gets each time: its own `X-Request-ID`,
its access-log line and its latency in the Prometheus histogram, as the middleware would write
them. Anything else (HEAD, a CORS `Origin`, `/health/`, a scheme not answered yet, a non-200)
goes through Django. What is written per request is shared with the cached answers served in
front of Django (`healthtrack.front.answer_in_front`).
"""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse

from healthtrack.front import RouteSeries, answer_in_front, remembering


def health(request):
    """Liveness: the process answers. Touches neither the database nor the cache."""
    return JsonResponse({"status": "ok", "version": settings.HEALTHTRACK_VERSION})


PROBE_PATH = "/health"
_KEEP_AT_MOST = 32  # (scheme, forwarded scheme) answers kept per process


class LivenessProbe:
    """WSGI middleware: `GET /health` answered from the process alone (see the module doc)."""

    def __init__(self, application):
        self.application = application
        self.answers: dict[tuple, tuple[str, list[tuple[str, str]], bytes]] = {}
        self.series = RouteSeries("health")  # looked up in the histogram once

    def __call__(self, environ, start_response):
        if (
            environ.get("PATH_INFO") != PROBE_PATH
            or environ.get("REQUEST_METHOD") != "GET"
            or "HTTP_ORIGIN" in environ
        ):
            return self.application(environ, start_response)
        key = (environ.get("wsgi.url_scheme"), environ.get("HTTP_X_FORWARDED_PROTO"))
        answer = self.answers.get(key)
        if answer is None:
            return self._through_django(key, environ, start_response)
        return self._answer(answer, environ, start_response)

    def _answer(self, answer, environ, start_response):
        from healthtrack import request_id

        started = time.perf_counter()
        status, headers, body = answer
        request_id.bind_request_id(environ.get(request_id.META_KEY))
        return answer_in_front(
            start_response,
            environ,
            started=started,
            status=status,
            headers=headers,
            body=body,
            series=self.series,
            path=PROBE_PATH,
        )

    def _through_django(self, key, environ, start_response):
        from healthtrack import request_id

        seen, keep = remembering(start_response)
        chunks = self.application(environ, keep)
        try:
            body = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        if seen.get("status", "").startswith("200 ") and len(self.answers) < _KEEP_AT_MOST:
            headers = [(k, v) for k, v in seen["headers"] if k != request_id.HEADER]
            self.answers[key] = (seen["status"], headers, body)
        return [body]


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
