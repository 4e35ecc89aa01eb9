"""Read replicas with read-your-writes.

Safe (GET/HEAD) API requests read from a replica listed in DATABASE_REPLICA_URLS; everything
else, Celery tasks and management commands included, uses the primary. A user who has just
written is pinned to the primary for REPLICA_PIN_SECONDS, so they always see their own writes
even while a replica lags. Without replicas configured the router changes nothing.
"""

from __future__ import annotations

import random
from contextvars import ContextVar
from dataclasses import dataclass

import jwt
from django.conf import settings
from django.core.cache import cache
from django.db import connections

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _pin_key(user_id: int) -> str:
    return f"db:pin:user:{user_id}"


def _claimed_user_id(request) -> int | None:
    """Who the request says it is, before authentication has run: the `user_id` claim of a
    bearer JWT (unverified: it only chooses a database, DRF still authenticates) or the
    session's user. Knowing it early lets even the authentication lookup read the primary."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header.startswith("Bearer "):
        try:
            claims = jwt.decode(header[7:], options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        user_id = claims.get(settings.SIMPLE_JWT.get("USER_ID_CLAIM", "user_id"))
    else:
        session = getattr(request, "session", None)
        user_id = session.get("_auth_user_id") if session is not None else None
    try:
        return int(user_id) if user_id is not None else None
    except (TypeError, ValueError):
        return None


@dataclass
class _RequestRouting:
    request: object
    replica_allowed: bool
    _pinned: bool | None = None
    _resolving: bool = False

    def pinned_to_primary(self) -> bool:
        if self._pinned is not None:
            return self._pinned
        if self._resolving:
            # A read made while finding out who the user is (the session row): the primary.
            return True
        self._resolving = True
        try:
            user_id = _claimed_user_id(self.request)
        finally:
            self._resolving = False
        self._pinned = user_id is not None and bool(cache.get(_pin_key(user_id)))
        return self._pinned


_current: ContextVar[_RequestRouting | None] = ContextVar("db_routing", default=None)


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        state = _current.get()
        replicas = settings.DATABASE_REPLICAS
        if not replicas or state is None or not state.replica_allowed:
            return None
        # Inside a transaction on the primary, reads must see that transaction's writes.
        if connections["default"].in_atomic_block:
            return "default"
        if state.pinned_to_primary():
            return "default"
        return random.choice(replicas)  # noqa: S311 - load spreading, not security

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"


def pin_to_primary(user_id: int) -> None:
    """Send this user's reads to the primary for the next REPLICA_PIN_SECONDS."""
    cache.set(_pin_key(user_id), 1, settings.REPLICA_PIN_SECONDS)


class ReplicaRoutingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        replica_allowed = bool(settings.DATABASE_REPLICAS) and (
            request.method in SAFE_METHODS and request.path_info.startswith("/api/")
        )
        token = _current.set(_RequestRouting(request=request, replica_allowed=replica_allowed))
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        user = getattr(request, "user", None)
        if (
            settings.DATABASE_REPLICAS
            and request.method not in SAFE_METHODS
            and getattr(user, "is_authenticated", False)
        ):
            pin_to_primary(user.pk)
        return response
