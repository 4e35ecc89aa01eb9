"""Settings in each mode, read in a fresh interpreter with a controlled environment."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.core.checks.registry import registry
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "cache": settings.CACHES["default"]["BACKEND"],
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "broker": settings.CELERY_BROKER_URL,
    "debug": settings.DEBUG,
    "silenced": getattr(settings, "SILENCED_SYSTEM_CHECKS", []),
    "email": settings.EMAIL_BACKEND,
    "tz": [settings.TIME_ZONE, settings.USE_TZ],
    "fernet": len(settings.FERNET_KEYS),
    "secret_is_jwt": settings.SECRET_KEY == settings.JWT_SIGNING_KEY,
    "conn_max_age": settings.DATABASES["default"].get("CONN_MAX_AGE"),
}))
"""

KEYS = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "FERNET_KEYS": Fernet.generate_key().decode(),
    "JWT_SIGNING_KEY": secrets.token_urlsafe(50),
}


def run_python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_ENV", "DEBUG", *KEYS}
    }
    clean.update(DJANGO_SETTINGS_MODULE="healthtrack.settings", HEALTHTRACK_VAR_DIR=str(tmp_path))
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def probe(tmp_path: Path, **env: str) -> dict:
    result = run_python(PROBE, tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_embedded_default_needs_no_variables(tmp_path):
    values = probe(tmp_path)
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["eager"] is True
    assert values["debug"] is True
    assert "django_ratelimit.E003" in values["silenced"]
    assert values["email"].endswith("console.EmailBackend")
    assert values["tz"] == ["UTC", True]
    assert values["fernet"] == 1
    assert values["secret_is_jwt"] is False


def test_embedded_default_generates_keys_once_and_reuses_them(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.SECRET_KEY, settings.FERNET_KEYS[0])"
    )
    first = run_python(code, tmp_path).stdout
    second = run_python(code, tmp_path).stdout
    assert first and first == second
    keyfile = tmp_path / "dev-keys.json"
    assert oct(keyfile.stat().st_mode & 0o777) == "0o600"


def test_database_and_redis_urls_switch_to_postgres_redis_and_a_real_broker(tmp_path):
    values = probe(
        tmp_path,
        DATABASE_URL="postgres://u:p@127.0.0.1:5432/db",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    assert values["engine"] == "healthtrack.db"  # Django's PostgreSQL backend, cheaper health check
    assert values["cache"] == "django_redis.cache.RedisCache"
    assert values["eager"] is False
    assert values["broker"] == "redis://127.0.0.1:6379/0"
    assert values["debug"] is False
    assert values["conn_max_age"] == 60
    # With Redis, django-ratelimit's cache check must stay on.
    assert "django_ratelimit.E003" not in values["silenced"]


PRODUCTION = {
    "DJANGO_ENV": "production",
    "ALLOWED_HOSTS": "healthtrack.example.org",
    "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/db",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


@pytest.mark.parametrize("missing", sorted(KEYS))
def test_production_refuses_to_start_without_a_key(tmp_path, missing):
    env = {**PRODUCTION, **{k: v for k, v in KEYS.items() if k != missing}}
    result = run_python("import django; django.setup()", tmp_path, **env)
    assert result.returncode != 0
    assert f"DJANGO_ENV=production needs these variables set: {missing}" in result.stderr
    assert not (tmp_path / "dev-keys.json").exists()


def test_production_refuses_debug(tmp_path):
    result = run_python(
        "import django; django.setup()", tmp_path, **PRODUCTION, **KEYS, DEBUG="true"
    )
    assert result.returncode != 0
    assert "refuses DEBUG=True" in result.stderr


def test_production_refuses_empty_allowed_hosts(tmp_path):
    env = {**PRODUCTION, **KEYS, "ALLOWED_HOSTS": ""}
    result = run_python("import django; django.setup()", tmp_path, **env)
    assert result.returncode != 0
    assert "needs ALLOWED_HOSTS" in result.stderr


def test_production_passes_check_deploy(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**os.environ, **PRODUCTION, **KEYS, "HEALTHTRACK_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
