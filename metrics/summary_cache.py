"""The API summary's answer built from one rendered piece per metric type (issue 15).

A summary's entry of a type depends on that type's data alone (its daily rollups and latest
sample: `metrics.summary.entries`), and a write names the types it changed. So the answer (a
whole-access viewer's: the owner, their family, their care team) is assembled from pieces
kept per person, window (`days` and the day it ends) and type: each the type's entry as
rendered, or nothing (no data in the window), stored with the version token of that type's
data (`services.type_version_key`) read before the piece was computed, and used only while
that token is unchanged. Every write drops the tokens of the types it changed after its commit
(`services.invalidate_summary_cache`; all of them when a writer does not name its types), so a
heart-rate reading leaves the other types' pieces in use, and the answer after it computes one
type's entry (one type's rollup rows and latest sample) instead of every type's.

The assembled bytes are those DRF's JSON renderer writes for `summary.payload(summary(...))`
(`tests/metrics/test_summary_pieces.py` holds them equal). The answer as a whole stays cached
per viewer under the person's summary version (`accounts.api.readcache`, the view): a piece is
what an answer that has to be rebuilt reuses.

Redis only: the tokens are read (a missing one created) and the pieces fetched in one Lua
call, the new pieces stored in a second. With another cache backend the same rule runs on
plain `get_many`/`add`/`set_many`. A cache that does not answer: every entry is computed and
nothing is kept.
"""

from __future__ import annotations

import logging
import os
from datetime import tzinfo

from django.core.cache import caches
from django_redis import get_redis_connection
from django_redis.cache import RedisCache
from redis.commands.core import Script

from accounts.api import readcache
from metrics import services
from metrics.registry import METRIC_TYPES
from metrics.summary import Window, entries, heading, payload, type_payload, window

logger = logging.getLogger(__name__)

# How long a piece is used at most: as long as a rendered answer (`SUMMARY_CACHE_TTL`); it
# bounds a change that bypassed the version tokens (none is known).
PIECE_TTL = services.SUMMARY_CACHE_TTL

# KEYS: per type its version token, then its piece. ARGV[1] a new token (in the cache's
# encoding) for a type that has none, ARGV[2] its TTL. Returns per type its token and the
# piece's bytes when the piece was stored under that token (else false). A missing token is
# created here, atomically, so a piece is never stored under "no version".
_READ_LUA = """
local out = {}
for i = 1, #KEYS, 2 do
  local token = redis.call('GET', KEYS[i])
  if not token then
    token = ARGV[1]
    redis.call('SET', KEYS[i], token, 'EX', ARGV[2])
  end
  local piece = redis.call('GET', KEYS[i + 1])
  out[#out + 1] = token
  if piece and string.sub(piece, 1, #token) == token then
    out[#out + 1] = string.sub(piece, #token + 1)
  else
    out[#out + 1] = false
  end
end
return out
"""
# KEYS: pieces; ARGV[1] their TTL, then per piece its token and bytes, concatenated.
_STORE_LUA = """
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i + 1], 'EX', ARGV[1])
end
return #KEYS
"""
_READ = Script(None, _READ_LUA.encode())
_STORE = Script(None, _STORE_LUA.encode())

CODES = tuple(METRIC_TYPES)


def piece_key(user_id: int, w: Window, code: str) -> str:
    """Where the piece of type `code` of `user_id`'s summary over `w` is kept."""
    return f"metrics_summary:user:{user_id}:days:{w.days}:{w.end.isoformat()}:{code}"


def rendered_summary(*, user_id: int, days: int, tz: tzinfo) -> bytes:
    """The rendered answer of `user_id`'s summary over the `days` days to today (in `tz`,
    their zone), every type they have, from the pieces still current; the others are
    computed together, then kept."""
    w = window(days, tz=tz)
    held = dict(zip(CODES, _held(user_id, w), strict=True))  # code: (token, piece or None)
    stale = [code for code, (_, piece) in held.items() if piece is None]
    if stale:
        computed = entries(user_id=user_id, window=w, tz=tz, metric_types=stale)
        fresh = {
            code: (
                held[code][0],
                readcache.render(type_payload(computed[code])) if code in computed else b"",
            )
            for code in stale
        }
        _keep(user_id, w, fresh)
        held.update(fresh)
    return _assembled(w, [(code, piece) for code, (_, piece) in held.items()])


def _assembled(w: Window, pieces: list[tuple[str, bytes]]) -> bytes:
    """The answer's bytes: the window's heading as rendered with an empty `metrics`, which
    the pieces (`"code":{...}` in the registry's order) fill."""
    head = readcache.render(payload({**heading(w), "metrics": {}}))
    assert head.endswith(b'"metrics":{}}')
    inner = b",".join(b'"%s":%s' % (code.encode(), piece) for code, piece in pieces if piece)
    return head[:-2] + inner + b"}}"


def _held(user_id: int, w: Window) -> list[tuple[object, bytes | None]]:
    """Per registry type, (its version token, its piece when current else None); every
    piece None when the cache does not answer (and then nothing is kept: token None)."""
    backend = caches["default"]
    tokens = [services.type_version_key(user_id, code) for code in CODES]
    pieces = [piece_key(user_id, w, code) for code in CODES]
    if not isinstance(backend, RedisCache):
        return _held_elsewhere(backend, tokens, pieces)
    keys = []
    for token, piece in zip(tokens, pieces, strict=True):
        keys += [backend.make_key(token), backend.make_key(piece)]
    new = backend.client.encode(os.urandom(16).hex())
    try:
        out = _READ(keys, [new, readcache.VERSION_TTL], client=get_redis_connection("default"))
    except Exception as exc:  # noqa: BLE001 - Redis down: computed, not kept
        logger.warning("summary pieces skipped: %s", type(exc).__name__)
        return [(None, None)] * len(CODES)
    return [(out[i], out[i + 1]) for i in range(0, len(out), 2)]


def _held_elsewhere(backend, tokens: list[str], pieces: list[str]):
    """`_held` with a cache other than Redis: the same rule with plain commands."""
    found = backend.get_many(tokens + pieces)
    out = []
    for token_key, piece_key_ in zip(tokens, pieces, strict=True):
        token = found.get(token_key)
        if token is None:
            backend.add(token_key, os.urandom(16).hex(), readcache.VERSION_TTL)
            token = backend.get(token_key)
        stored = found.get(piece_key_)
        current = isinstance(stored, tuple) and token is not None and stored[0] == token
        out.append((token, stored[1] if current else None))
    return out


def _keep(user_id: int, w: Window, fresh: dict[str, tuple[object, bytes]]) -> None:
    """Store the new pieces under the tokens read before they were computed."""
    fresh = {code: kept for code, kept in fresh.items() if kept[0] is not None}
    if not fresh:
        return
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        backend.set_many(
            {piece_key(user_id, w, code): kept for code, kept in fresh.items()}, PIECE_TTL
        )
        return
    keys = [backend.make_key(piece_key(user_id, w, code)) for code in fresh]
    values = [token + piece for token, piece in fresh.values()]
    try:
        _STORE(keys, [PIECE_TTL, *values], client=get_redis_connection("default"))
    except Exception as exc:  # noqa: BLE001 - Redis down: nothing kept
        logger.warning("summary pieces not kept: %s", type(exc).__name__)
