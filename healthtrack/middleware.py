from __future__ import annotations

from functools import lru_cache

from django.urls import Resolver404, get_resolver, get_urlconf


class OptionalTrailingSlashMiddleware:
    """Under /api/ a trailing slash is optional: `/api/v1/devices` and `/api/v1/devices/`
    reach the same view, with no redirect (a redirect would drop a POST body)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.startswith("/api/") and not _resolves(path):
            other = path[:-1] if path.endswith("/") else path + "/"
            if _resolves(other):
                request.path_info = other
        return self.get_response(request)


def _resolves(path: str) -> bool:
    return _resolves_with(get_resolver(get_urlconf()), path)


# Remembered per resolver (a changed URLconf is a new resolver) and path: resolving every API
# path twice (here, then Django) was ~7 % of a cached read's CPU (issue 15). Bounded, so that
# paths made up by clients cannot grow it.
@lru_cache(maxsize=1024)
def _resolves_with(resolver, path: str) -> bool:
    try:
        resolver.resolve(path)
    except Resolver404:
        return False
    return True
