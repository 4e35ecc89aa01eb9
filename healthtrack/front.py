"""Answers given in front of Django's handler and middleware chain (issue 15).

Two WSGI middlewares wrap the application in `healthtrack/wsgi.py`, both plain WSGI (no server
specifics): `health.LivenessProbe` for `GET /health`, and `CachedReadFront` here for a person's
own cached answer (`accounts.api.readcache.own_hit`: their recommendations, their summary,
any view that answers own hits through `ReadPrefetchMixin`). Django's handler (its request
object, the middleware chain, URL resolving) and the way back cost about as much as the hit
itself; what a request must still get is written here, per request, as the middleware would
(`answer_in_front`): its own `X-Request-ID`, its access-log line, its latency in the
Prometheus histogram under its route's label, and the bench's counters when `BENCH_STATS`
is set. Status line and every other header are the ones Django sent for the same route and
scheme, kept from a real answer (`Content-Length` worked out for each body).

`CachedReadFront` learns from data, not from a list of paths: a view that answered an own
cached hit leaves a note in the request's WSGI environ (`readcache.OWN_HIT_NOTE`, set by
`ReadPrefetchMixin.dispatch`), and the front keeps, per path and scheme (`wsgi.url_scheme`,
`X-Forwarded-Proto`), the view Django resolved it to, with its URL arguments, route label
and the answer's status and headers. A later request to that path with that scheme is
offered to the same checks with the same view class and arguments (`readcache.own_hit_body`,
what `own_hit` answers from): the JWT's signature and expiry, the one Lua call counting the
rate limits and reading the auth cache entry and the body with its version, revocation and
credentials version, the permission classes and `access.can_read`. Anything but a clean hit
goes on through Django with what the round trip found handed over (`readcache.hand_over`:
nothing is fetched or counted twice), and Django answers it as it always does: a miss,
someone else's data (so their read is audited), a 429, a 401, Redis down, unknown query
parameters, a client that does not take JSON. Requests the front never looks at: anything
but GET (HEAD included), a CORS `Origin`, no `Authorization` header, a path or scheme not
answered by Django yet.
"""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass
from types import SimpleNamespace

from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest

from accounts.api import readcache
from healthtrack import benchstats, observability, request_id

logger = logging.getLogger(__name__)

_BENCH_PREFIX = "x-bench-"


def kept_headers(headers) -> tuple[list[tuple[str, str]], int | None]:
    """An answer's headers without those written for each request (`X-Request-ID`, the
    bench's counters), and where its `Content-Length` is (None: it has none), whose value is
    worked out for each body."""
    kept = [
        (name, value)
        for name, value in headers
        if name != "X-Request-ID" and not name.lower().startswith(_BENCH_PREFIX)
    ]
    at = [i for i, (name, _) in enumerate(kept) if name.lower() == "content-length"]
    return kept, (at[0] if at else None)


def remembering(start_response):
    """A `start_response` that passes the call on and keeps the status and headers it was
    given (in the returned dict), so a wrapper can learn from Django's answer."""
    seen: dict = {}

    def keep(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, headers
        return start_response(status, headers, exc_info)

    return seen, keep


class RouteSeries:
    """The latency series of one route's 2xx GETs, looked up in the histogram once."""

    def __init__(self, route: str) -> None:
        self.route = route
        self._series = None

    def observe(self, elapsed: float) -> None:
        if self._series is None:
            self._series = observability.HTTP_DURATION.labels(
                route=self.route, method="GET", status="2xx"
            )
        self._series.observe(elapsed)


def answer_in_front(
    start_response,
    environ,
    *,
    started: float,
    status: str,
    headers: list[tuple[str, str]],
    body: bytes,
    series: RouteSeries,
    path: str,
    user_id: int | None = None,
    length_at: int | None = None,
    extra_headers=(),
) -> list[bytes]:
    """Send a 200 answered in front of Django, with what the middleware writes per request:
    the `X-Request-ID` (bound already by the caller, `request_id.bind_request_id`), the
    latency observation, the access line; then no request is handled in this context."""
    code = int(status[:3])
    rid = request_id.get_request_id() or request_id.bind_request_id(
        environ.get(request_id.META_KEY)
    )
    out = [*headers]
    if length_at is not None:
        out[length_at] = (out[length_at][0], str(len(body)))
    out.append((request_id.HEADER, rid))
    out.extend(extra_headers)
    start_response(status, out)
    elapsed = time.perf_counter() - started
    series.observe(elapsed)
    if observability.access_logger.isEnabledFor(logging.INFO):
        observability.write_access_line(
            "GET",
            path,
            code,
            {
                "method": "GET",
                "path": path,
                "route": series.route,
                "status": code,
                "duration_ms": round(elapsed * 1000, 2),
                "user_id": user_id,
            },
        )
    request_id.forget_request_id()
    return [body]


@dataclass(frozen=True)
class Learnt:
    """What Django did with one path and scheme when it answered an own cached hit."""

    view_func: object  # the URL pattern's callable (`as_view()`), its class and init kwargs
    args: tuple
    kwargs: dict
    series: RouteSeries
    log_path: str  # the path as the access line writes it (secret URL parameters redacted)
    status: str
    headers: list
    length_at: int | None  # where Django's answer had its Content-Length, if it had one


# Paths kept per process (per person for a path with their id in it); the oldest is dropped
# beyond that, so paths made up by clients cannot grow it.
KEEP_AT_MOST = 4096


class CachedReadFront:
    """WSGI middleware: a person's own cached answer served before Django (the module doc)."""

    def __init__(self, application):
        self.application = application
        self.learnt: dict[tuple, Learnt] = {}
        self._series: dict[str, RouteSeries] = {}

    def __call__(self, environ, start_response):
        if (
            environ.get("REQUEST_METHOD") != "GET"
            or "HTTP_AUTHORIZATION" not in environ
            or "HTTP_ORIGIN" in environ
        ):
            return self.application(environ, start_response)
        key = (
            environ.get("SCRIPT_NAME", ""),
            environ.get("PATH_INFO", ""),
            environ.get("wsgi.url_scheme"),
            environ.get("HTTP_X_FORWARDED_PROTO"),
        )
        learnt = self.learnt.get(key)
        if learnt is None:
            return self._through_django(key, environ, start_response)
        return self._try(learnt, environ, start_response)

    def _try(self, learnt: Learnt, environ, start_response):
        started = time.perf_counter()
        bound = request_id.bind_request_id(environ.get(request_id.META_KEY))
        counting = benchstats.counted() if settings.BENCH_STATS else nullcontext()
        request = hit = None
        with counting as counts:
            try:
                request = WSGIRequest(environ)
                func = learnt.view_func
                view = func.view_class(**func.view_initkwargs)
                view.setup(request, *learnt.args, **learnt.kwargs)
                hit = readcache.own_hit_body(request, view)
                if hit is not None:
                    view.cached_answer_served()
            except Exception:  # Django's path makes the same calls and answers as it does
                logger.exception("cached answer in front of Django failed")
                hit = None
        if hit is None:
            if request is not None:
                readcache.hand_over(request)
            if request_id.META_KEY not in environ:  # Django's request keeps the id bound here
                environ[request_id.META_KEY] = bound
            return self.application(environ, start_response)
        return answer_in_front(
            start_response,
            environ,
            started=started,
            status=learnt.status,
            headers=learnt.headers,
            body=hit,
            series=learnt.series,
            path=learnt.log_path,
            user_id=request.user.pk,
            length_at=learnt.length_at,
            extra_headers=counts.headers() if counts is not None else (),
        )

    def _through_django(self, key, environ, start_response):
        seen, keep = remembering(start_response)
        result = self.application(environ, keep)
        note = environ.pop(readcache.OWN_HIT_NOTE, None)
        if note is not None and seen.get("status", "").startswith("200 "):
            self._learn(key, *note, seen["status"], seen["headers"])
        return result

    def _learn(self, key, match, path: str, status: str, headers) -> None:
        from healthtrack.logs import safe_path

        if match is None or not hasattr(match.func, "view_class"):
            return
        if any(name.lower() == "set-cookie" for name, _ in headers):
            return  # one person's cookie is never repeated to anyone
        route = observability.route_name(SimpleNamespace(resolver_match=match))
        series = self._series.get(route)
        if series is None:
            series = self._series.setdefault(route, RouteSeries(route))
        kept, length_at = kept_headers(headers)
        while len(self.learnt) >= KEEP_AT_MOST:
            try:
                self.learnt.pop(next(iter(self.learnt)), None)
            except (RuntimeError, StopIteration):  # another thread changed it meanwhile
                break
        self.learnt[key] = Learnt(
            view_func=match.func,
            args=tuple(match.args),
            kwargs=dict(match.kwargs),
            series=series,
            log_path=safe_path(path, match.kwargs),
            status=status,
            headers=kept,
            length_at=length_at,
        )
