"""Access log, Prometheus metrics and the `/metrics` endpoint.

- `ObservabilityMiddleware` (second in MIDDLEWARE, after the request id) writes one
  `healthtrack.access` line per request - method, path without query string, route, status,
  duration_ms, user_id - and observes `healthtrack_http_request_duration_seconds` labelled by
  route name (never the raw path: no ids in labels), method and status class.
- Celery task outcomes (`task_success`, `task_failure`, `task_retry`) count into
  `healthtrack_celery_tasks_total{task, state}`; cache tiers count through
  `healthtrack.core.counters` (`healthtrack_cache_hits_total` / `_misses_total`).
- `/metrics` answers staff sessions (TOTP-verified when `ADMIN_REQUIRE_2FA`) and
  `Authorization: Bearer <METRICS_TOKEN>`; anyone else gets 404.
- With several processes (web server workers, prefork Celery children) set
  `PROMETHEUS_MULTIPROC_DIR` to an empty writable directory: every process then writes its
  values there and `/metrics` sums them (see `healthtrack/server.py`).
"""

from __future__ import annotations

import hmac
import logging
import os
import time

from django.conf import settings
from django.http import Http404, HttpResponse
from django.utils.functional import SimpleLazyObject, empty
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from healthtrack.logs import JsonFormatter, json_entry, json_line, redact_path_in_records, safe_path
from healthtrack.outages import RepeatedErrorFilter
from healthtrack.request_id import RequestIdLogFilter, get_request_id

access_logger = logging.getLogger("healthtrack.access")
logger = logging.getLogger(__name__)

HTTP_DURATION = Histogram(
    "healthtrack_http_request_duration_seconds",
    "Time from the request entering the middleware chain to its response.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
TASKS = Counter("healthtrack_celery_tasks", "Celery task outcomes.", ["task", "state"])

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
# Filters that let an access line (INFO, no exception) through unchanged but for the request
# id, which `write_access_line` adds itself.
_PASSING_FILTERS = (RequestIdLogFilter, RepeatedErrorFilter)


def route_name(request) -> str:
    """The URL pattern's name (`api-user-detail`, `admin:index`), or "unmatched"."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNMATCHED
    return match.view_name or match.route or UNMATCHED


def authenticated_user_id(request) -> int | None:
    """The user id when authentication has already run (session middleware or DRF); never
    triggers it, so a request that did not need the user costs no query here."""
    user = request.__dict__.get("user")
    while isinstance(user, SimpleLazyObject):
        wrapped = user._wrapped
        if wrapped is empty:
            return None
        user = wrapped
    if user is not None and getattr(user, "is_authenticated", False):
        return user.pk
    return None


def _plain_json_handler() -> logging.StreamHandler | None:
    """The one handler an access line reaches when logging is configured as LOGGING in
    settings configures it (the root's JSON console handler, its request-id and
    repeated-error filters, nothing else on the way), else None. Checked per line: a test's
    capture handler or any other configuration takes the normal logging path."""
    if access_logger.handlers or access_logger.filters or not access_logger.propagate:
        return None
    parent = access_logger.parent
    while parent is not None and parent is not logging.root:
        if parent.handlers or parent.filters or not parent.propagate:
            return None
        parent = parent.parent
    if logging.root.filters or len(logging.root.handlers) != 1:
        return None
    handler = logging.root.handlers[0]
    if (
        type(handler) is not logging.StreamHandler
        or type(handler.formatter) is not JsonFormatter
        or handler.level > logging.INFO
        or any(type(f) not in _PASSING_FILTERS for f in handler.filters)
    ):
        return None
    return handler


def write_access_line(method: str, path: str, status: int, fields: dict) -> None:
    """One access line, as `access_logger.info("%s %s %s", ..., extra=fields)` would write
    it. With the configured JSON handler the line is written to its stream directly: a
    LogRecord (stack walk, thread and process names) and the handler chain cost more than
    the rest of a /health request's logging and metrics together (issue 15)."""
    message = f"{method} {path} {status}"
    handler = _plain_json_handler()
    if handler is not None:
        entry = json_entry(
            created=time.time(),
            level="INFO",
            logger=access_logger.name,
            message=message,
            request_id=get_request_id(),
            fields=fields,
        )
        line = json_line(entry) + handler.terminator
        handler.acquire()
        try:
            handler.stream.write(line)
            handler.flush()
            return
        except Exception:  # noqa: BLE001, S110 - the logging path below reports it its own way
            pass
        finally:
            handler.release()
    record = access_logger.makeRecord(
        access_logger.name,
        logging.INFO,
        __file__,
        0,
        "%s %s %s",
        (method, path, status),
        None,
        extra=fields,
    )
    access_logger.handle(record)


class ObservabilityMiddleware:
    """Per request: one histogram observation and one access-log line (issue 15: both made
    without the per-call overhead that was ~8 % of a cached read's CPU). The labelled series
    is looked up once per (route, method, status class) and kept; the line is written by
    `write_access_line` (straight to the JSON handler's stream when logging is configured as
    settings configure it; otherwise a LogRecord handed to the logger, without `Logger.info`'s
    stack walk to find the calling line, which no format prints)."""

    def __init__(self, get_response):
        self.get_response = get_response
        # Bounded: routes are the URLconf's names, methods and status classes are few.
        self._series: dict[tuple[str, str, int], object] = {}

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        method = request.method if request.method in _METHODS else "OTHER"
        status = response.status_code
        route = route_name(request)
        key = (route, method, status // 100)
        series = self._series.get(key)
        if series is None:
            series = HTTP_DURATION.labels(route=route, method=method, status=f"{key[2]}xx")
            self._series[key] = series
        series.observe(elapsed)
        if access_logger.isEnabledFor(logging.INFO):
            match = getattr(request, "resolver_match", None)
            path = safe_path(request.path, match.kwargs if match else None)
            write_access_line(
                method,
                path,
                status,
                {
                    "method": method,
                    "path": path,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "user_id": authenticated_user_id(request),
                },
            )
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        redact_path_in_records(request.path, safe_path(request.path, view_kwargs))
        return None


# --- /metrics ---------------------------------------------------------------------------------
def registry() -> CollectorRegistry:
    """This process's registry, or with `PROMETHEUS_MULTIPROC_DIR` one summing every process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined)
        return combined
    return REGISTRY


def may_scrape(request) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header[len("Bearer ") :].encode(), token.encode())
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
        return False
    if settings.ADMIN_REQUIRE_2FA:
        is_verified = getattr(user, "is_verified", None)
        return bool(is_verified and is_verified())
    return True


def metrics(request):
    """Prometheus exposition for staff and the scraper's token; 404 for everyone else."""
    if not may_scrape(request):
        raise Http404
    response = HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response


# --- Celery -----------------------------------------------------------------------------------
def _count(state: str):
    def receiver(sender=None, **kwargs) -> None:
        TASKS.labels(task=getattr(sender, "name", None) or str(sender), state=state).inc()

    return receiver


count_success = _count("success")
count_failure = _count("failure")
count_retry = _count("retry")


def start_worker_metrics_server(**kwargs) -> None:
    """In a Celery worker's main process, serve its metrics on `WORKER_METRICS_PORT` (off when
    0). With the prefork pool tasks run in child processes, so set PROMETHEUS_MULTIPROC_DIR."""
    port = settings.WORKER_METRICS_PORT
    if not port:
        return
    from prometheus_client import start_http_server

    start_http_server(port, addr=settings.WORKER_METRICS_ADDR, registry=registry())
    logger.info("worker metrics on %s:%s", settings.WORKER_METRICS_ADDR, port)
