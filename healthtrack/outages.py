"""Infrastructure outages as clean answers, and quiet logs while they last.

- `server_error` is Django's handler500. When the exception is a connection error of the
  database (`OperationalError`, `InterfaceError`), of Redis or of the Celery broker, the answer
  is 503 with `Retry-After`: under `/api/` the JSON body
  `{"detail": ..., "code": "service_unavailable"}`, elsewhere the `503.html` page, rendered
  without a request (no context processor, so no query). Every other error stays a 500 (JSON
  under `/api/`, `500.html` elsewhere). Each outage answer counts in
  `healthtrack_outage_responses_total{service}`.
- `RepeatedErrorFilter` (on the console handler) lets the first record of a connection error
  through with its stack, then drops the same (logger, error type) for `interval` seconds and
  writes one line with the count when the next one comes after that. A Redis outage under load
  is a handful of lines, not thousands of tracebacks.

Nothing here runs on a request that succeeds.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults
from prometheus_client import Counter

OUTAGE_RESPONSES = Counter(
    "healthtrack_outage_responses",
    "Requests answered 503 because a backing service was unreachable.",
    ["service"],
)

DATABASE, REDIS, BROKER = "database", "redis", "broker"
MESSAGES = {
    DATABASE: "The database is unavailable. Nothing was saved; try again shortly.",
    REDIS: "A backing service (Redis) is unavailable. Try again shortly.",
    BROKER: "The task queue is unavailable. Try again shortly.",
}


_REDIS_ERRORS = {
    ("django_redis", "ConnectionInterrupted"),  # the cache's wrapper around the ones below
    ("redis", "ConnectionError"),
    ("redis", "TimeoutError"),
    ("redis", "BusyLoadingError"),
}


def outage_service(exc: BaseException | None) -> str | None:
    """Which backing service `exc` says is unreachable ("database", "redis", "broker"), or
    None for any other error. Looks through the exception's causes."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, OperationalError | InterfaceError):
            return DATABASE
        root, name = type(exc).__module__.split(".")[0], type(exc).__name__
        if root == "psycopg" and name in {"OperationalError", "InterfaceError"}:
            return DATABASE
        if (root, name) in _REDIS_ERRORS:
            return REDIS
        if root in {"kombu", "amqp"} and name == "OperationalError":
            return BROKER
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def retry_after_seconds() -> int:
    return int(getattr(settings, "OUTAGE_RETRY_AFTER_SECONDS", 5))


def outage_response(request, service: str) -> HttpResponse:
    OUTAGE_RESPONSES.labels(service=service).inc()
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"detail": MESSAGES[service], "code": "service_unavailable"}, status=503
        )
    else:
        try:
            body = loader.render_to_string("503.html")
        except Exception:  # the page must never fail: plain text as the last resort
            body = "Service unavailable. Try again in a minute."
        response = HttpResponse(body, status=503)
    response["Retry-After"] = str(retry_after_seconds())
    return response


def server_error(request):
    """handler500: a 503 for an outage, else the usual 500 (JSON under /api/)."""
    service = outage_service(sys.exc_info()[1])
    if service is not None:
        return outage_response(request, service)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error.", "code": "server_error"}, status=500)
    return defaults.server_error(request)


class RepeatedErrorFilter(logging.Filter):
    """Rate-limits log records of connection errors: per (logger, error type), the first
    with its stack, then at most one line per `interval` seconds, without a stack, saying
    how many were dropped. After `interval` * 5 s of quiet the next one is a first again."""

    def __init__(self, interval: float = 60.0) -> None:
        super().__init__()
        self.interval = float(interval)
        self._lock = threading.Lock()
        self._state: dict[tuple[str, str], list[float]] = {}  # key: [window start, dropped, last]

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None or outage_service(exc) is None:
            return True
        key = (record.name, type(exc).__name__)
        now = time.monotonic()
        with self._lock:
            state = self._state.get(key)
            if state is None or now - state[2] > self.interval * 5:
                self._state[key] = [now, 0, now]
                return True  # the first of a burst, with its stack
            state[2] = now
            if now - state[0] < self.interval:
                state[1] += 1
                return False
            dropped, state[0], state[1] = state[1], now, 0
        message = record.getMessage()
        record.msg = "%s (again; %d more like this in the last %g s were not logged)"
        record.args = (message, dropped, self.interval)
        record.exc_info = None
        record.exc_text = None
        return True


def document_outages(result, generator, request, public):
    """drf-spectacular hook: every operation can answer 503 during an outage."""
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                operation.setdefault("responses", {}).setdefault(
                    "503",
                    {
                        "description": "A backing service (database, Redis) is unreachable: "
                        '`{"detail": ..., "code": "service_unavailable"}`; retry after '
                        "`Retry-After` seconds (with the same Idempotency-Key for a write).",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ApiError"}
                            }
                        },
                    },
                )
    return result
