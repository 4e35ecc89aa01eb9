"""Per-request counters for the bench server only (setting `BENCH_STATS`, off by default).

`BenchStatsMiddleware` counts the SQL statements a request runs and the application cache
lookups it makes (hits and misses; the rate-limit counters are not lookups of cached data and
are left out) and reports them in response headers, which the load generator aggregates per
endpoint: `X-Bench-Queries`, `X-Bench-Cache-Hits`, `X-Bench-Cache-Misses`, `X-Bench-CPU-us`
(the request thread's CPU time) and `X-Bench-User-Loads`: how many times the request read a
revocation list from the database, i.e. loaded the JWT user entry (a patient's first request,
or the entry expired after `AUTH_USER_CACHE_SECONDS`; 1.7-2.3 ms of CPU and 2-3 statements
each, which the load test's cost model counts apart because its rate is per second, not per
request). Nothing about the request's data is recorded.
"""

from __future__ import annotations

import time
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import connections
from django_redis.cache import RedisCache

# The statement that reads a user's revocation list (accounts.credentials), run only when the
# JWT user entry is (re)built.
_REVOCATION_LIST = 'FROM "accounts_revokedtoken"'

# Keys that are counters, not cached data: DRF throttles and django-ratelimit.
_NOT_DATA = ("throttle_", "rl:")


@dataclass
class _Counts:
    queries: int = 0
    hits: int = 0
    misses: int = 0
    user_loads: int = 0


_current: ContextVar[_Counts | None] = ContextVar("bench_counts", default=None)
_MISSING = object()


def _is_data(key) -> bool:
    return not (isinstance(key, str) and key.startswith(_NOT_DATA))


class CountingRedisCache(RedisCache):
    """django-redis's cache, counting hits and misses of data lookups into the request."""

    def get(self, key, default=None, version=None, client=None):
        value = super().get(key, _MISSING, version=version, client=client)
        counts = _current.get()
        if counts is not None and _is_data(key):
            if value is _MISSING:
                counts.misses += 1
            else:
                counts.hits += 1
        return default if value is _MISSING else value

    def get_many(self, keys, version=None, client=None):
        found = super().get_many(keys, version=version, client=client)
        counts = _current.get()
        if counts is not None:
            data = [k for k in keys if _is_data(k)]
            hits = sum(1 for k in data if k in found)
            counts.hits += hits
            counts.misses += len(data) - hits
        return found


class _Counting:
    """One request's counts, and the headers that report them."""

    def __init__(self) -> None:
        self.counts = _Counts()
        self.cpu_started = time.thread_time_ns()

    def headers(self) -> list[tuple[str, str]]:
        return [
            ("X-Bench-Queries", str(self.counts.queries)),
            ("X-Bench-Cache-Hits", str(self.counts.hits)),
            ("X-Bench-Cache-Misses", str(self.counts.misses)),
            ("X-Bench-CPU-us", str((time.thread_time_ns() - self.cpu_started) // 1000)),
            ("X-Bench-User-Loads", str(self.counts.user_loads)),
        ]


@contextmanager
def counted():
    """Count the SQL statements and cache lookups made inside the block (the middleware's
    request, or one answered in front of Django: healthtrack/front.py); yields the object
    whose `headers()` report them."""
    counting = _Counting()
    counts = counting.counts
    token = _current.set(counts)

    def count(execute, sql, params, many, context):
        counts.queries += 1
        if _REVOCATION_LIST in sql and sql.lstrip()[:6].upper() == "SELECT":
            counts.user_loads += 1
        return execute(sql, params, many, context)

    try:
        with ExitStack() as stack:
            for alias in connections:
                stack.enter_context(connections[alias].execute_wrapper(count))
            yield counting
    finally:
        _current.reset(token)


class BenchStatsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with counted() as counting:
            response = self.get_response(request)
        for name, value in counting.headers():
            response[name] = value
        return response
