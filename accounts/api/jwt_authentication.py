"""API authentication: simplejwt's Bearer JWT, with the user row cached briefly
(accounts.user_cache), naming the user as the actor of auditlog's change rows.

The user lookup behind every JWT request (`SELECT ... FROM accounts_user WHERE id = ...`, and
the Fernet decryption of the encrypted columns) was ~12 % of an API request's CPU
(bench/bench_request_cpu.py). The row is now kept in the cache (Redis) for
`AUTH_USER_CACHE_SECONDS` (default 300; 0 turns the cache off) under `auth:user:<shape>:<id>`:
- never the password hash (deferred on the cached instance: loaded from the database on
  first access, as Django does for any deferred field); encrypted fields (date of birth,
  medical history) are cached encrypted, as Fernet tokens like the database holds them, and
  decrypted when the entry is read (never plaintext in the cache);
- every `User.save()` / delete drops the entry at once and again when its transaction commits,
  so deactivation, soft deletion or a role change applies on the next request;
- a change that bypasses `save()` (a QuerySet `.update()`, raw SQL) applies within
  `AUTH_USER_CACHE_SECONDS` at most: the documented bound;
- an inactive or missing user is never cached (simplejwt's checks run on every request, cached
  or not); with Redis down the cache misses and the database answers, as before;
- the entry also holds the user's JWT revocation list (accounts.credentials), read from the
  database with the row; a revocation drops the entry, so it applies on the next request.
"""

from __future__ import annotations

import binascii
import functools
import hmac
import json
from typing import NamedTuple

import jwt
from django.conf import settings
from django.core.cache import cache
from django.db import connection, router
from django.db.models import DEFERRED, Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from fernet_fields.fields import EncryptedField
from jwt.algorithms import HMACAlgorithm
from jwt.api_jws import PyJWS
from jwt.exceptions import DecodeError
from jwt.utils import base64url_decode, base64url_encode
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import aware_utcnow

from accounts import credentials
from accounts.audit import audit_actor_set
from accounts.models import User
from accounts.user_cache import CACHED_FIELDS, to_cache, user_cache_key


class _KeyCheckedOnceHMAC(HMACAlgorithm):
    """PyJWT's HMAC algorithm, checking a key's shape (not a PEM, SSH, DER or JWK key, which
    would allow algorithm confusion) and its length once per key instead of on every token
    verified: the shape check tries to parse the key as DER twice, ~4 % of a cached read's CPU
    (issue 15). The signature itself is still computed and compared for every token."""

    def __init__(self, hash_alg) -> None:
        super().__init__(hash_alg)
        self._prepared: dict[str | bytes, bytes] = {}
        self._length_checked: dict[bytes, str | None] = {}

    def prepare_key(self, key: str | bytes) -> bytes:
        prepared = self._prepared.get(key)
        if prepared is None:
            prepared = super().prepare_key(key)  # raises for a key of the wrong shape
            if len(self._prepared) < 16:  # our signing keys: a handful at most
                self._prepared[key] = prepared
        return prepared

    def check_key_length(self, key: bytes) -> str | None:
        if key in self._length_checked:
            return self._length_checked[key]
        message = super().check_key_length(key)
        if len(self._length_checked) < 16:
            self._length_checked[key] = message
        return message


_HMAC = {
    "HS256": _KeyCheckedOnceHMAC(HMACAlgorithm.SHA256),
    "HS384": _KeyCheckedOnceHMAC(HMACAlgorithm.SHA384),
    "HS512": _KeyCheckedOnceHMAC(HMACAlgorithm.SHA512),
}
for _name, _algorithm in _HMAC.items():
    jwt.unregister_algorithm(_name)
    jwt.register_algorithm(_name, _algorithm)

_BASE64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


class _JWS(PyJWS):
    """PyJWS with our HMAC algorithms, and its check of a segment's alphabet made by
    `bytes.translate` instead of a Python generator over every character (~3 % of a cached
    read, issue 15). The same rule as PyJWT 2.15's `_decode_base64url_segment`: up to two
    trailing '=', only when the length is a multiple of 4; base64url characters only; a
    length that is not 1 mod 4; and the segment is the canonical encoding of its bytes."""

    def __init__(self, options=None) -> None:
        super().__init__(options=options)
        for name, algorithm in _HMAC.items():
            self._algorithms[name] = algorithm

    @staticmethod
    def _decode_base64url_segment(segment: bytes, name: str) -> bytes:
        stripped = segment.rstrip(b"=")
        padding = len(segment) - len(stripped)
        if padding > 2 or (padding and len(segment) % 4 != 0):
            raise DecodeError(f"Invalid {name} padding")
        if len(stripped) % 4 == 1 or stripped.translate(None, _BASE64URL_ALPHABET):
            raise DecodeError(f"Invalid {name} padding")
        try:
            decoded = base64url_decode(stripped)
        except (TypeError, binascii.Error) as err:
            raise DecodeError(f"Invalid {name} padding") from err
        if base64url_encode(decoded) != stripped:
            raise DecodeError(f"Invalid {name} padding")
        return decoded


_PAYLOADS_MAX = 4096  # decoded payloads kept per process; emptied when full


class _Decoder:
    """What simplejwt's `TokenBackend.decode` does for an HMAC backend, with everything that
    does not depend on the token worked out once (the prepared key, the allowed algorithm,
    PyJWT's options, the leeway): simplejwt rebuilds the options and PyJWT merges them on
    every call. Only for an HMAC backend without a JWKS client; others keep simplejwt's path.

    A token in the shape this app issues is verified by `_verified_payload` without PyJWT's
    per-call machinery (~40 % of a cached hit's verification, issue 15): its header segment
    one that PyJWT accepted before (learnt per process, see `_learn`), the HMAC of the first
    two segments computed and compared with the third (`hmac.compare_digest`) on every call,
    the payload segment decoded by PyJWT's strict rule (once per segment whose signature
    matched: `payloads`), and the claims checked by PyJWT's own `_validate_claims` with the
    options `decode` merges. Anything else (an unknown header, a
    signature that does not match, padding, a payload that is not a JSON object) goes through
    `PyJWT.decode`, which gives its usual answer or error."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.usable = backend.algorithm in _HMAC and not getattr(backend, "jwks_client", None)
        if not self.usable:
            return
        self.key = backend.prepared_signing_key
        self.algorithms = [backend.algorithm]
        self.audience = backend.audience
        self.issuer = backend.issuer
        self.leeway = backend.get_leeway().total_seconds()
        self.jwt = jwt.PyJWT(options={"verify_aud": backend.audience is not None})
        self.jwt._jws = _JWS(options=self.jwt._get_sig_options())
        algorithm = _HMAC[backend.algorithm]
        self.hmac_key = algorithm.prepare_key(self.key)
        self.digest = algorithm.hash_alg
        # A short key makes PyJWT warn on every call: such a backend keeps PyJWT's path.
        self.fast = algorithm.check_key_length(self.hmac_key) is None
        self.headers: dict[bytes, str] = {}  # header segments PyJWT accepted -> their alg
        # Payload segments of tokens whose signature matched -> their decoded claims: decoding
        # (strict base64url, JSON) is a function of the segment's bytes alone, done once per
        # token per process (~5 % of a cached hit, issue 15). The signature is still computed
        # and compared, and the claims checked (expiry), on every call.
        self.payloads: dict[bytes, dict] = {}

    def decode(self, raw_token: bytes) -> dict:
        if isinstance(raw_token, str):
            raw_token = raw_token.encode()
        if self.fast and isinstance(raw_token, bytes):
            payload = self._verified_payload(raw_token)
            if payload is not None:
                return payload
        decoded = self.jwt.decode_complete(
            raw_token,
            self.key,
            algorithms=self.algorithms,
            audience=self.audience,
            issuer=self.issuer,
            leeway=self.leeway,
        )
        if self.fast:
            self._learn(raw_token, decoded["header"])
        return decoded["payload"]

    def _verified_payload(self, raw_token: bytes) -> dict | None:
        """The payload of a token whose header PyJWT accepted before, whose signature is the
        HMAC of its first two segments and whose claims pass PyJWT's checks; None when the
        token needs PyJWT's own path (which then accepts or refuses it)."""
        signing_input, _, signature = raw_token.rpartition(b".")
        header, dot, segment = signing_input.partition(b".")
        if not dot or header not in self.headers:
            return None
        expected = hmac.digest(self.hmac_key, signing_input, self.digest)  # OpenSSL, one shot
        if not hmac.compare_digest(base64url_encode(expected), signature):
            return None  # a bad signature, or a padded one: PyJWT decides
        payload = self.payloads.get(segment)
        if payload is None:
            try:
                payload = json.loads(_JWS._decode_base64url_segment(segment, "payload"))
            except (DecodeError, ValueError, RecursionError):
                return None
            if not isinstance(payload, dict):
                return None
            if len(self.payloads) >= _PAYLOADS_MAX:
                self.payloads.clear()
            self.payloads[segment] = payload
        payload = dict(payload)  # the caller's own; the kept one is never handed out
        # PyJWT's claim checks as `decode` runs them (options=None: the instance's options).
        self.jwt._validate_claims(
            payload,
            self.jwt.options,
            audience=self.audience,
            issuer=self.issuer,
            leeway=self.leeway,
        )
        return payload

    def _learn(self, raw_token: bytes, header: dict) -> None:
        """Remember a header segment PyJWT accepted, when it holds nothing but the algorithm
        and the type: its verdict on that segment does not depend on the rest of a token."""
        segment = raw_token.partition(b".")[0]
        if (
            len(self.headers) < 16
            and set(header) <= {"alg", "typ"}
            and header.get("alg") in self.algorithms
        ):
            self.headers[segment] = header["alg"]


@functools.cache
def _decoder(backend) -> _Decoder:
    return _Decoder(backend)


def verified_token(raw_token: bytes) -> Token | None:
    """The token as simplejwt's `JWTAuthentication.get_validated_token` would return it
    (signature, expiry, audience and issuer by PyJWT; then each AUTH_TOKEN_CLASSES class's own
    `verify()`: expiry, jti, token type), decoding the token once with a prepared decoder.
    None when it is not valid, or when a token class builds itself differently: the caller
    then asks simplejwt, which gives its usual answer and error."""
    payload = None
    for token_class in api_settings.AUTH_TOKEN_CLASSES:
        if token_class.__init__ is not Token.__init__:
            return None
        token = token_class.__new__(token_class)
        if payload is None:
            decoder = _decoder(token.get_token_backend())
            if not decoder.usable:
                return None
            try:
                payload = decoder.decode(raw_token)
            except jwt.InvalidTokenError:
                return None
        token.token = raw_token
        token.current_time = aware_utcnow()
        token.payload = dict(payload)
        try:
            token.verify()
        except TokenError:
            continue
        return token
    return None


# A request may carry what a single earlier cache round trip found for its Bearer token
# (accounts.api.readcache: the token verified and the user cache entry read together with the
# rate-limit windows and the cached answer), so that this class does neither again.
PREFETCHED_ATTR = "_healthtrack_jwt_prefetched"


class Prefetched(NamedTuple):
    raw_token: bytes
    validated_token: object
    cached: list | None  # the user cache entry's value as read; None: not in the cache


class AuditedJWTAuthentication(JWTAuthentication):
    _prefetched: Prefetched | None = None

    def authenticate(self, request):
        self._prefetched = getattr(request, PREFETCHED_ATTR, None)
        if self._prefetched is None:
            self._prefetched = self._round_trip(request)
        try:
            result = super().authenticate(request)
        except AuthenticationFailed:
            self._refund(request)
            raise
        if result is not None:
            audit_actor_set(result[0])
        return result

    @staticmethod
    def _round_trip(request) -> Prefetched | None:
        """For a view's request that has not made it yet (every write, most reads): the one
        Redis round trip of `accounts.api.readcache.prefetch`, which counts the request in the
        view's rate-limit windows (DRF's throttles then read the results) and reads this
        token's user cache entry together, instead of a cache lookup here and a Lua call in the
        throttles. It verifies the token first and steps aside (None) when anything is
        unusual: then each part does its own lookup as before."""
        view = (getattr(request, "parser_context", None) or {}).get("view")
        if view is None:
            return None
        from accounts.api import readcache  # it imports this module

        readcache.prefetch(request, view)
        return getattr(request, PREFETCHED_ATTR, None)

    @staticmethod
    def _refund(request) -> None:
        """A refused token uses up none of the limits: the slow path authenticates before it
        throttles, so the places the round trip took are given back."""
        if getattr(request, "_healthtrack_counted", None):
            from accounts.api import readcache

            readcache.refund(request)

    def get_validated_token(self, raw_token):
        prefetched = self._prefetched
        if prefetched is not None and prefetched.raw_token == raw_token:
            return prefetched.validated_token  # verified (signature, expiry) this request
        token = verified_token(raw_token)
        if token is not None:
            return token
        return super().get_validated_token(raw_token)  # and its answer for an invalid token

    def user_cache_key_of(self, validated_token) -> str | None:
        """The user cache key for this token's user; None when the entry is not used."""
        user_id = validated_token.get(api_settings.USER_ID_CLAIM)
        if (
            settings.AUTH_USER_CACHE_SECONDS <= 0
            or user_id is None
            or api_settings.USER_ID_FIELD != "id"
            or api_settings.CHECK_REVOKE_TOKEN  # needs the password hash, never cached
        ):
            return None
        return user_cache_key(user_id)

    def get_user(self, validated_token):
        user, revoked = self._user_and_revoked(validated_token)
        if credentials.token_is_revoked(validated_token, user=user, revoked=revoked):
            raise AuthenticationFailed(_("Token has been revoked."), code="token_revoked")
        return user

    def _user_and_revoked(self, validated_token) -> tuple[User, list[str]]:
        """The token's user and their revocation list: one cache lookup, or the database."""
        key = self.user_cache_key_of(validated_token)
        if key is None:
            user = super().get_user(validated_token)
            return user, credentials.revoked_ids(user.pk)
        prefetched = self._prefetched
        if prefetched is not None and prefetched.validated_token is validated_token:
            values = prefetched.cached
        else:
            values = cache.get(key)
        if not isinstance(values, list) or len(values) != len(CACHED_FIELDS) + 1:
            user = super().get_user(validated_token)  # raises for missing / inactive users
            revoked = credentials.revoked_ids(user.pk)
            cache.set(key, [*to_cache(user), revoked], settings.AUTH_USER_CACHE_SECONDS)
            return user, revoked
        user = _user_from_entry(values[:-1])
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        return user, values[-1]


# The entry's encrypted columns (Fernet tokens, as the database holds them) decrypted once per
# token per process: decrypting them (HMAC check, AES, per column) was ~4 % of a write's CPU,
# on every request of a user whose entry had not changed (issue 15). A token stands for one
# encryption of one value, and a changed value is a new token (and a new entry: every save drops
# it), so the memo answers what decrypting would. The values stay in this process's memory as
# the request's user object holds them anyway (never in the cache, a log or a response);
# bounded, emptied when full.
_ENCRYPTED_FIELDS = {
    f.attname: f for f in User._meta.concrete_fields if isinstance(f, EncryptedField)
}
_OPENED: dict[tuple[str, bytes], object] = {}
_OPENED_MAX = 2048


def _opened(name: str, token) -> object:
    key = (name, bytes(token))
    try:
        return _OPENED[key]
    except KeyError:
        pass
    value = _ENCRYPTED_FIELDS[name].from_db_value(token, None, connection)
    if len(_OPENED) >= _OPENED_MAX:
        _OPENED.clear()
    _OPENED[key] = value
    return value


def _user_from_entry(values: list) -> User:
    """The cached row as a User, every column loaded (as `accounts.user_cache.from_cache`),
    its encrypted columns decrypted through `_opened`."""
    row = [
        _opened(name, value) if value is not None and name in _ENCRYPTED_FIELDS else value
        for name, value in zip(CACHED_FIELDS, values, strict=True)
    ]
    return User.from_db(router.db_for_read(User), CACHED_FIELDS, row)


# The cached row without its encrypted columns: those stay deferred (read from the database
# if something reads them), so that a request that only needs the user's id, state and
# credentials version decrypts nothing. Per column, in the model's order: its place in the
# cache entry, or None when deferred (the encrypted ones; the password hash, never cached).
_FROM_ENTRY = [
    None
    if isinstance(f, EncryptedField) or f.attname not in CACHED_FIELDS
    else CACHED_FIELDS.index(f.attname)
    for f in User._meta.concrete_fields
]
# The loaded columns' (name, place in the entry), for `_user_from_row`.
_LOADED = [
    (f.attname, i)
    for f, i in zip(User._meta.concrete_fields, _FROM_ENTRY, strict=True)
    if i is not None
]
# `Model.__init__` sets each given column with `setattr`, which for these columns (Django's
# non-data `DeferredAttribute`) is writing the instance's `__dict__`. With a column behind a
# data descriptor, an `__init__` or `from_db` of User's own, or a receiver of its init
# signals, the row goes through `from_db`.
_PLAIN_ROW = (
    User.__init__ is Model.__init__
    and User.from_db.__func__ is Model.from_db.__func__
    and not any(hasattr(type(getattr(User, name, None)), "__set__") for name, _ in _LOADED)
)


def _user_from_row(values: list) -> User:
    """`User.from_db(db, None, row)` of the entry's row with the encrypted columns and the
    password deferred, without `Model.__init__`'s pass over every field: the same instance
    (the loaded columns in `__dict__`, `_state.adding` False, `_state.db` the router's)."""
    if not _PLAIN_ROW or pre_init.has_listeners(User) or post_init.has_listeners(User):
        row = [DEFERRED if i is None else values[i] for i in _FROM_ENTRY]
        return User.from_db(router.db_for_read(User), None, row)  # every column given
    user = object.__new__(User)
    state = user._state = ModelState()
    state.adding = False
    state.db = router.db_for_read(User)
    attrs = user.__dict__
    for name, i in _LOADED:
        attrs[name] = values[i]
    return user


def cached_user(prefetched: Prefetched | None) -> User | None:
    """The prefetched token's user when the cache entry lets the request through by the rule
    `AuditedJWTAuthentication` applies: a well-formed entry, an active user, the token not
    revoked (credentials version, its id and its family's). None for anything else (no
    entry, inactive, revoked): then the normal authentication runs and answers."""
    if prefetched is None:
        return None
    values = prefetched.cached
    if not isinstance(values, list) or len(values) != len(CACHED_FIELDS) + 1:
        return None
    user = _user_from_row(values)
    if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
        return None
    if credentials.token_is_revoked(prefetched.validated_token, user=user, revoked=values[-1]):
        return None
    return user


class AuditedJWTScheme(SimpleJWTScheme):
    """The OpenAPI description: the same bearer JWT scheme as simplejwt's."""

    target_class = "accounts.api.jwt_authentication.AuditedJWTAuthentication"
