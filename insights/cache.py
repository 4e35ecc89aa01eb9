"""The recommendations cache, its hit/miss counters and the recompute debounce lock.

Keys (Redis in production; every call degrades to a miss or a no-op when Redis is down,
django-redis having IGNORE_EXCEPTIONS):
- `recommendations:user:{id}:days:{days}`: the API's answer, for RECOMMENDATIONS_CACHE_SECONDS
  and never past the person's next midnight (`ttl_within`).
- `recommendations:user:{id}:version`: a token replaced on every invalidation. A cached answer
  carries the token read before it was computed, and only counts as a hit while the token is
  unchanged, so a write that commits while an answer is being computed cannot leave that stale
  answer cached (nor can an entry the windows list below missed).
- `recommendations:user:{id}:windows`: the windows (days) cached for the user, so that an
  invalidation deletes those keys instead of all 365 possible ones.
- `recommendations:stats:hits`, `recommendations:stats:misses`: counters (`incr`).
- `recommendations:debounce:user:{id}`: held while a recomputation is scheduled.

Clinical alerts are never cached.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache, caches
from django.utils import timezone
from django_redis.exceptions import ConnectionInterrupted

from healthtrack.core import counters
from healthtrack.core import days as calendar

STATS = ("hits", "misses")


def cache_key(user_id: int, days: int) -> str:
    return f"recommendations:user:{user_id}:days:{days}"


def version_key(user_id: int) -> str:
    return f"recommendations:user:{user_id}:version"


def windows_key(user_id: int) -> str:
    return f"recommendations:user:{user_id}:windows"


def stats_key(name: str) -> str:
    return f"recommendations:stats:{name}"


def debounce_key(user_id: int) -> str:
    return f"recommendations:debounce:user:{user_id}"


def ttl() -> int:
    return int(getattr(settings, "RECOMMENDATIONS_CACHE_SECONDS", 3600))


def ttl_within(user, today: date, now: datetime | None = None) -> int:
    """How long an answer computed on `today` (`user`'s local day, read before computing) may
    be kept: `ttl()`, cut at `user`'s next midnight, when the rules' windows slide (every one
    ends yesterday; writes of today's data leave the answer alone: `insights.receivers`). 0:
    that midnight has passed, keep nothing."""
    left = calendar.day_start(today + timedelta(days=1), user) - (now or timezone.now())
    return max(0, min(ttl(), int(left.total_seconds())))


@dataclass(frozen=True)
class Lookup:
    """What one round trip to the cache found for a user and window."""

    payload: dict | None  # the cached answer, None on a miss
    version: str | None  # the user's current version token
    windows: frozenset[int]  # the windows (days) the user has entries for


def lookup(user_id: int, days: int) -> Lookup:
    """The cached answer (if still valid), the version token and the user's cached windows,
    in one round trip."""
    key, vkey, wkey = cache_key(user_id, days), version_key(user_id), windows_key(user_id)
    found = cache.get_many([key, vkey, wkey]) or {}
    version = found.get(vkey)
    entry = found.get(key)
    windows = frozenset(found.get(wkey) or ())
    payload = None
    if isinstance(entry, dict) and entry.get("version") == version and "payload" in entry:
        payload = entry["payload"]
    return Lookup(payload, version, windows)


def store(
    user_id: int, days: int, payload: dict, found: Lookup, seconds: int | None = None
) -> None:
    """Cache `payload`, computed under `found.version` (the token read before computing), for
    `seconds` (default `ttl()`; 0: not at all), and remember the window so that `invalidate`
    deletes it."""
    seconds = ttl() if seconds is None else seconds
    if seconds < 1:
        return
    # The windows list with it: each later store's entries expire no sooner than earlier
    # ones' (the same rule from a later time), so it outlives every entry it lists.
    cache.set_many(
        {
            cache_key(user_id, days): {"version": found.version, "payload": payload},
            windows_key(user_id): sorted(found.windows | {days}),
        },
        seconds,
    )


def invalidate(user_id: int) -> None:
    """Retire the user's version token (no answer cached before this is served again) and
    delete their cached answers: the windows remembered, and the default one."""
    invalidate_many([user_id])


def invalidate_many(user_ids) -> None:
    """`invalidate` for many users in three round trips."""
    user_ids = list(user_ids)
    if not user_ids:
        return
    default = int(getattr(settings, "RECOMMENDATIONS_DEFAULT_DAYS", 30))
    found = cache.get_many([windows_key(pk) for pk in user_ids]) or {}
    cache.set_many({version_key(pk): uuid.uuid4().hex for pk in user_ids}, 2 * ttl())
    keys = []
    for pk in user_ids:
        windows = set(found.get(windows_key(pk)) or ()) | {default}
        keys += [cache_key(pk, days) for days in sorted(windows)] + [windows_key(pk)]
    cache.delete_many(keys)


def count_in_process(name: str) -> None:
    """Add one to the process's Prometheus counter (`/metrics`, `cache="recommendations"`)
    only: for a hit whose cache counter was bumped with the lookup (accounts.api.readcache)."""
    (counters.cache_hit if name == "hits" else counters.cache_miss)("recommendations")


def count(name: str) -> None:
    """Add one to a counter: in the cache (read by the staff endpoint; lost with the cache)
    and in the process's Prometheus counters (`/metrics`, `cache="recommendations"`)."""
    count_in_process(name)
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


CACHE_DOWN = None


def claim_debounce(user_id: int) -> bool | None:
    """True for the first caller in a debounce window (who schedules the recomputation);
    False while one is already scheduled; CACHE_DOWN (None) when Redis does not answer. The
    lock expires on its own when the scheduled run is due, so writes after that schedule the
    next run.

    The cache swallows Redis errors (a failed `add` would read as "already scheduled" and
    drop the trigger), so the lock is taken through django-redis's client, which raises."""
    key, timeout = debounce_key(user_id), debounce_seconds()
    backend = caches["default"]
    if not type(backend).__module__.startswith("django_redis"):
        return bool(cache.add(key, 1, timeout=timeout))
    client = backend.client
    try:
        return bool(client.add(key, 1, timeout=timeout))
    except ConnectionInterrupted:
        return CACHE_DOWN


def release_debounce(user_id: int) -> None:
    cache.delete(debounce_key(user_id))
