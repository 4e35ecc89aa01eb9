"""`Idempotency-Key` on the API's create endpoints: a retry does not create twice.

    class NutritionLogViewSet(...):
        @idempotent
        def create(self, request, *args, **kwargs): ...

A client sends `Idempotency-Key: <any string up to MAX_KEY_LENGTH characters>` (devices may
send `X-Idempotency-Key`; both with different values is 400). The first 2xx answer is stored, in the
same transaction as the write it reports, per user and key. Within IDEMPOTENCY_TTL:
- the same key with the same method, path and body replays that answer (same status and body,
  `Idempotent-Replayed: true`) and writes nothing;
- the same key with anything else is 409 `idempotency_conflict`.
A concurrent retry waits for the first request's transaction (the key's unique index) and
then replays it. Answers other than 2xx are not stored: fixing the request and retrying with
the same key works. Without a key nothing changes (and nothing is queried).

The device sync endpoint (metrics) reads its key with `idempotency_key` too and keeps its own
records (it also deduplicates by body when no key is sent).
"""

from __future__ import annotations

import functools
import hashlib
import json

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from healthtrack.core.models import IDEMPOTENCY_KEY_MAX_LENGTH, IDEMPOTENCY_TTL, IdempotentRequest

MAX_KEY_LENGTH = IDEMPOTENCY_KEY_MAX_LENGTH
HEADER, ALIAS = "Idempotency-Key", "X-Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
_META_NAMES = {name: "HTTP_" + name.upper().replace("-", "_") for name in (HEADER, ALIAS)}


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This Idempotency-Key was used with a different request."
    default_code = "idempotency_conflict"


def idempotency_key(request) -> str | None:
    """The client's key from `Idempotency-Key` or its alias `X-Idempotency-Key`; None when
    neither is sent. 400 when both are sent with different values, or the key is too long."""
    meta = request.META  # `request.headers` would build a map of every header first
    sent = {h: meta.get(_META_NAMES[h], "").strip() for h in (HEADER, ALIAS)}
    values = {v for v in sent.values() if v}
    if len(values) > 1:
        raise exceptions.ValidationError(
            {HEADER: [f"{HEADER} and {ALIAS} differ: send one key (either header)."]}
        )
    if not values:
        return None
    key = values.pop()
    if len(key) > MAX_KEY_LENGTH:
        raise exceptions.ValidationError({HEADER: [f"At most {MAX_KEY_LENGTH} characters."]})
    return key


def _canonical(value):
    if isinstance(value, UploadedFile):
        return {"file": value.name, "size": value.size}
    raise TypeError(type(value).__name__)


def request_hash(request) -> str:
    """Method, path and body (parsed, keys sorted) of `request`."""
    data = request.data
    if hasattr(data, "lists"):  # a QueryDict (form or multipart): keep repeated fields
        data = {k: v if len(v) != 1 else v[0] for k, v in data.lists()}
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), default=_canonical)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _replay(record: IdempotentRequest) -> Response:
    response = Response(json.loads(record.response), status=record.status_code)
    response[REPLAYED] = "true"
    return response


def _claim(user, key: str, digest: str) -> IdempotentRequest:
    """The stored record for (user, key), or a new placeholder claiming the key. A placeholder
    has status_code 0; it is only ever visible to its own transaction."""
    now = timezone.now()
    for _ in range(3):
        record = IdempotentRequest.objects.filter(user=user, key=key).first()
        if record is not None:
            if record.created_at >= now - IDEMPOTENCY_TTL:
                if record.request_hash != digest:
                    raise IdempotencyKeyReused
                return record
            record.delete()
        try:
            with transaction.atomic():
                return IdempotentRequest.objects.create(
                    user=user,
                    key=key,
                    request_hash=digest,
                    status_code=0,
                    response="",
                    created_at=now,
                )
        except IntegrityError:
            continue  # a concurrent request with this key committed first: read it
    raise IdempotencyKeyReused


def idempotent(handler):
    """Decorate a create handler (`post`, or a viewset's `create`); see the module's doc."""

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = idempotency_key(request)
        user = request.user
        if key is None or not user.is_authenticated:
            return handler(view, request, *args, **kwargs)
        digest = request_hash(request)
        with transaction.atomic():
            record = _claim(user, key, digest)
            if record.status_code:
                return _replay(record)
            response = handler(view, request, *args, **kwargs)
            if not 200 <= response.status_code < 300:
                record.delete()  # nothing to replay: the client may fix it and retry
                return response
            record.status_code = response.status_code
            record.response = json.dumps(response.data, cls=JSONEncoder)
            record.save(update_fields=["status_code", "response"])
        return response

    wrapper.idempotent = True
    return wrapper


def idempotency_records_purge(*, now=None) -> int:
    """Delete records older than IDEMPOTENCY_TTL; returns how many."""
    deleted, _ = IdempotentRequest.objects.expired(now=now).delete()
    return deleted


# --- OpenAPI --------------------------------------------------------------------------------
KEY_DESCRIPTION = (
    "Send one on every create: a retry after a timeout or a dropped connection then gets the "
    "first answer back (with `Idempotent-Replayed: true`) instead of creating a second row. "
    f"Any string up to {MAX_KEY_LENGTH} characters, unique per logical write (a UUID), kept "
    "24 h. The same key with a different body is 409."
)
ALIAS_DESCRIPTION = f"Alias of `{HEADER}` (either header; both with different values is 400)."


def _view_method(path: str, method: str):
    from django.urls import Resolver404, resolve

    concrete = path
    while "{" in concrete:
        start = concrete.index("{")
        concrete = concrete[:start] + "1" + concrete[concrete.index("}", start) + 1 :]
    try:
        match = resolve(concrete)
    except Resolver404:
        return None
    cls = getattr(match.func, "cls", None)
    if cls is None:
        return None
    name = (getattr(match.func, "actions", None) or {}).get(method, method)
    return getattr(cls, name, None)


def document_idempotency(result, generator, request, public):
    """drf-spectacular hook: the two headers and the 409 on every `@idempotent` operation."""
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method != "post" or not getattr(_view_method(path, method), "idempotent", False):
                continue
            params = operation.setdefault("parameters", [])
            names = {p.get("name") for p in params}
            for name, description in ((HEADER, KEY_DESCRIPTION), (ALIAS, ALIAS_DESCRIPTION)):
                if name not in names:
                    params.append(
                        {
                            "in": "header",
                            "name": name,
                            "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH},
                            "description": description,
                        }
                    )
            operation.setdefault("responses", {}).setdefault(
                "409",
                {
                    "description": "Idempotency-Key reused with a different request.",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}
                    },
                },
            )
    return result
