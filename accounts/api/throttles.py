"""Per-IP API throttles whose rates are read from settings at request time (not import time).

With Redis as the cache the sliding window lives in a sorted set per client and scope, checked
and updated by one Lua script: one round trip per throttle, atomic across workers, no pickled
history list. Other caches (the embedded default's local memory) use DRF's own history list.
The rule is the same either way: a request is refused when `num_requests` requests were
allowed in the last `duration` seconds; refused requests are not counted.
"""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.api.ratelimits import client_ip_for_ratelimit

logger = logging.getLogger(__name__)

# KEYS[1]: the window's key. ARGV: now (s), duration (s), limit, a unique member.
# Returns {allowed (0/1), requests in the window, oldest request's time or 0}.
SLIDING_WINDOW_LUA = """
local now = tonumber(ARGV[1])
local duration = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - duration)
local count = redis.call('ZCARD', KEYS[1])
if count >= tonumber(ARGV[3]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, count, first[2] or '0'}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(duration * 1000))
return {1, count + 1, '0'}
"""


def _redis_client(cache):
    """The raw client of a django-redis cache, else None."""
    client = getattr(cache, "client", None)
    get_client = getattr(client, "get_client", None)
    if get_client is None or not hasattr(client, "make_key"):
        return None
    return get_client(write=True)


class _IPThrottle(SimpleRateThrottle):
    def get_rate(self):
        return settings.API_THROTTLE_RATES[self.scope]

    def allow_request(self, request, view):
        if not settings.RATELIMIT_ENABLE:
            return True
        # Re-read the rate so that a settings change applies without a restart.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        redis = _redis_client(self.cache)
        if redis is None:
            return super().allow_request(request, view)
        self.key = self.get_cache_key(request, view)
        self.now = self.timer()
        try:
            allowed, count, oldest = redis.eval(
                SLIDING_WINDOW_LUA,
                1,
                self.cache.make_key(self.key),
                repr(self.now),
                self.duration,
                self.num_requests,
                uuid.uuid4().hex,
            )
        except Exception as exc:  # noqa: BLE001 - as the cache does: Redis down, let it through
            logger.warning("throttle check skipped: %s", type(exc).__name__)
            return True
        # What DRF's wait() reads: the window's requests, the oldest one last.
        self.history = [float(oldest)] * int(count) if not allowed else []
        return bool(allowed)

    def get_ident(self, request) -> str:
        # The same client address as the login limits: X-Forwarded-For only behind
        # TRUSTED_PROXY_COUNT proxies, read at request time.
        return client_ip_for_ratelimit(request)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class IPMinuteThrottle(_IPThrottle):
    scope = "ip_minute"


class IPBurstThrottle(_IPThrottle):
    scope = "ip_burst"
