"""Response headers Django does not set itself: Content-Security-Policy and Permissions-Policy.

The pages load scripts and styles only from our own origin, so the policy needs no
'unsafe-inline' and no nonce: templates carry no inline <script>, no inline event handler
and no style="" attribute (charts use SVG presentation attributes, which CSP does not cover).
The third-party API documentation UIs (Swagger UI, ReDoc) load their bundles from a CDN;
they get their own policy that allows that CDN but still no inline script.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings

CSP_HEADER = "Content-Security-Policy"


def build_policy(directives: Mapping[str, list[str] | tuple[str, ...]]) -> str:
    """`{"default-src": ["'self'"]}` -> "default-src 'self'" (directives in the given order)."""
    parts = []
    for name, sources in directives.items():
        parts.append(" ".join([name, *sources]) if sources else name)
    return "; ".join(parts)


def _policy_for(path: str) -> str:
    for prefix, directives in settings.CSP_PATH_POLICIES.items():
        if path.startswith(prefix):
            return build_policy(directives)
    return build_policy(settings.CSP_POLICY)


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # A view may set its own, stricter policy; never overwrite it.
        if CSP_HEADER not in response.headers:
            response.headers[CSP_HEADER] = _policy_for(request.path_info)
        response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response
