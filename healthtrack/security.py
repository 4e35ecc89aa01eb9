"""Response headers Django does not set itself: Content-Security-Policy and Permissions-Policy.

The pages load scripts and styles only from our own origin, so the policy needs no
'unsafe-inline' and no nonce: templates carry no inline <script>, no inline event handler
and no style="" attribute (charts use SVG presentation attributes, which CSP does not cover).
The third-party API documentation UIs (Swagger UI, ReDoc) load their bundles from a CDN;
they get their own policy that allows that CDN but still no inline script.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

CSP_HEADER = "Content-Security-Policy"


def build_policy(directives: Mapping[str, list[str] | tuple[str, ...]]) -> str:
    """`{"default-src": ["'self'"]}` -> "default-src 'self'" (directives in the given order)."""
    parts = []
    for name, sources in directives.items():
        parts.append(" ".join([name, *sources]) if sources else name)
    return "; ".join(parts)


def _policy_for(path: str) -> str:
    policies = _policies()
    for prefix, policy in policies[0]:
        if path.startswith(prefix):
            return policy
    return policies[1]


@functools.cache
def _policies() -> tuple[tuple[tuple[str, str], ...], str]:
    """((path prefix, policy), ...) and the default policy, built once from the settings
    (not on every response) and again when a test changes them."""
    by_path = tuple(
        (prefix, build_policy(directives))
        for prefix, directives in settings.CSP_PATH_POLICIES.items()
    )
    return by_path, build_policy(settings.CSP_POLICY)


@receiver(setting_changed)
def _forget_policies(setting, **kwargs) -> None:
    if setting in ("CSP_POLICY", "CSP_PATH_POLICIES"):
        _policies.cache_clear()


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
