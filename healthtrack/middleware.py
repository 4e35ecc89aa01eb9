from __future__ import annotations

from django.urls import Resolver404, resolve


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
    try:
        resolve(path)
    except Resolver404:
        return False
    return True
