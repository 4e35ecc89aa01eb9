"""Counters any app may feed, exported by the project's `/metrics` (prometheus-client).

They live in `healthtrack.core`, the plumbing every app may import (and which imports no
app). Names are label values, so they must be a small fixed set:
"recommendations", "metrics_summary", "user_profile", "goals" - never a key holding an id.

    from healthtrack.core.counters import cached
    data = cached("metrics_summary", f"metrics_summary:user:{uid}:days:{days}", compute, 300)

or, for a cache read of your own, `cache_hit("goals")` / `cache_miss("goals")`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from prometheus_client import Counter

T = TypeVar("T")

_NAME = re.compile(r"^[a-z][a-z_]{0,40}$")
_MISSING = object()

CACHE_HITS = Counter("healthtrack_cache_hits", "Cache reads that found a value.", ["cache"])
CACHE_MISSES = Counter(
    "healthtrack_cache_misses",
    "Cache reads that found nothing (also every read while the cache is down).",
    ["cache"],
)


def _label(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"cache name {name!r} must be a short lower-case word, not a key")
    return name


def cache_hit(name: str) -> None:
    """Count one hit on the cache tier `name`."""
    CACHE_HITS.labels(cache=_label(name)).inc()


def cache_miss(name: str) -> None:
    """Count one miss on the cache tier `name`."""
    CACHE_MISSES.labels(cache=_label(name)).inc()


def cached(name: str, key: str, compute: Callable[[], T], timeout: int) -> T:
    """The cached value under `key`, else `compute()` stored for `timeout` seconds; counted
    as a hit or a miss of `name`. A cached None is a hit. With Redis down every read is a
    miss and `compute()` answers (django-redis ignores the errors)."""
    value = cache.get(key, _MISSING)
    if value is not _MISSING:
        cache_hit(name)
        return value
    cache_miss(name)
    value = compute()
    cache.set(key, value, timeout)
    return value
