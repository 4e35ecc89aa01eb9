"""Development keys for the embedded default, generated once into a git-ignored file.

Production never reaches this module's generator: there every key must come from the
environment (see settings.py), and a missing one stops start-up.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet


def _generate() -> dict[str, str]:
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FERNET_KEYS": Fernet.generate_key().decode(),
        "JWT_SIGNING_KEY": secrets.token_urlsafe(50),
    }


def load_or_create(path: Path) -> dict[str, str]:
    """Return the dev keys stored at `path`, creating the file (mode 0600) on first use."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = _generate()
    # O_EXCL: if two processes race on first start, one writes and the other reads its keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return json.loads(path.read_text())
    with os.fdopen(fd, "w") as fh:
        json.dump(keys, fh)
    return keys
