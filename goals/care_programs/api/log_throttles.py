"""Per-user limit on writing care-program logs (`PROGRAM_LOG_RATE`, read at request time),
on top of the project's per-IP API throttles; refused with 429 and Retry-After."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class ProgramLogUserThrottle(SimpleRateThrottle):
    scope = "program_logs"

    def get_rate(self):
        return settings.PROGRAM_LOG_RATE

    def allow_request(self, request, view):
        if not settings.RATELIMIT_ENABLE:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return None  # refused by authentication anyway
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
