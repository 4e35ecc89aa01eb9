"""gunicorn settings for Prometheus multiprocess mode: `gunicorn -c python:healthtrack.gunicorn_conf
healthtrack.wsgi -w 4` with PROMETHEUS_MULTIPROC_DIR set to an empty directory of its own.

Each worker writes its metric values to files there and `/metrics` (whichever worker answers)
sums them. The files of a previous run are removed at start, so a restart starts from zero
(Prometheus handles counter resets); a dead worker's files are kept so its counts still add up.
"""

from __future__ import annotations

import os
from pathlib import Path


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
