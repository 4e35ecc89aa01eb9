"""Helpers shared by the bench scripts: which database, Django set-up, machine facts."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "var" / "bench"  # logs, users file, profiles (git-ignored with var/)
DEFAULT_URL = "postgres://healthtrack:healthtrack@127.0.0.1:5432/healthtrack"
DEFAULT_REDIS = "redis://127.0.0.1:6379"
# The load test's database and Redis db (the other engineers' suites use their own).
PERF_DB = os.environ.get("BENCH_DB", "ht_perf")
PERF_REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "13"))

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def database_url(name: str) -> str:
    """DATABASE_URL's server (or the CI default) with database `name`."""
    parts = urlsplit(os.environ.get("DATABASE_URL") or DEFAULT_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


def redis_url(db: int = PERF_REDIS_DB) -> str:
    parts = urlsplit(os.environ.get("REDIS_URL") or DEFAULT_REDIS)
    return urlunsplit(parts._replace(path=f"/{db}"))


def libpq(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def ensure_database(name: str) -> str:
    import psycopg

    url = database_url(name)
    admin = urlunsplit(urlsplit(libpq(url))._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return url


def setup_django(database: str, *, migrate: bool = True, redis_db: int | None = None) -> None:
    """Point Django at `database` (created if missing), migrated; optional Redis db."""
    os.environ["DATABASE_URL"] = ensure_database(database)
    if redis_db is not None:
        os.environ["REDIS_URL"] = redis_url(redis_db)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthtrack.settings")
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def machine() -> dict:
    """What the figures were measured on, load average included (the machine is shared)."""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_1_5_15": load,
    }
