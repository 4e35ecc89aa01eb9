"""Per-IP API throttles whose rates are read from settings at request time (not import time).

With Redis as the cache the sliding window lives in a sorted set per client and scope, checked
and updated by one Lua script for every per-IP throttle of the view together (the minute and
the burst window): one round trip per request (it was one per throttle: ~0.2 ms of CPU and a
round trip saved on every API request), atomic across workers, no pickled history list. Other
caches (the embedded default's local memory) use DRF's own history list, one throttle at a time.
The rule is the same either way: a request is refused when `num_requests` requests were
allowed in the last `duration` seconds; refused requests are not counted (with Redis, in no
window: a request the burst limit refuses does not use up the minute's allowance either).
"""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from rest_framework.fields import BooleanField
from rest_framework.throttling import SimpleRateThrottle

from healthtrack.core.api.ratelimits import client_ip_for_ratelimit

logger = logging.getLogger(__name__)

# Every window of one request at once. KEYS[i]: window i's key. ARGV[1]: now (s), ARGV[2]: a
# unique member, then per window: ARGV[1 + 2i] duration (s), ARGV[2 + 2i] limit. Each window is
# trimmed and counted; only if none is full is the request added to all of them.
# Returns per window {allowed (0/1), requests in the window, oldest request's time or 0}.
WINDOWS_LUA = """
local now = tonumber(ARGV[1])
local out = {}
local refused = false
for i, key in ipairs(KEYS) do
  local duration = tonumber(ARGV[1 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - duration)
  local count = redis.call('ZCARD', key)
  if count >= tonumber(ARGV[2 + 2 * i]) then
    refused = true
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    out[i] = {0, count, first[2] or '0'}
  else
    out[i] = {1, count, '0'}
  end
end
if not refused then
  for i, key in ipairs(KEYS) do
    redis.call('ZADD', key, now, ARGV[2])
    redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[1 + 2 * i]) * 1000))
    out[i][2] = out[i][2] + 1
  end
end
return out
"""
_RESULTS_ATTR = "_healthtrack_ip_throttles"
# A request may carry its windows' results already ({scope: (allowed, count, oldest)}): counted
# by WINDOWS_LUA's rule in a round trip that also read other things (accounts.api.readcache).
RESULTS_ATTR = _RESULTS_ATTR


def _redis_client(cache):
    """The raw client of a django-redis cache, else None."""
    client = getattr(cache, "client", None)
    get_client = getattr(client, "get_client", None)
    if get_client is None or not hasattr(client, "make_key"):
        return None
    return get_client(write=True)


# (REMOTE_ADDR, X-Forwarded-For, TRUSTED_PROXY_COUNT) -> the client address the limits use.
_IDENTS: dict[tuple, str] = {}
_IDENTS_MAX = 4096


class _IPThrottle(SimpleRateThrottle):
    def __init__(self):
        # DRF reads and parses the rate here, for every throttle class of the view on every
        # request (~6 % of a cached read's CPU, issue 15); `allow_request` reads it anyway, at
        # request time, for the windows that apply.
        pass

    def get_rate(self):
        return settings.API_THROTTLE_RATES[self.scope]

    def allow_request(self, request, view):
        if not settings.RATELIMIT_ENABLE:
            return True
        results = getattr(request, _RESULTS_ATTR, None)
        counted = results.get(self.scope) if results else None
        if counted is not None and counted[0]:
            return True  # counted and allowed in this request's round trip: nothing to wait for
        # Re-read the rate so that a settings change applies without a restart.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        redis = _redis_client(self.cache)
        if redis is None:
            return super().allow_request(request, view)
        self.key = self.get_cache_key(request, view)
        self.now = self.timer()
        if results is None or self.scope not in results:
            results = self._check_windows(request, view, redis)
            setattr(request, _RESULTS_ATTR, results)
        allowed, count, oldest = results[self.scope]
        # What DRF's wait() reads: the window's requests, the oldest one last.
        self.history = [float(oldest)] * int(count) if not allowed else []
        return bool(allowed)

    def _check_windows(self, request, view, redis) -> dict[str, tuple]:
        """Every per-IP window of `view` in one Lua call: {scope: (allowed, count, oldest)}."""
        windows = {t.scope: t for t in view.get_throttles() if isinstance(t, _IPThrottle)}
        windows[self.scope] = self
        keys, args = [], [repr(self.now), uuid.uuid4().hex]
        for scope, throttle in list(windows.items()):
            if throttle is not self:
                throttle.rate = throttle.get_rate()
                throttle.num_requests, throttle.duration = throttle.parse_rate(throttle.rate)
                throttle.key = throttle.get_cache_key(request, view)
            if throttle.key is None:  # a per-user window that does not apply to this request
                del windows[scope]
                continue
            keys.append(self.cache.make_key(throttle.key))
            args += [throttle.duration, throttle.num_requests]
        try:
            rows = redis.eval(WINDOWS_LUA, len(keys), *keys, *args)
        except Exception as exc:  # noqa: BLE001 - as the cache does: Redis down, let it through
            logger.warning("throttle check skipped: %s", type(exc).__name__)
            return dict.fromkeys(windows, (1, 0, "0"))
        return {scope: tuple(row) for scope, row in zip(windows, rows, strict=True)}

    def get_ident(self, request) -> str:
        # The same client address as the login limits: X-Forwarded-For only behind
        # TRUSTED_PROXY_COUNT proxies, read at request time. It depends on those two headers
        # and the setting only, so it is worked out once per combination (it parses the
        # address: ~4 % of a cached read's CPU, once per window).
        meta = request.META
        key = (
            meta.get("REMOTE_ADDR"),
            meta.get("HTTP_X_FORWARDED_FOR"),
            settings.TRUSTED_PROXY_COUNT,
        )
        ident = _IDENTS.get(key)
        if ident is None:
            ident = client_ip_for_ratelimit(request)
            if len(_IDENTS) >= _IDENTS_MAX:  # bounded: clients choose the forwarded header
                _IDENTS.clear()
            _IDENTS[key] = ident
        return ident

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class IPMinuteThrottle(_IPThrottle):
    scope = "ip_minute"


class IPBurstThrottle(_IPThrottle):
    scope = "ip_burst"


# --- per-user limits, on top of the per-IP ones ---------------------------------------------
# One sliding window per signed-in user and scope, checked in the same Lua call as the per-IP
# windows (still one round trip per request; they hold across worker processes with Redis).
# Rates are read from `settings.API_USER_THROTTLE_RATES` at request time. Anonymous requests
# are left to the per-IP limits. A named scope applies only to the requests that `applies()`
# picks out, by URL name, so the throttled views need no change.


class _UserThrottle(_IPThrottle):
    cache_format = "throttle_user_%(scope)s_%(ident)s"

    def get_rate(self):
        return settings.API_USER_THROTTLE_RATES[self.scope]

    def applies(self, request, view) -> bool:
        return True

    def get_cache_key(self, request, view):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not self.applies(request, view):
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.pk}

    def allow_request(self, request, view):
        counted = getattr(request, _RESULTS_ATTR, None) or ()
        if (
            settings.RATELIMIT_ENABLE
            and self.scope not in counted  # a window counted this request: it applies
            and self.get_cache_key(request, view) is None
        ):
            return True
        return super().allow_request(request, view)


def _url_name(request) -> str:
    match = getattr(request, "resolver_match", None)
    return getattr(match, "url_name", None) or ""


class UserMinuteThrottle(_UserThrottle):
    """Every API request of a signed-in user (`API_RATE_PER_USER`, default 100/min)."""

    scope = "user_minute"


class UserSyncThrottle(_UserThrottle):
    """Device syncs (`POST /api/v1/devices/{id}/sync`)."""

    scope = "user_sync"

    def applies(self, request, view) -> bool:
        return _url_name(request) == "api-device-sync"


class UserImportsThrottle(_UserThrottle):
    """Starting an import (`POST /api/v1/imports`)."""

    scope = "user_imports"

    def applies(self, request, view) -> bool:
        return request.method == "POST" and _url_name(request) == "api-imports"


class UserExportsThrottle(_UserThrottle):
    """Exports (`GET /api/v1/export`, `GET /api/v1/export/report`)."""

    scope = "user_exports"

    def applies(self, request, view) -> bool:
        return _url_name(request) in ("api-export", "api-export-report")


class UserRecommendationsThrottle(_UserThrottle):
    """Recommendations computed on demand (`use_cache=false`); cached answers are cheap."""

    scope = "user_recommendations"

    def applies(self, request, view) -> bool:
        if _url_name(request) != "api-recommendations":
            return False
        value = request.GET.get("use_cache", "").strip().lower()  # Django's or DRF's request
        return value in BooleanField.FALSE_VALUES


def window_key(throttle: _IPThrottle, request, view, *, user_id) -> str | None:
    """The window key `throttle` counts this request in, for the (not yet authenticated)
    user `user_id`; None when it does not apply to this request."""
    if isinstance(throttle, _UserThrottle):
        if user_id is None or not throttle.applies(request, view):
            return None
        return throttle.cache_format % {"scope": throttle.scope, "ident": user_id}
    return throttle.get_cache_key(request, view)
