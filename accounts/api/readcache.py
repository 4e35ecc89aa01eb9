"""Serialized responses cached per user version (issue 15).

The cached reads (a person's recommendations, their summary) answer from the response's JSON
bytes as first rendered, with one Redis round trip for the whole request: a Lua call that
checks and counts the rate-limit windows, reads the JWT user cache entry, and reads the body
with the owner's data version. Nothing the slow path guarantees is skipped:

- JWT: the token's signature and expiry are verified before the round trip (only a validly
  signed token's user is looked up); the user row, its revocation list and credentials
  version (`cv`) come from the auth cache entry fetched in the same call and are checked by
  `accounts.api.jwt_authentication` as on every request: a revoked token is 401 whatever is cached.
  A request refused there gives back its place in the rate-limit windows (as if never counted,
  which is what the slow path does: it authenticates before it throttles).
- Rate limits: the per-IP and per-user windows of the view are counted in the same Lua call,
  by the same rule as `healthtrack.core.api.throttles` (DRF's throttles then read the result).
- Access and audit: the signed-in user's own current answer is served by `own_hit` before
  DRF's dispatch, or by the same checks before Django's handler (`own_hit_body`, called by
  healthtrack/front.py for a path a view answered that way before); the view's permission
  classes and `access.can_read` are checked there, and own reads are not audited. Anyone
  else's answer is served by the view after its access check (a clinician's, a family
  member's: the usual query), and those reads are audited as before. The key names the viewer
  and the owner, so one person's cached view is never served to another.
- Freshness: an entry carries the owner's data version token (`Entry.version_key`) read
  *before* the body was computed, and is served only while that token is unchanged. Every write
  to an input replaces or deletes the token (metrics: `invalidate_summary_cache`;
  recommendations: `insights.cache.invalidate_many`; the nutrition day:
  `nutrition.services.daily_cache_invalidate`), so a write that commits while a body is
  being computed cannot leave that body servable. A missing token is created by the read
  (atomically, in the Lua call), so an entry is never stored under "no version".

Redis down: the Lua call fails, the request takes the slow path (auth and throttles do their
own lookups, which degrade as they always did) and nothing is cached. Other cache backends
(the embedded default's local memory): the same checks with plain `get`/`add`/`set`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.exceptions import DisallowedHost
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpResponse
from django_redis.exceptions import CompressorError
from redis.commands.core import Script
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.throttling import SimpleRateThrottle

from accounts import access
from accounts.api import jwt_authentication as jwt_auth
from accounts.audit import audit_actor_set
from healthtrack.core.api import throttles

logger = logging.getLogger(__name__)

# How long a version token lives: longer than any entry, so an entry can never outlive the
# token it was stored under (a missing token is recreated with a new value).
VERSION_TTL = 2 * 24 * 3600

# KEYS: n window keys, then (with an entry) the version key and the body key, then the user
# key and the hit counter key when given. ARGV[1] now, ARGV[2] a unique member, ARGV[3] n, per
# window its duration and limit, then: whether there is an entry, a new version token (in the
# cache's encoding) and its TTL, whether there is a user key, whether there is a counter key.
# Returns {per window {allowed, count, oldest}, version or false, whether the entry starts with
# the version (1) or not (nil), user or false}; `_run` reads the body itself (a GET sent first).
PREFETCH_LUA = """
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[3])
local windows = {}
local refused = false
for i = 1, n do
  local duration = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - duration)
  local count = redis.call('ZCARD', KEYS[i])
  if count >= tonumber(ARGV[3 + 2 * i]) then
    refused = true
    local first = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    windows[i] = {0, count, first[2] or '0'}
  else
    windows[i] = {1, count, '0'}
  end
end
if not refused then
  for i = 1, n do
    redis.call('ZADD', KEYS[i], now, ARGV[2])
    redis.call('PEXPIRE', KEYS[i], math.ceil(tonumber(ARGV[2 + 2 * i]) * 1000))
    windows[i][2] = windows[i][2] + 1
  end
end
local a = 4 + 2 * n
local k = n + 1
local version = false
local body = false
if ARGV[a] == '1' then
  version = redis.call('GET', KEYS[k])
  if not version then
    version = ARGV[a + 1]
    redis.call('SET', KEYS[k], version, 'EX', ARGV[a + 2])
  end
  -- Lua reads only the entry's version prefix: the body comes from a plain GET sent before
  -- this call in the same round trip (`_run`). A reply holding a 13-kB body built by Lua cost
  -- Redis 0.024 ms a call, a plain GET 0.005 (issue 15).
  if redis.call('GETRANGE', KEYS[k + 1], 0, #version - 1) == version then
    body = true
  end
  k = k + 2
end
local user = false
if ARGV[a + 3] == '1' then
  user = redis.call('GET', KEYS[k])
  k = k + 1
end
-- A hit counted by the prefix; in the race where the entry is stored under this version between
-- the GET and this call, one hit is counted that `_run` does not serve (a statistic).
if body and ARGV[a + 4] == '1' then
  redis.call('INCR', KEYS[k])
end
return {windows, version, body, user}
"""

ATTR = "_healthtrack_readcache"
# Set on a request whose one round trip has been made (by the hit path or by `initial`).
PREFETCH_DONE_ATTR = "_healthtrack_prefetched"
# What the round trip leaves on the request (read by the authentication and the throttles).
_PREFETCH_ATTRS = (
    PREFETCH_DONE_ATTR,
    ATTR,
    jwt_auth.PREFETCHED_ATTR,
    throttles.RESULTS_ATTR,
    "_healthtrack_counted",
    "_healthtrack_all_windows",
)
# WSGI environ keys (never a client's: those are HTTP_*). HANDED_OVER: what a round trip made
# in front of Django found (healthtrack/front.py), for the request Django builds from the same
# environ. OWN_HIT_NOTE: (resolver match, path) of a request an own cached hit answered, for
# the front to learn from.
HANDED_OVER = "healthtrack.readcache.prefetched"
OWN_HIT_NOTE = "healthtrack.readcache.own_hit"


@functools.cache
def _script(source: str) -> Script:
    """The Lua script and its SHA (for `EVALSHA`: its 2 kB text is not sent and hashed on every
    request)."""
    return Script(None, source.encode())


def _packed(parts: list[bytes]) -> bytes:
    """One command in the protocol's request form (an array of bulk strings)."""
    return b"*%d\r\n" % len(parts) + b"".join([b"$%d\r\n%s\r\n" % (len(p), p) for p in parts])


# Each thread's own connection for the round trip, kept between requests: taking one from
# redis-py's pool and giving it back (its lock, fork check, deprecation-argument wrapper and
# connection-count hooks) cost a third of the call (issue 15). (pool, pid, connection).
_own = threading.local()


def _connection(pool):
    held = getattr(_own, "held", None)
    if held is not None and held[0] is pool and held[1] == os.getpid():
        return held[2]
    conn = pool.connection_class(**pool.connection_kwargs)  # the pool's settings; not pooled
    _own.held = (pool, os.getpid(), conn)
    return conn


def _evalsha(redis_client, source: str, keys: list[bytes], args: list[bytes], get=None):
    """(the value of key `get` or None, the reply of `EVALSHA` of `source`): both commands
    written in one `sendall` on this thread's connection to `redis_client`'s server (made with its
    pool's settings), the GET first, packed here from bytes, the replies read by the
    connection's parser (hiredis when installed): redis-py's command layer (argument encoding,
    its retry wrapper, per-command observability hooks) and pool were most of the round trip's
    CPU on a cached read (issue 15). What they gave is kept: a script the server has forgotten
    (a restart) is loaded and both run again; a connection that fails is closed (it
    reconnects on the next call), and one whose peer went away (an idle connection the server
    dropped) is tried once more on a fresh socket."""
    script = _script(source)
    command = _packed([b"EVALSHA", script.sha.encode(), b"%d" % len(keys), *keys, *args])
    if get is not None:
        command = _packed([b"GET", get]) + command
    conn = _connection(redis_client.connection_pool)
    for attempt in range(3):
        value = None
        try:
            # One item: redis-py writes each item of the list with its own `sendall`, two
            # system calls and two segments the server may read apart (issue 15).
            conn.send_packed_command([command], check_health=False)
            if get is not None:
                value = conn.read_response()
            return value, conn.read_response()
        except NoScriptError:
            if attempt == 2:
                raise
            redis_client.script_load(source)
        except RedisConnectionError:
            conn.disconnect()
            if attempt:
                raise
        except BaseException:
            conn.disconnect()
            raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Entry:
    """One cacheable answer: whose view of whose data, and which version token guards it."""

    key: str
    version_key: str
    ttl: int
    hit_counter: str | None = None  # a cache counter (`incr`) bumped on every hit
    viewer_id: int | None = None
    owner_id: int | None = None

    @classmethod
    def of(
        cls,
        name: str,
        *,
        viewer_id: int,
        owner_id: int,
        params: str,
        version_key: str,
        ttl: int,
        hit_counter: str | None = None,
    ) -> Entry:
        return cls(
            f"resp:{name}:viewer:{viewer_id}:owner:{owner_id}:{params}",
            version_key,
            ttl,
            hit_counter,
            viewer_id,
            owner_id,
        )

    @classmethod
    def of_page(
        cls, request, name: str, *, viewer_id: int, owner_id: int, version_key: str, ttl: int
    ) -> Entry | None:
        """The cached page `viewer_id` reads of `owner_id`'s `name` list at this request's URL:
        keyed by the URL as the page's links repeat it (scheme, host, path) and its parameters
        in a normal order (limit, cursor, filters, member); None for a host Django refuses.
        `request`: Django's (`own_hit`, before DRF's dispatch) or DRF's."""
        try:
            host = request.get_host()
        except DisallowedHost:
            return None
        query = urlencode(sorted(request.GET.lists()), doseq=True)
        url = f"{request.scheme}://{host}{request.path}?{query}"
        return cls.of(
            name,
            viewer_id=viewer_id,
            owner_id=owner_id,
            params=hashlib.blake2b(url.encode(), digest_size=16).hexdigest(),
            version_key=version_key,
            ttl=ttl,
        )


@dataclass
class Found:
    entry: Entry
    version: object  # the token (raw bytes with Redis), read before the body is computed
    body: bytes | None
    redis: bool


def _decoded(client, value: bytes):
    """`client.decode(value)` for a pickled value (the JWT user entry, a list): django-redis
    first tries `int(value)` for every value, and the ValueError it raises and formats for a
    pickle cost more than unpickling it. Anything else goes through `client.decode`."""
    serializer = getattr(client, "_serializer", None)
    compressor = getattr(client, "_compressor", None)
    if value[:1] != b"\x80" or serializer is None or compressor is None:
        return client.decode(value)
    with contextlib.suppress(CompressorError):
        value = compressor.decompress(value)
    return serializer.loads(value)


# The JWT user entry as read (its bytes) -> its values, decoded once per process: unpickling it
# (a user row's datetimes and strings) was ~2 % of a reading's POST (issue 15), on every request
# of a user whose entry had not changed. Every change writes a new entry (other bytes). Bounded,
# emptied when full; each request gets its own lists.
_ENTRIES: dict[bytes, tuple] = {}
_ENTRIES_MAX = 2048


def _user_entry(client, raw: bytes):
    values = _ENTRIES.get(raw)
    if values is None:
        decoded = _decoded(client, raw)
        if not isinstance(decoded, list) or not decoded or not isinstance(decoded[-1], list):
            return decoded  # not an entry's shape: the authentication decides what it is
        if len(_ENTRIES) >= _ENTRIES_MAX:
            _ENTRIES.clear()
        values = _ENTRIES[raw] = (*decoded[:-1], tuple(decoded[-1]))
    return [*values[:-1], list(values[-1])]


def _unique() -> str:
    """A new random token in `uuid4().hex`'s shape (32 hex digits) without building a UUID
    object: a version token, a rate-limit window's member."""
    return os.urandom(16).hex()


# Bumped when the CACHES setting changes (a test's override): every thread then looks its
# default cache up again.
_caches_generation = [0]


@receiver(setting_changed)
def _caches_changed(*, setting, **kwargs) -> None:
    if setting == "CACHES":
        _caches_generation[0] += 1


def _redis(backend=None):
    """The django-redis client of `backend` (default: the default cache), or None. The
    default cache's is kept per thread: `caches[alias]` reads a context-local store on every
    call, ~5 µs of a cached hit (issue 15)."""
    if backend is None:
        held = getattr(_own, "client", None)
        if held is not None and held[0] == _caches_generation[0]:
            return held[1]
        client = _redis(caches[DEFAULT_CACHE_ALIAS])  # the handler, not the `cache` proxy
        _own.client = (_caches_generation[0], client)
        return client
    client = getattr(backend, "client", None)
    if client is None or not hasattr(client, "get_client") or not hasattr(client, "encode"):
        return None
    return client


def _run(
    entry: Entry | None,
    *,
    windows=(),
    user_key: str | None = None,
    member: str = "",
    client=None,
) -> tuple:
    client = client or _redis()
    make_key = client.make_key
    keys = [make_key(k).encode() for k, _, _ in windows]
    args = [
        repr(throttles._IPThrottle.timer()).encode(),
        (member or _unique()).encode(),
        b"%d" % len(windows),
    ]
    for _, duration, limit in windows:
        args += [str(duration).encode(), str(limit).encode()]
    if entry is not None:
        keys += [make_key(entry.version_key).encode(), make_key(entry.key).encode()]
    if user_key is not None:
        keys.append(make_key(user_key).encode())
    counter = entry.hit_counter if entry is not None else None
    if counter is not None:
        keys.append(make_key(counter).encode())
    args += [
        b"1" if entry is not None else b"0",
        client.encode(_unique()) if entry is not None else b"",  # no entry: unused
        b"%d" % VERSION_TTL,
        b"1" if user_key is not None else b"0",
        b"1" if counter is not None else b"0",
    ]
    entry_key = keys[len(windows) + 1] if entry is not None else None
    stored, (rows, version, current, user) = _evalsha(
        client.get_client(write=True), PREFETCH_LUA, keys, args, get=entry_key
    )
    # The body read just before the script found the version current, stored under that same
    # version (so computed after it was read): as fresh as the script's own check.
    body = False
    if current and version and stored is not None and stored.startswith(version):
        body = stored[len(version) :]
    return rows, version, body, user


def lookup(entry: Entry) -> Found | None:
    """The entry's body if its version is current (and the version read now). None when the
    cache does not answer: then nothing is served from it nor stored."""
    if _redis() is None:
        version = cache.get(entry.version_key)
        if version is None:
            cache.add(entry.version_key, uuid.uuid4().hex, VERSION_TTL)
            version = cache.get(entry.version_key)
        if version is None:
            return None
        stored = cache.get(entry.key)
        body = stored[1] if isinstance(stored, tuple) and stored[0] == version else None
        if body is not None and entry.hit_counter is not None:
            _incr(entry.hit_counter)
        return Found(entry, version, body, redis=False)
    try:
        _, version, body, _ = _run(entry)
    except Exception as exc:  # noqa: BLE001 - Redis down: no cached answer, the slow path
        logger.warning("response cache skipped: %s", type(exc).__name__)
        return None
    return Found(entry, version, body or None, redis=True)


def _incr(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:
        cache.add(key, 0, timeout=None)
        with contextlib.suppress(ValueError):
            cache.incr(key)


def store(found: Found | None, body: bytes) -> None:
    """Keep `body` under the version read before it was computed."""
    if found is None:
        return
    entry = found.entry
    if not found.redis:
        cache.set(entry.key, (found.version, body), entry.ttl)
        return
    try:
        _redis().get_client(write=True).set(
            _redis().make_key(entry.key), found.version + body, ex=entry.ttl
        )
    except Exception as exc:  # noqa: BLE001 - as the cache does: Redis down, nothing stored
        logger.warning("response cache store skipped: %s", type(exc).__name__)


def still_current(found: Found) -> bool:
    """Whether the owner's version token is still the one `found` read before its answer was
    computed: a write since has deleted or replaced it. For a value kept beside the cache's
    own entries (another key), which must not outlive the data it was computed from: keep it,
    then ask this, and drop it when not (a write whose invalidation ran before the keep left
    no token to match; one that runs after it drops the value itself). Redis down: False."""
    entry = found.entry
    if not found.redis:
        return cache.get(entry.version_key) == found.version
    try:
        client = _redis()
        raw = client.get_client(write=True).get(client.make_key(entry.version_key))
    except Exception as exc:  # noqa: BLE001 - as the cache does: Redis down, nothing kept
        logger.warning("response cache version check skipped: %s", type(exc).__name__)
        return False
    return raw == found.version


def render(data) -> bytes:
    """The bytes DRF's JSON renderer writes for `data` (what a cached answer repeats)."""
    return JSONRenderer().render(data)


def response(body: bytes) -> HttpResponse:
    """The cached bytes as an answer, with their length: a token API call skips
    CommonMiddleware (healthtrack/apistack.py), which would set it, and without it the server
    sends the body chunked (one more write per answer)."""
    return HttpResponse(
        body, content_type="application/json", headers={"Content-Length": str(len(body))}
    )


def serve(request, entry: Entry) -> tuple[Found | None, HttpResponse | None]:
    """(what the cache holds for `entry`, a response when it holds a current body). The
    prefetch's result when it looked up this very entry, else one lookup now. Call it after
    the access check; only for a JSON answer (the browsable API renders its own page)."""
    if getattr(getattr(request, "accepted_renderer", None), "format", "json") != "json":
        return None, None
    prefetched = getattr(request, ATTR, None)  # read in the round trip before authentication
    found = prefetched if prefetched is not None and prefetched.entry == entry else lookup(entry)
    if found is None or found.body is None:
        return found, None
    return found, response(found.body)


# --- the one round trip, before authentication ----------------------------------------------


def _windows(request, view, user_id: int) -> list[tuple[str, str, float, int]] | None:
    """(scope, key, duration, limit) of every rate-limit window the view's throttles count;
    None when a throttle is of a kind this call cannot count (DRF's throttles then do it all)."""
    view_throttles = view.get_throttles()
    if not all(isinstance(throttle, throttles._IPThrottle) for throttle in view_throttles):
        return None
    if not settings.RATELIMIT_ENABLE:
        return []
    out = []
    for throttle in view_throttles:
        key = throttles.window_key(throttle, request, view, user_id=user_id)
        if key is None:
            continue
        limit, duration = _parsed_rate(throttle)
        out.append((throttle.scope, key, duration, limit))
    return out


# DRF's `parse_rate` answers per rate string ("100/min" -> (100, 60)): a function of the string
# alone, worked out once per string (~1.6 µs per window, 7 windows per request, issue 15).
# Bounded: the rates are settings' values.
_RATES: dict[str, tuple[int | None, int | None]] = {}


def _parsed_rate(throttle) -> tuple[int | None, int | None]:
    rate = throttle.get_rate()
    if type(throttle).parse_rate is not SimpleRateThrottle.parse_rate or not isinstance(rate, str):
        return throttle.parse_rate(rate)
    parsed = _RATES.get(rate)
    if parsed is None:
        parsed = throttle.parse_rate(rate)
        if len(_RATES) >= 64:
            _RATES.clear()
        _RATES[rate] = parsed
    return parsed


@functools.cache
def _authenticator() -> jwt_auth.AuditedJWTAuthentication:
    """One instance for `prefetch`'s reads of the header and token (it keeps no state for
    those: `authenticate`, which does, is never called on it)."""
    return jwt_auth.AuditedJWTAuthentication()


def prefetch(request, view, guess=None) -> None:
    """One Redis round trip before DRF authenticates a Bearer request: the rate-limit windows
    (counted), the JWT user cache entry and, for a GET, `guess(viewer_id)`'s entry if any (the
    answer the view will most likely look up; it checks the key before using it). Leaves
    everything to the slow path when anything is unusual. Made once per request (`request`
    may be Django's or DRF's: what it sets is read through either), for every method: a write
    makes it from `AuditedJWTAuthentication.authenticate` (no entry: nothing cached is served
    to a write)."""
    if getattr(request, PREFETCH_DONE_ATTR, False) or _take_over(request):
        return
    setattr(request, PREFETCH_DONE_ATTR, True)
    client = _redis()
    if client is None:
        return
    authenticator = _authenticator()
    try:  # the header read as simplejwt reads it
        header = authenticator.get_header(request)
        raw = authenticator.get_raw_token(header) if header is not None else None
        if raw is None:
            return
        token = authenticator.get_validated_token(raw)
    except Exception:  # noqa: BLE001 - a malformed or invalid token: the slow path answers 401
        return
    user_key = authenticator.user_cache_key_of(token)
    try:  # simplejwt writes the id as a string
        viewer_id = int(token.get(jwt_auth.api_settings.USER_ID_CLAIM))
    except (TypeError, ValueError):
        return
    if user_key is None:
        return
    entry = guess(viewer_id) if guess is not None and request.method == "GET" else None
    windows = _windows(request, view, viewer_id)
    request._healthtrack_all_windows = windows is not None  # every limit counted here
    windows = windows or []
    member = _unique()
    try:
        rows, version, body, user = _run(
            entry,
            windows=[(k, d, n) for _, k, d, n in windows],
            user_key=user_key,
            member=member,
            client=client,
        )
    except Exception as exc:  # noqa: BLE001 - Redis down: every part does its own lookup
        logger.warning("request prefetch skipped: %s", type(exc).__name__)
        return
    if entry is not None:
        setattr(request, ATTR, Found(entry, version, body or None, redis=True))
    setattr(
        request,
        jwt_auth.PREFETCHED_ATTR,
        jwt_auth.Prefetched(raw, token, _user_entry(client, user) if user else None),
    )
    setattr(
        request,
        throttles.RESULTS_ATTR,
        {scope: tuple(row) for (scope, _, _, _), row in zip(windows, rows, strict=True)},
    )
    request._healthtrack_counted = (member, [k for _, k, _, _ in windows])


def hand_over(request) -> None:
    """Leave what `request`'s round trip found (if it made one) in its WSGI environ: the
    request Django builds from that environ then uses it instead of a round trip of its own
    (the windows are not counted twice). For a request answered in front of Django that
    steps aside to it (healthtrack/front.py)."""
    found = {name: request.__dict__[name] for name in _PREFETCH_ATTRS if name in request.__dict__}
    if found:
        request.META[HANDED_OVER] = found


def _take_over(request) -> bool:
    """Take what `hand_over` left for this request; False when nothing was left."""
    found = request.META.pop(HANDED_OVER, None)
    if found is None:
        return False
    for name, value in found.items():
        setattr(request, name, value)
    return True


def refund(request) -> None:
    """Authentication refused a request the prefetch counted: take it out of the windows
    (once, whoever asks first)."""
    counted = getattr(request, "_healthtrack_counted", None)
    if not counted or not counted[1]:
        return
    request._healthtrack_counted = None
    member, keys = counted
    try:
        client = _redis()
        pipe = client.get_client(write=True).pipeline(transaction=False)
        for key in keys:
            pipe.zrem(client.make_key(key), member)
        pipe.execute()
    except Exception as exc:  # noqa: BLE001
        logger.warning("rate-limit refund skipped: %s", type(exc).__name__)


# What a client sends when it takes JSON (DRF's content negotiation picks JSONRenderer, the
# first renderer, for each of these); anything else is left to the negotiation.
JSON_ACCEPTS = frozenset({"", "*/*", "application/json"})


def own_hit(request, view) -> HttpResponse | None:
    """The response to the signed-in user's read of their own data (`own_hit_body`), with the
    `Allow`/`Vary` headers DRF would add; None when `own_hit_body` steps aside."""
    body = own_hit_body(request, view)
    if body is None:
        return None
    answer = response(body)
    for name, value in view.default_response_headers.items():  # as DRF's finalize_response
        answer[name] = value
    return answer


def own_hit_body(request, view) -> bytes | None:
    """The answer to the signed-in user's read of their own data, straight from the prefetch's
    round trip when it brought back a current body: before DRF builds its Request (content
    negotiation, the authentication classes, the throttle classes, the renderer), which cost
    more than the rest of a hit together (issue 15). Each check those make is made here:

    - the JWT's signature and expiry were verified by simplejwt before the round trip; the
      user comes from the auth cache entry read in it, active and with the token not revoked
      (`jwt_authentication.cached_user`, the rule `AuditedJWTAuthentication` applies);
    - every rate-limit window of the view allowed the request (and counted it);
    - the view's permission classes and the one access function (`access.can_read`) say yes;
      the key names the viewer as viewer and owner, and an own read is not audited.

    None for anything else (a miss, someone else's data, a refused or revoked request, an
    unusual header or parameter): the view then runs as always, with the prefetch's results
    (nothing is fetched or counted twice)."""
    if (
        request.method != "GET"
        or "format" in view.kwargs
        or request.META.get("HTTP_ACCEPT", "") not in JSON_ACCEPTS
    ):
        return None
    prefetch(request, view, lambda viewer_id: view.read_entry_guess(request, viewer_id))
    found = getattr(request, ATTR, None)
    if found is None or found.body is None or found.entry.viewer_id != found.entry.owner_id:
        return None
    if not getattr(request, "_healthtrack_all_windows", False):
        return None  # a limit this round trip did not count: DRF's throttles count it
    results = getattr(request, throttles.RESULTS_ATTR, None) or {}
    if not all(row[0] for row in results.values()):
        return None  # a 429: DRF's throttles answer it from these results
    user = jwt_auth.cached_user(getattr(request, jwt_auth.PREFETCHED_ATTR, None))
    if user is None or user.pk != found.entry.viewer_id:
        return None
    before = request.__dict__.get("user")
    request.user = user  # what the permission classes, the access log and auditlog read
    try:
        allowed = all(
            permission.has_permission(request, view) for permission in view.get_permissions()
        )
    except AttributeError:  # a permission class that needs DRF's Request: it decides there
        allowed = False
    if not (allowed and access.can_read(user, user.pk)):
        if before is None:
            del request.user
        else:
            request.user = before
        return None
    audit_actor_set(user)
    return found.body


def guess_params(request) -> dict[str, str]:
    """The query string's parameters as `request.GET` reads them (each name's last value),
    for a `read_entry_guess`: a plain parse of the WSGI `QUERY_STRING`, without Django's
    `QueryDict` (~10 µs of a cached hit, issue 15). `request` may be Django's or DRF's."""
    query = request.META.get("QUERY_STRING", "")
    return dict(parse_qsl(query, keep_blank_values=True)) if query else {}


class ReadPrefetchMixin:
    """For an APIView read by Bearer clients: one round trip for the rate limits and the JWT
    user. A GET that answers from `serve()` names in `read_entry_guess(request, viewer_id)`
    the entry it will most likely look up, from the URL alone (None: none), fetched with them;
    `request` may be Django's (read `guess_params(request)` or `request.GET`, not
    `query_params`). When that entry is
    the viewer's own and current, `own_hit` answers before DRF's dispatch; the view's handler
    serves every other case (and this one too, when the hit path steps aside)."""

    def read_entry_guess(self, request, viewer_id) -> Entry | None:
        return None

    def page_entry(self, request, viewer_id: int, owner_id: int) -> Entry | None:
        """For a list view: the cached page `viewer_id` reads of `owner_id`'s list at this
        URL (`Entry.of_page`)."""
        raise NotImplementedError

    def list_entry(self, request, viewer_id: int, owner_id: int) -> Entry | None:
        """`page_entry` of this request, built once (the prefetch guessed it already)."""
        key = (viewer_id, owner_id)
        if getattr(self, "_entry_for", None) != key:
            self._entry_for = key
            self._entry = self.page_entry(request, viewer_id, owner_id)
        return self._entry

    def cached_answer_served(self) -> None:
        """Called when `own_hit` answered (e.g. to count the hit)."""

    def dispatch(self, request, *args, **kwargs):
        self.args, self.kwargs = args, kwargs  # as DRF's dispatch sets them (the guess reads them)
        hit = own_hit(request, self)
        if hit is not None:
            self.cached_answer_served()
            # For healthtrack/front.py to learn this path: the view and arguments it resolved to.
            request.META[OWN_HIT_NOTE] = (request.resolver_match, request.path)
            return hit
        return super().dispatch(request, *args, **kwargs)

    def own_cached_answer(self, request) -> HttpResponse | None:
        """The prefetched answer when the signed-in user reads their own data and it is
        current: then the handler has nothing left to check (authentication, rate limits
        and permissions have run; an own read is not audited), and the answer's parameters
        were validated when it was first computed (invalid ones never get an entry)."""
        found = getattr(request, ATTR, None)
        if found is None or found.body is None:
            return None
        entry = found.entry
        viewer = request.user
        if not (
            entry.viewer_id == entry.owner_id == viewer.pk and access.can_read(viewer, viewer.pk)
        ):
            return None
        if getattr(getattr(request, "accepted_renderer", None), "format", "json") != "json":
            return None
        return response(found.body)

    def initial(self, request, *args, **kwargs):
        prefetch(request, self, lambda viewer_id: self.read_entry_guess(request, viewer_id))
        try:
            super().initial(request, *args, **kwargs)
        except (AuthenticationFailed, NotAuthenticated):
            refund(request)
            raise
