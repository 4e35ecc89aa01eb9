"""Real server processes for tests: the HTTP server (healthtrack/server.py) on a free port,
redis-server, a throwaway PostgreSQL cluster. Each is started by a test and stopped by it
(never the shared services)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError("condition not met in time")


def wait_for_a_fresh_window(value: str, *, period: int, need: float) -> None:
    """Sleep until django-ratelimit's fixed window for `value` (an address or an account) has
    at least `need` seconds left, so a burst sent now is counted in one window. The window
    ends where django-ratelimit puts it: on the period, shifted by the CRC-32 of the value."""
    offset = zlib.crc32(value.encode()) % period
    left = (offset - time.time()) % period
    if left < need:
        time.sleep(left + 1)


class Headers(dict):
    """A response's headers by name in any case (HTTP names are case-insensitive; the server
    sends them in lower case)."""

    def __init__(self, items) -> None:
        super().__init__((name.lower(), value) for name, value in items)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def get(self, name: str, default=None):
        return super().get(name.lower(), default)


def http(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict | None = None,
    timeout: float = 60,  # an upper bound for a loaded machine, not an expectation
) -> tuple[int, Headers, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, Headers(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, Headers(error.headers.items()), error.read()


def server_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The current environment minus HealthTrack's service and mode variables, plus `extra`."""
    drop = {"DATABASE_URL", "REDIS_URL", "DJANGO_ENV", "DEBUG", "PROMETHEUS_MULTIPROC_DIR"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        DJANGO_SETTINGS_MODULE="healthtrack.settings",
        HEALTHTRACK_VAR_DIR=str(tmp),
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def database_url_of_tests() -> str:
    """The URL of the test database pytest-django created (for servers that share it)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    return (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )


def same_keys() -> dict[str, str]:
    """This process's keys, for a server that shares its database (encrypted columns)."""
    from django.conf import settings

    return {
        "SECRET_KEY": settings.SECRET_KEY,
        "FERNET_KEYS": ",".join(settings.FERNET_KEYS),
        "JWT_SIGNING_KEY": settings.JWT_SIGNING_KEY,
    }


class WebServer:
    """`python -m healthtrack.server` (as the Dockerfile runs it) on a free port, `workers`
    processes; `args` are more of its options."""

    def __init__(self, env: dict[str, str], workers: int, log: Path, args: tuple[str, ...] = ()):
        self.log = log
        self._out = log.open("wb")
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "healthtrack.server",
                "-b",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--timeout",
                "30",
                *args,
            ],
            cwd=ROOT,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        # Ready when a request answers. The probe path is one no test counts (a probe that
        # timed out may still be served later).
        wait_until(self._answers, timeout=90, interval=0.1)

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError("the server exited:\n" + self.log.read_text())
        try:
            return http("GET", self.url + "/__probe__", timeout=2)[0] == 404
        except OSError:
            return False

    def workers(self) -> list[int]:
        """The worker processes' ids (the main process's children, from /proc)."""
        children: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            try:
                children += [int(pid) for pid in (task / "children").read_text().split()]
            except FileNotFoundError:  # a thread that ended meanwhile
                continue
        return children

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._out.close()


@contextlib.contextmanager
def web_server(env: dict[str, str], *, workers: int = 1, log: Path):
    server = WebServer(env, workers, log)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def two_web_servers(tmp: Path, **extra: str):
    """Two single-worker servers (two processes) on this test run's PostgreSQL database and
    Redis, with this process's keys; `extra` is more of their environment."""
    from django.conf import settings

    env = server_env(
        tmp,
        DATABASE_URL=database_url_of_tests(),
        REDIS_URL=settings.REDIS_URL,
        **extra,
        **same_keys(),
    )
    with (
        web_server(env, log=tmp / "a.log") as a,
        web_server(env, log=tmp / "b.log") as b,
    ):
        assert a.process.pid != b.process.pid
        yield a, b


ALL_QUEUES = "default,ingest,recommendations,imports,maintenance"


def start_celery_worker(env: dict[str, str], *, queues: str = "default", log: Path | None = None):
    """A real Celery worker process (solo pool) consuming `queues`, with `env` as the whole
    of its environment; the caller stops it."""
    out = log.open("ab") if log else subprocess.DEVNULL
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "healthtrack",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "-Q",
            queues,
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env={"CELERY_TASK_ALWAYS_EAGER": "false", **env},
        stdout=out,
        stderr=subprocess.STDOUT,
    )


@contextlib.contextmanager
def celery_worker(**env: str):
    """A real Celery worker process (solo pool, the default queue) on this run's broker, with
    `env` added to its environment; stopped on exit. Tasks reach it only once the caller
    turns eager execution off (`app.conf.task_always_eager = False`)."""
    worker = start_celery_worker({**os.environ, **env})
    try:
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


class RedisServer:
    """redis-server on its own free port, data in a temp dir; start/stop at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="ht-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._pings, timeout=30)

    def _pings(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class PostgresCluster:
    """A throwaway PostgreSQL cluster (initdb) on a free port, owned by `postgres` when the
    tests run as root (initdb refuses root), trust authentication on 127.0.0.1 only."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="ht-pg-"))
        self.data = self.dir / "data"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(
            pg_binary("initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def _run(self, *command: str, timeout: float = 60) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        subprocess.run(
            [*prefix, *command],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            pg_binary("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "20",
            action,
            *extra,
        )

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def cleanup(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
