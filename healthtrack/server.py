"""The HTTP server as the Dockerfile runs it: granian (Rust HTTP/1.1, WSGI), one Python thread
per worker process. `python -m healthtrack.server -b 0.0.0.0:8000 --workers 4`.

What it keeps of the gunicorn set-up it replaced (sync, 4 workers, `--preload`; issue 15, fifth
round, docs/scaling.md "The HTTP server"):

- Logs are JSON like the app's: granian's own lines (start, workers spawned, a worker's
  unexpected exit) go through the root handler that `LOGGING` configures (healthtrack/logs.py).
  Its access log stays off: the app writes one line per request (healthtrack/observability.py).
- Django is loaded once, in the main process, before the workers are forked (`--preload`),
  with the URLconf and so every view module (`preload`): a worker's first request imported
  them before, in each worker (seconds of CPU per worker at start and after each respawn, and
  memory not shared). The loaded objects are then frozen out of the garbage collector's
  generations (`gc.freeze`), so no worker's collection walks them.
- Prometheus multiprocess mode: PROMETHEUS_MULTIPROC_DIR is emptied at start (a restart starts
  from zero) and a replaced worker's live gauges are dropped (`mark_process_dead`); its counts
  stay in its files and still add up.
- A worker that dies is replaced (granian's `respawn_failed_workers`).
- A request that runs longer than `--timeout` seconds (60) ends its worker, which is then
  replaced: gunicorn's worker timeout, watched from a thread inside the worker.
- SIGTERM: the socket is closed, requests in flight finish, a worker still busy after
  `--graceful-timeout` seconds (30) is killed.
- No keep-alive and one request at a time per worker (`backpressure` 1): requests spread over
  the workers. The workers take their connections from one listening socket opened before
  the fork (`HealthTrackServer._init_shared_socket`), as gunicorn's did: a worker accepts only
  when it is free, so no request waits behind a busy worker while another is idle (granian's
  own Linux layout, a socket per worker with SO_REUSEPORT, queued them by address hash; issue
  15, docs/scaling.md "Server, front and the harness"). The load balancer in front keeps its
  own client connections alive and buffers request bodies.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path

from granian.constants import HTTPModes, Interfaces, RuntimeModes
from granian.http import HTTP1Settings
from granian.net import SocketSpec
from granian.server import Server

logger = logging.getLogger("healthtrack.server")

TARGET = "healthtrack.wsgi:application"

# granian's loggers hand their records to the root handler (the app's JSON one, once Django has
# configured logging); granian's own handlers and formats are not used.
LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {},
    "handlers": {},
    "loggers": {
        "_granian": {"handlers": [], "level": "INFO", "propagate": True},
        "granian.access": {"handlers": [], "level": "WARNING", "propagate": True},
    },
}


def empty_prometheus_dir() -> None:
    """The metric files of a previous run removed: a restart counts from zero."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()


def mark_dead(pid: int) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


# What granian's scope sets itself (CGI names); every other name in the process environment
# that is not a request header reached the WSGI environ only because granian copies the
# process environment into it.
_CGI = frozenset(
    (
        "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE",
        "CONTENT_LENGTH", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR",
        "REMOTE_PORT", "RAW_URI", "REQUEST_URI", "GATEWAY_INTERFACE", "SERVER_SOFTWARE",
    )
)  # fmt: skip


def process_environment_names() -> tuple[str, ...]:
    """The names granian copies from the process environment into every request's WSGI
    environ (CGI style): the settings' variables, keys and database URL included. They are
    removed so `request.META` holds the request and nothing else, as it did under gunicorn."""
    return tuple(
        name for name in os.environ if name not in _CGI and not name.startswith(("HTTP_", "wsgi."))
    )


class RequestTimeout:
    """The WSGI application, with the start of each request it is running noted (per thread);
    a thread of the worker ends the worker when one runs longer than `seconds` (it is then
    replaced). It also
    removes the `drop` names (`process_environment_names`) from each request's environ. Cost
    per request: a dict write and pop, and one `pop` per dropped name (~6 µs for 35 names on
    the loaded machine)."""

    def __init__(self, app, seconds: float, drop: tuple[str, ...] = ()) -> None:
        self.app = app
        self.seconds = seconds
        self.drop = drop
        self.started: dict[int, float] = {}  # thread id -> start of the request it runs
        self.watcher: threading.Thread | None = None

    def __call__(self, environ, start_response):
        thread = threading.get_ident()
        self.started[thread] = time.monotonic()
        for name in self.drop:
            environ.pop(name, None)
        try:
            return self.app(environ, start_response)
        finally:
            del self.started[thread]

    def watch(self, interval: float = 1.0) -> None:
        """Start the watching thread (in the worker: threads do not survive a fork)."""
        self.watcher = threading.Thread(
            target=self._watch, args=(interval,), name="request-timeout", daemon=True
        )
        self.watcher.start()

    def overdue(self, now: float) -> bool:
        return any(now - started > self.seconds for started in list(self.started.values()))

    def _watch(self, interval: float) -> None:
        while True:
            time.sleep(interval)
            if self.overdue(time.monotonic()):
                logger.error(
                    "request timeout: a request ran longer than %s s, worker %s exits",
                    self.seconds,
                    os.getpid(),
                )
                logging.shutdown()
                os._exit(1)


class HealthTrackServer(Server):
    """granian's multiprocess server, its workers taking connections from one listening socket;
    a replaced worker's Prometheus live gauges are dropped."""

    def _init_shared_socket(self):
        """One listening socket, opened here and inherited by every worker: one accept queue,
        from which a worker takes a connection only when it is free (`backpressure` 1 takes the
        permit before `accept`). granian 2.8 on Linux gives each worker a socket of its own
        instead (SO_REUSEPORT): the kernel spreads connections over the workers' queues by a
        hash of the addresses, so a connection can wait behind a busy worker's request while
        another worker is idle, and a dying worker's queued connections are reset
        (docs/scaling.md, "Server, front and the harness"). This is granian's own path for
        other platforms and Unix sockets (`AbstractServer`, `MPServer._init_shared_socket`)."""
        if self.bind_uds or sys.platform != "linux":
            super()._init_shared_socket()
            return
        self._ssp = None
        self._shd = SocketSpec(self.bind_addr, self.bind_port, self.backlog).build()
        self._sfd = self._shd.get_fd()
        shared = socket.socket(fileno=self._sfd)
        shared.set_inheritable(True)
        self._sso = shared

    def _respawn_workers(self, workers, spawn_target, target_loader, delay: float = 0):
        pids = [self.wrks[idx].inner.pid for idx in workers if idx < len(self.wrks)]
        super()._respawn_workers(workers, spawn_target, target_loader, delay)
        for pid in pids:
            if pid:
                mark_dead(pid)


_app: RequestTimeout | None = None


def load_application() -> RequestTimeout:
    """granian's target loader, called in each worker after the fork: the application the main
    process loaded, with its timeout watch started in this worker."""
    assert _app is not None, "healthtrack.server.main() loads the application first"
    _app.watch()
    return _app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m healthtrack.server", description=__doc__)
    parser.add_argument("-b", "--bind", default="127.0.0.1:8000", help="HOST:PORT")
    parser.add_argument("-w", "--workers", type=int, default=4, help="worker processes")
    parser.add_argument(
        "--timeout", type=float, default=60, help="seconds a request may run before its worker ends"
    )
    parser.add_argument(
        "--graceful-timeout",
        type=int,
        default=30,
        help="seconds workers get to finish their requests on SIGTERM",
    )
    parser.add_argument(
        "--workers-lifetime",
        type=int,
        default=None,
        help="seconds after which a worker is replaced (>= 60; default: never)",
    )
    return parser.parse_args(argv)


def build(args: argparse.Namespace) -> HealthTrackServer:
    host, _, port = args.bind.rpartition(":")
    return HealthTrackServer(
        TARGET,
        address=host,
        port=int(port),
        interface=Interfaces.WSGI,
        workers=args.workers,
        blocking_threads=1,
        backpressure=1,
        runtime_mode=RuntimeModes.st,
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(keep_alive=False),
        websockets=False,
        log_dictconfig=LOG_CONFIG,
        log_access=False,
        respawn_failed_workers=True,
        workers_kill_timeout=args.graceful_timeout,
        workers_lifetime=args.workers_lifetime,
    )


def preload() -> None:
    """What a worker's first request would load, loaded before the fork: the URLconf (every
    `urls` and view module it includes) and its reverse lookups. No database connection is
    left open for the workers to share (Django opens them lazily, per worker); then every
    object loaded so far is moved out of the collector's generations (`gc.freeze`, as
    CPython's docs advise before a fork): they live as long as the process, and a worker's
    collections need not walk them (nor write to their pages)."""
    from django.db import connections
    from django.urls import get_resolver

    resolver = get_resolver()
    resolver.url_patterns  # noqa: B018 - imports the URLconf and its views
    resolver.reverse_dict  # noqa: B018 - builds the reverse lookups once
    connections.close_all()
    gc.collect()
    gc.freeze()


def main(argv: list[str] | None = None) -> None:
    global _app
    args = parse_args(argv)
    empty_prometheus_dir()
    server = build(args)
    # Django and the app loaded once, here; the forked workers share them (gunicorn's --preload).
    from healthtrack.wsgi import application

    preload()
    _app = RequestTimeout(application, args.timeout, drop=process_environment_names())
    server.serve(target_loader=load_application, wrap_loader=False)


if __name__ == "__main__":
    main()
