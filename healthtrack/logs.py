"""Structured logs: one JSON object per line, with an allow-list of fields.

A record becomes `{"time", "level", "logger", "message", "request_id"}` plus, when the record
carries them, the request fields the access log sets (`method`, `path`, `route`, `status`,
`duration_ms`, `user_id`). Any other `extra=` a caller passes is dropped, so a stray
`extra={"weight": ...}` cannot put a health value in the logs. An exception is written as its
type and stack frames, not its message: messages quote input (`invalid literal for int(): '72.5'`,
`Key (email)=(...) already exists`). Only connection-level errors (OSError, the database's
OperationalError/InterfaceError, Redis and broker errors), which name hosts, keep theirs.

Paths are logged without query strings, and path parts captured by a URL parameter whose name
says it is a secret (`token`, `code`, `key`, ...) are replaced by `{name}`, also inside other
records of the same request (Django's "Not Found: /share/<token>").
"""

from __future__ import annotations

import json
import logging
import math
import re
import traceback
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime

from django.core.signals import request_finished
from django.db import InterfaceError, OperationalError

REQUEST_FIELDS = ("method", "path", "route", "status", "duration_ms", "user_id")
# URL parameters whose values are credentials and never reach a log line.
_SECRET_PARAM = re.compile(r"token|code|key|secret|password|signature|uidb64", re.IGNORECASE)
MAX_PATH = 200

# (raw path, path safe to log) of the request handled in this context.
_redaction: ContextVar[tuple[str, str] | None] = ContextVar("healthtrack_log_path", default=None)


def safe_path(path: str, url_kwargs: dict | None = None) -> str:
    """`path` with secret URL parameters replaced by `{name}`, cut to MAX_PATH characters."""
    for name, value in (url_kwargs or {}).items():
        text = str(value)
        if text and _SECRET_PARAM.search(name):
            path = path.replace(text, "{" + name + "}")
    return path[:MAX_PATH]


def redact_path_in_records(raw: str, safe: str) -> None:
    """Until the request finishes, write `safe` wherever a log message quotes `raw`."""
    _redaction.set((raw, safe) if raw != safe else None)


def _is_connection_error(exc: BaseException | None) -> bool:
    if isinstance(exc, OSError | OperationalError | InterfaceError):
        return True
    return type(exc).__module__.split(".")[0] in {"redis", "kombu", "amqp"}


def _forget_redaction(**kwargs) -> None:
    _redaction.set(None)


request_finished.connect(_forget_redaction, dispatch_uid="healthtrack.logs.forget")


def _message(record: logging.LogRecord) -> str:
    args = record.args
    if record.name.startswith("celery.") and isinstance(args, Mapping) and "exc" in args:
        # Celery's task failure/retry lines quote the exception, the task's args and kwargs.
        exc = record.exc_info[0].__name__ if record.exc_info else str(args["exc"])
        safe = {**args, "exc": exc.split("(")[0], "args": "-", "kwargs": "-", "traceback": ""}
        return str(record.msg) % safe
    return record.getMessage()


# The last second `iso_time` formatted: (whole seconds since the epoch, "YYYY-MM-DDTHH:MM:SS").
# One tuple, replaced whole, so that threads reading it never see a second with another's text.
_last_second: tuple[float, str] = (math.nan, "")


def iso_time(created: float) -> str:
    """`datetime.fromtimestamp(created, tz=UTC).isoformat(timespec="milliseconds")`, with the
    date and time formatted once per second (a line's timestamp was most of `json_entry`):
    the fraction is rounded to microseconds as `datetime` rounds it (half to even, a carry
    into the next second), then cut to milliseconds."""
    global _last_second
    if created < 0:
        return datetime.fromtimestamp(created, tz=UTC).isoformat(timespec="milliseconds")
    fraction, whole = math.modf(created)
    micro = round(fraction * 1e6)
    if micro >= 1_000_000:
        micro -= 1_000_000
        whole += 1
    last = _last_second
    if last[0] == whole:
        prefix = last[1]
    else:
        prefix = datetime.fromtimestamp(whole, tz=UTC).isoformat(timespec="seconds")[:-6]
        _last_second = (whole, prefix)
    return f"{prefix}.{micro // 1000:03d}+00:00"


# One encoder for every line: `json.dumps` with options builds a new encoder per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def json_entry(
    *, created: float, level: str, logger: str, message: str, request_id: str | None, fields
) -> dict:
    """A line's object without its exception part: what `JsonFormatter` writes for a record,
    and what the access log writes without making a record (healthtrack/observability.py)."""
    redaction = _redaction.get()
    if redaction:
        message = message.replace(*redaction)
    entry = {
        "time": iso_time(created),
        "level": level,
        "logger": logger,
        "message": message,
        "request_id": request_id or "-",
    }
    for field in REQUEST_FIELDS:
        value = fields.get(field)
        if value is not None:
            entry[field] = value
    return entry


def json_line(entry: dict) -> str:
    return _ENCODER.encode(entry)


class _RecordFields:
    """A record's request fields, read as `json_entry` reads a dict."""

    __slots__ = ("record",)

    def __init__(self, record: logging.LogRecord) -> None:
        self.record = record

    def get(self, name: str):
        return getattr(self.record, name, None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = json_entry(
            created=record.created,
            level=record.levelname,
            logger=record.name,
            message=_message(record),
            request_id=getattr(record, "request_id", None),
            fields=_RecordFields(record),
        )
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, exc, tb = record.exc_info
            entry["exc_type"] = exc_type.__name__
            if _is_connection_error(exc):
                entry["exc_message"] = str(exc)[:300]
            entry["stack"] = "".join(traceback.format_tb(tb))
        return json_line(entry)
