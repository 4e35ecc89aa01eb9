"""One id per request: taken from a sane incoming `X-Request-ID`, else generated.

It is set on `request.request_id`, returned as the `X-Request-ID` response header, added to
every log record (`%(request_id)s`) and read by django-auditlog as the correlation id of the
change rows it writes (`AUDITLOG_CID_GETTER`), so a LogEntry, an AccessLog row and the log
lines of one request share it.
"""

from __future__ import annotations

import logging
import os
import re
from contextvars import ContextVar

from django.core.signals import request_finished

HEADER = "X-Request-ID"
# Read from META directly: `request.headers` builds a dict of every header first.
META_KEY = "HTTP_X_REQUEST_ID"
# Letters, digits and . _ : - only, 8 to 64 characters: enough for UUIDs and the ids proxies
# generate, and nothing that could forge a log line or carry data.
_SANE = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")

_current: ContextVar[str | None] = ContextVar("healthtrack_request_id", default=None)


def get_request_id() -> str | None:
    """The id of the request being handled in this context, or None outside a request."""
    return _current.get()


def clean_request_id(value: str | None) -> str:
    """`value` if it is a sane token, else a freshly generated id."""
    if value and _SANE.match(value):
        return value
    # `uuid4().hex`'s shape (32 hex digits) without building a UUID object (~10x the cost).
    return os.urandom(16).hex()


class RequestIdMiddleware:
    """First in MIDDLEWARE. The id stays set until `request_finished`, because Django logs
    4xx/5xx responses ("Not Found: ...") after the middleware chain has returned."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = clean_request_id(request.META.get(META_KEY))
        request.request_id = request_id
        _current.set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


def _forget_request_id(**kwargs) -> None:
    _current.set(None)


request_finished.connect(_forget_request_id, dispatch_uid="healthtrack.request_id.forget")


class RequestIdLogFilter(logging.Filter):
    """Adds `request_id` to every record ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get() or "-"
        return True


def bind_request_id(value: str | None) -> str:
    """Set the id of the request handled in this context (outside Django's middleware chain,
    e.g. the liveness probe in front of it); returns the id used."""
    request_id = clean_request_id(value)
    _current.set(request_id)
    return request_id


def forget_request_id() -> None:
    """No request is handled in this context any more."""
    _current.set(None)
