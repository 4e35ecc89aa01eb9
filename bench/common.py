"""Helpers shared by the bench scripts: which database, Django set-up, machine facts."""

from __future__ import annotations

import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
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


def setup_django(
    database: str,
    *,
    migrate: bool = True,
    redis_db: int | None = None,
    rate_limits: bool = True,
) -> None:
    """Point Django at `database` (created if missing), migrated; optional Redis db.
    `rate_limits=False`: off unless RATELIMIT_ENABLE says otherwise (in-process benches send
    far more requests than any limit allows)."""
    os.environ["DATABASE_URL"] = ensure_database(database)
    if redis_db is not None:
        os.environ["REDIS_URL"] = redis_url(redis_db)
    if not rate_limits:
        os.environ.setdefault("RATELIMIT_ENABLE", "false")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthtrack.settings")
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def bench_patients() -> list[dict]:
    """The generated patients (bench/generate.py) as the load tests sign in as them: id, a
    two-hour JWT and their watch's device id."""
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from metrics.models import Device

    watches = dict(
        Device.objects.filter(
            identifier="watch-1", user__username__startswith="bench-p"
        ).values_list("user_id", "id")
    )
    out = []
    for user in User.objects.filter(username__startswith="bench-p").order_by("id"):
        token = AccessToken.for_user(user)
        token.set_exp(lifetime=timedelta(hours=2))
        out.append({"id": user.pk, "token": str(token), "watch": watches[user.pk]})
    return out


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def timed(fn, runs: int, before=None) -> list[float]:
    """The wall time of `runs` calls of `fn`, in seconds; `before` (untimed) before each."""
    out = []
    for _ in range(runs):
        if before:
            before()
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


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


def stop(proc: subprocess.Popen | None, *, timeout: float = 30) -> None:
    """SIGTERM a server the bench started (its whole graceful shutdown), SIGKILL after
    `timeout` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# The server's worker-layout options (healthtrack/server.py), long and short, each followed by
# its value.
_LAYOUT_FLAGS = ("--workers", "-w")


def dockerfile_command(port: int, worker_args: str | None = None) -> list[str]:
    """The Dockerfile's CMD, bound to the loopback on `port`. `worker_args` (default: the
    environment's BENCH_COMPARE_WORKER_ARGS), e.g. "--workers 2", replaces its worker layout
    (to measure another layout than the one written there). BENCH_SERVER_COMMAND replaces the
    whole command (to measure another server through the same harness): a shell-quoted line
    whose `{port}` is the port to bind on the loopback, its first word a program of the
    virtualenv, e.g. "granian --interface wsgi --port {port} healthtrack.wsgi:application"."""
    override = os.environ.get("BENCH_SERVER_COMMAND")
    if override:
        command = [word.replace("{port}", str(port)) for word in shlex.split(override)]
        command[0] = str(BIN / command[0])
        return command
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("CMD "):
            command = json.loads(line[4:])
            break
    else:
        raise SystemExit("no CMD in the Dockerfile")
    command[command.index("-b") + 1] = f"127.0.0.1:{port}"
    command[0] = str(BIN / command[0])
    layout = worker_args if worker_args is not None else os.environ.get("BENCH_COMPARE_WORKER_ARGS")
    if layout:
        for flag in _LAYOUT_FLAGS:
            while flag in command:
                del command[command.index(flag) : command.index(flag) + 2]
        command += shlex.split(layout)
    return command
