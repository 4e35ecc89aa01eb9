"""API calls with a token skip the browser's middleware (issue 15).

A request under /api/ whose Authorization header names the Bearer (JWT) or Token scheme is
authenticated by DRF from that header alone: the JWT or API-token class either accepts it or
answers 401, so the session is never consulted. Loading the session, Django's session user,
the OTP wrapper around it, messages, CommonMiddleware and WhiteNoise's static-file lookup are
work such a request cannot use (CSRF stays Django's own: DRF's views are exempt anyway).
MIDDLEWARE names the subclasses below instead of the original classes (so the system checks
still find them): each runs as its parent does for every other request,
and steps aside for a token API call.

The liveness probe (`/health`, PROBE_PATHS) steps aside from the same middleware and from
auditlog's (it reads nothing, writes nothing and has no user): it costs what a bare Django
view costs (bench/floor/), plus what it must still give: its request id, its access-log line
and its latency in the Prometheus histogram, and the security headers.

What stays on every request, token or probe or not: request id, access log and metrics,
CORS, the security headers (SecurityMiddleware, CSP, Permissions-Policy, X-Frame-Options),
replica routing, the id range and UTF-8 form checks; on every request but the probe auditlog's
actor; in an API view DRF's authentication (the JWT verified each time), throttles and
permissions.
"""

from __future__ import annotations

import threading
from functools import partial

from auditlog import get_logentry_model
from auditlog import middleware as auditlog
from auditlog.cid import set_cid
from auditlog.context import _set_extra_data, auditlog_value
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.db.models.signals import pre_save
from django.middleware import common
from django_otp import middleware as otp
from whitenoise import middleware as whitenoise

TOKEN_SCHEMES = ("bearer", "token")
PROBE_PATHS = frozenset({"/health"})


def is_probe(request) -> bool:
    """The liveness probe: answered from the process alone (healthtrack/health.py)."""
    return request.path_info in PROBE_PATHS


def is_token_api_request(request) -> bool:
    """An /api/ request that carries its own credentials (Bearer JWT or API token)."""
    if not request.path_info.startswith("/api/"):
        return False
    scheme = request.META.get("HTTP_AUTHORIZATION", "").split(" ", 1)[0].lower()
    return scheme in TOKEN_SCHEMES


def is_lean_request(request) -> bool:
    """A request the browser's middleware has nothing to do for."""
    return is_probe(request) or is_token_api_request(request)


class BrowserOnly:
    """Mixed in before a middleware class: that middleware skips token API calls and probes."""

    def __call__(self, request):
        if is_lean_request(request):
            return self.get_response(request)
        return super().__call__(request)


class NotForProbes:
    """Mixed in before a middleware class: that middleware skips the liveness probe."""

    def __call__(self, request):
        if is_probe(request):
            return self.get_response(request)
        return super().__call__(request)


# The browser's block: from WhiteNoise to messages, in MIDDLEWARE's order. A token API call or
# a probe jumps from the block's first middleware straight to what follows its last (one call
# instead of seven layers, Django's CSRF cookie handling among them: ~8 % of a cached read's
# CPU, issue 15). The views' CSRF check (`process_view`, collected by Django's handler apart
# from this chain) still runs for every request; a token API call has no session, so no
# cookie-authenticated user a forged request could act as. Only when the names between the
# first and the last are the ones below: any other order or middleware, and each layer steps
# aside on its own as before.
BROWSER_BLOCK = (
    "healthtrack.apistack.WhiteNoiseMiddleware",
    "healthtrack.apistack.SessionMiddleware",
    "healthtrack.apistack.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "healthtrack.apistack.AuthenticationMiddleware",
    "healthtrack.apistack.OTPMiddleware",
    "healthtrack.apistack.MessageMiddleware",
)
# What follows the block's last middleware, handed by it (built first: Django builds the
# chain from the end) to its first, in the same `load_middleware` of this thread.
_built = threading.local()


def _block_in_place() -> bool:
    names = list(settings.MIDDLEWARE)
    try:
        start = names.index(BROWSER_BLOCK[0])
    except ValueError:
        return False
    return tuple(names[start : start + len(BROWSER_BLOCK)]) == BROWSER_BLOCK


class WhiteNoiseMiddleware(BrowserOnly, whitenoise.WhiteNoiseMiddleware):
    """The block's first: a lean request goes on after the block's last middleware."""

    def __init__(self, get_response=None, *args, **kwargs):
        super().__init__(get_response, *args, **kwargs)
        after = getattr(_built, "after_block", None)
        _built.after_block = None
        self.after_block = after if after is not None and _block_in_place() else None

    def __call__(self, request):
        if self.after_block is not None and is_lean_request(request):
            request.user = AnonymousUser()  # as AuthenticationMiddleware below would set it
            return self.after_block(request)
        return super().__call__(request)


class SessionMiddleware(BrowserOnly, sessions.SessionMiddleware):
    pass


class CommonMiddleware(BrowserOnly, common.CommonMiddleware):
    pass


class AuthenticationMiddleware(auth.AuthenticationMiddleware):
    def __call__(self, request):
        if is_lean_request(request):
            request.user = AnonymousUser()  # until DRF authenticates the token (probe: nobody)
            return self.get_response(request)
        return super().__call__(request)


class OTPMiddleware(BrowserOnly, otp.OTPMiddleware):
    pass


class MessageMiddleware(BrowserOnly, messages.MessageMiddleware):
    """The block's last: hands what follows it to the block's first."""

    def __init__(self, get_response):
        super().__init__(get_response)
        _built.after_block = get_response


# auditlog's middleware connects a `pre_save` receiver for LogEntry on every request and
# disconnects it after (Django's signal lock and its receiver cache cleared twice a request):
# ~6 % of a cached read's CPU (issue 15). Its receiver only acts when the request context's
# `signal_duid` is its own, so one receiver connected once, with the context set per request,
# does the same; a `set_actor()` block inside a request still brings its own receiver and id.
_SIGNAL_DUID = ("healthtrack.apistack", "request")


def _connect_request_receiver() -> None:
    pre_save.connect(
        partial(_set_extra_data, signal_duid=_SIGNAL_DUID),
        sender=get_logentry_model(),
        dispatch_uid=_SIGNAL_DUID,
        weak=False,
    )


class AuditlogMiddleware(auditlog.AuditlogMiddleware):
    """auditlog's, stepping aside for the probe, with its receiver connected once (above)."""

    def __init__(self, get_response=None):
        super().__init__(get_response)
        _connect_request_receiver()

    @staticmethod
    def _get_remote_addr(request):
        # As auditlog's, reading META (`request.headers` builds a dict of every header first).
        if settings.AUDITLOG_DISABLE_REMOTE_ADDR:
            return None
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
        if not forwarded:
            return request.META.get("REMOTE_ADDR")
        remote_addr = forwarded.split(",")[0]
        if "." in remote_addr and ":" in remote_addr:  # IPv4 with port
            remote_addr = remote_addr.split(":")[0]
        elif "[" in remote_addr:  # IPv6 with port
            remote_addr = remote_addr[1:].split("]")[0]
        return remote_addr

    @staticmethod
    def _get_remote_port(request) -> int | None:
        try:
            return int(request.META.get("HTTP_X_FORWARDED_PORT", ""))
        except ValueError:
            return None

    def __call__(self, request):
        if is_probe(request):
            return self.get_response(request)
        set_cid(request)
        context = self.get_extra_data(request)
        context["signal_duid"] = _SIGNAL_DUID
        token = auditlog_value.set(context)
        try:
            return self.get_response(request)
        finally:
            auditlog_value.reset(token)
