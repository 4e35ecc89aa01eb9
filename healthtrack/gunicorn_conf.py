"""gunicorn settings: `gunicorn -c python:healthtrack.gunicorn_conf healthtrack.wsgi -w 4`.

- gunicorn's own lines (boot, worker exits) are JSON like the app's (healthtrack/logs.py);
  its access log stays off: the app writes one line per request itself.
- Worker class and count are on the command line (Dockerfile: sync, 4 workers on 2 cores).
- No HTTP keep-alive (`keepalive = 0`; sync workers never keep a connection anyway): requests
  spread evenly over the workers.
- Prometheus multiprocess mode, with PROMETHEUS_MULTIPROC_DIR set to an empty directory of
  its own: each worker writes its metric values to files there and `/metrics` (whichever
  worker answers) sums them. The files of a previous run are removed at start, so a restart
  starts from zero (Prometheus handles counter resets); a dead worker's files are kept so its
  counts still add up.
"""

from __future__ import annotations

import os
from pathlib import Path

from gunicorn.glogging import Logger

# No keep-alive: each request is its own connection, accepted by whichever worker is free. With
# keep-alive a client's connections stay with the worker that accepted them, and under
# `wrk -c8` all eight landed on one gthread worker (99 % of the CPU in one process, one core
# idle); without it both workers take half (bench/compare.py's worker_cpu_shares, issue 15).
# The load balancer in front keeps its own client connections alive.
keepalive = 0

# A sync worker that has not reported for `timeout` seconds is restarted. The longest request
# is an import upload (IMPORT_MAX_UPLOAD_MB, 512 MB) relayed by the buffering proxy in front:
# seconds on a LAN; a minute leaves room without letting a stuck worker linger.
timeout = 60


class AppWritesTheAccessLog(Logger):
    """gunicorn's own access line off: the app writes one per request (healthtrack/
    observability.py). gunicorn counts its access log as on whenever `logconfig_dict` is set,
    and then builds every request's line (its "atoms") only to drop it: ~4 % of a cached
    read's CPU (py-spy, issue 15)."""

    def _compute_access_log_enabled(self) -> bool:
        return False


logger_class = AppWritesTheAccessLog

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "healthtrack.logs.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}


def on_starting(server) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
