"""`HealthTrack-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.
Receivers recompute it with the subscription's secret and refuse a timestamp older than
WEBHOOKS_REPLAY_WINDOW_SECONDS (docs/developers.md has a verifier)."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "HealthTrack-Signature"


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(*, secret: str, header: str, body: bytes, now: int, window: int) -> bool:
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > window:
        return False
    expected = sign(secret=secret, timestamp=timestamp, body=body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))
