"""Per-IP API throttles whose rates are read from settings at request time (not import time)."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.audit import client_ip


class _IPThrottle(SimpleRateThrottle):
    def get_rate(self):
        return settings.API_THROTTLE_RATES[self.scope]

    def allow_request(self, request, view):
        if not settings.RATELIMIT_ENABLE:
            return True
        # Re-read the rate so that a settings change applies without a restart.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_ident(self, request):
        # DRF's own get_ident trusts the whole X-Forwarded-For header when NUM_PROXIES is unset,
        # so a client could pick a fresh bucket per request; use the audited client address.
        return client_ip(request) or ""

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class IPMinuteThrottle(_IPThrottle):
    scope = "ip_minute"


class IPBurstThrottle(_IPThrottle):
    scope = "ip_burst"
