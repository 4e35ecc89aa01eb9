"""Secrets shown once, after a redirect: a new API token, a share link and its access code.

Creating is a POST answered by a redirect, so reloading the page never creates another; the
secret waits in the session, Fernet-encrypted, for the one page view that shows it.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.http import HttpRequest


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.FERNET_KEYS])


def stash_secret(request: HttpRequest, key: str, value: Any) -> None:
    """Keep `value` (JSON-serialisable) for the next `pop_secret(request, key)`."""
    request.session[key] = _fernet().encrypt(json.dumps(value).encode()).decode()


def pop_secret(request: HttpRequest, key: str) -> Any:
    """The value stashed under `key`, removed from the session; None when there is none (or
    the keys were rotated meanwhile and it can no longer be read)."""
    sealed = request.session.pop(key, None)
    if not sealed:
        return None
    try:
        return json.loads(_fernet().decrypt(sealed.encode()))
    except (InvalidToken, ValueError):
        return None
