"""gunicorn settings: `gunicorn -c python:healthtrack.gunicorn_conf healthtrack.wsgi -w 4`.

- gunicorn's own lines (boot, worker exits) are JSON like the app's (healthtrack/logs.py);
  its access log stays off: the app writes one line per request itself.
- Prometheus multiprocess mode, with PROMETHEUS_MULTIPROC_DIR set to an empty directory of
  its own: each worker writes its metric values to files there and `/metrics` (whichever
  worker answers) sums them. The files of a previous run are removed at start, so a restart
  starts from zero (Prometheus handles counter resets); a dead worker's files are kept so its
  counts still add up.
"""

from __future__ import annotations

import os
from pathlib import Path

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
