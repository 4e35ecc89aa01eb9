"""django-ratelimit rules for the endpoints that take a password or create an account."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.utils.decorators import method_decorator
from django_ratelimit.decorators import ratelimit


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or, behind `TRUSTED_PROXY_COUNT` proxies, the
    address the outermost trusted proxy saw (the rest of X-Forwarded-For can be forged)."""
    if request is None:
        return None
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        chain = [p.strip() for p in request.headers.get("X-Forwarded-For", "").split(",")]
        chain = [p for p in chain if p]
        if len(chain) >= proxies:
            return chain[-proxies]
    return request.META.get("REMOTE_ADDR") or None


def _login_rate(group, request):
    return settings.AUTH_RATE_LIMIT


def client_ip_for_ratelimit(request) -> str:
    """`RATELIMIT_IP_META_KEY`: the client address as `client_ip` sees it
    (X-Forwarded-For only behind `TRUSTED_PROXY_COUNT` proxies, so a client cannot pick its
    own key by sending the header), falling back to REMOTE_ADDR."""
    ip = client_ip(request) or ""
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        # One shared bucket for requests without an address (a key, not a bind).
        ip = request.META.get("REMOTE_ADDR") or "0.0.0.0"  # noqa: S104
    return ip


def account_key(group, request) -> str:
    """The account being tried (lower-cased username or e-mail), so that one account's
    limit holds whichever IP addresses the attempts come from."""
    data = getattr(request, "data", None) or request.POST
    try:
        login = data.get("username") or data.get("email") or ""
    except AttributeError:
        login = ""
    return str(login).strip().lower() or "-"


def auth_ratelimited(view_class):
    """Limit a credentials endpoint per IP and per account (POST only)."""
    for name, key in (("ip", "ip"), ("account", account_key)):
        limit = ratelimit(
            group=f"auth:{view_class.__name__}:{name}",
            key=key,
            rate=_login_rate,
            method="POST",
            block=True,
        )
        view_class = method_decorator(limit, name="post")(view_class)
    return view_class
