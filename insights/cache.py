"""The recommendations cache, its hit/miss counters and the recompute debounce lock.

Keys (Redis in production; every call degrades to a miss or a no-op when Redis is down,
django-redis having IGNORE_EXCEPTIONS):
- `recommendations:user:{id}:days:{days}`: the API's answer, for RECOMMENDATIONS_CACHE_SECONDS.
- `recommendations:user:{id}:version`: a token replaced on every invalidation. A cached answer
  carries the token read before it was computed, and only counts as a hit while the token is
  unchanged, so a write that commits while an answer is being computed cannot leave that stale
  answer cached.
- `recommendations:stats:hits`, `recommendations:stats:misses`: counters (`incr`).
- `recommendations:debounce:user:{id}`: held while a recomputation is scheduled.

Clinical alerts are never cached.
"""

from __future__ import annotations

import contextlib
import uuid

from django.conf import settings
from django.core.cache import cache

MAX_DAYS = 365
STATS = ("hits", "misses")


def cache_key(user_id: int, days: int) -> str:
    return f"recommendations:user:{user_id}:days:{days}"


def version_key(user_id: int) -> str:
    return f"recommendations:user:{user_id}:version"


def stats_key(name: str) -> str:
    return f"recommendations:stats:{name}"


def debounce_key(user_id: int) -> str:
    return f"recommendations:debounce:user:{user_id}"


def ttl() -> int:
    return int(getattr(settings, "RECOMMENDATIONS_CACHE_SECONDS", 3600))


def lookup(user_id: int, days: int) -> tuple[dict | None, str | None]:
    """(the cached answer or None, the current version token) in one round trip."""
    key, vkey = cache_key(user_id, days), version_key(user_id)
    found = cache.get_many([key, vkey]) or {}
    version = found.get(vkey)
    entry = found.get(key)
    if isinstance(entry, dict) and entry.get("version") == version and "payload" in entry:
        return entry["payload"], version
    return None, version


def store(user_id: int, days: int, payload: dict, version: str | None) -> None:
    """Cache `payload` as computed under `version` (the token read before computing)."""
    cache.set(cache_key(user_id, days), {"version": version, "payload": payload}, ttl())


def invalidate(user_id: int) -> None:
    """Drop every cached answer of the user and retire the version token."""
    cache.set(version_key(user_id), uuid.uuid4().hex, 2 * ttl())
    cache.delete_many([cache_key(user_id, days) for days in range(1, MAX_DAYS + 1)])


def count(name: str) -> None:
    """Add one to a counter (kept in the cache; lost with it, which is fine for a gauge)."""
    key = stats_key(name)
    try:
        cache.incr(key)
    except ValueError:  # not there yet
        cache.add(key, 0, timeout=None)
        with contextlib.suppress(ValueError):
            cache.incr(key)


def stats() -> dict:
    found = cache.get_many([stats_key(name) for name in STATS]) or {}
    values = {name: int(found.get(stats_key(name)) or 0) for name in STATS}
    lookups = values["hits"] + values["misses"]
    values["hit_ratio"] = round(values["hits"] / lookups, 4) if lookups else None
    return values


def debounce_seconds() -> int:
    return int(getattr(settings, "RECOMMENDATIONS_DEBOUNCE_SECONDS", 300))


def claim_debounce(user_id: int) -> bool:
    """True for the first caller in a debounce window (who schedules the recomputation);
    False while one is already scheduled. The lock expires on its own when the scheduled run
    is due, so writes after that schedule the next run."""
    return bool(cache.add(debounce_key(user_id), 1, timeout=debounce_seconds()))


def release_debounce(user_id: int) -> None:
    cache.delete(debounce_key(user_id))
