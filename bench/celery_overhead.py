"""Celery's own CPU per task, without the task's work: a worker started as bench/load.py starts
it (production settings, a redis-server of the bench's own as broker) runs N `healthtrack.ping`
tasks published as the outbox publishes (`send_task(..., ignore_result=True)`), paced as in
the mix (`--rate` a second; 0 = all at once) or with a countdown (`--countdown`: ETA tasks, as
goal progress and the recommendations' debounce publish them). CPU of the worker's process
tree from the first publish until it is idle with its queues empty, less its idle CPU over the
same seconds, per task.

    python bench/celery_overhead.py [--tasks 2000] [--rate 40] [--countdown 0]
        [--worker-args "--pool prefork --concurrency 1"] [--repeat 2]

Each `--worker-args` (repeatable) is one layout; the layouts alternate `--repeat` times.
PostgreSQL: DATABASE_URL's (the worker connects only if a task does; ping does not).
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, WORK, stop

BIN = Path(sys.executable).parent


def run_layout(worker_args: str, *, tasks: int, rate: float, countdown: float) -> dict:
    import load

    redis_proc, url = load.start_redis()
    log = (WORK / "celery-overhead.log").open("w")
    worker = None
    try:
        env = load.server_env(
            os.environ.get("DATABASE_URL", "postgres://healthtrack:healthtrack@127.0.0.1/x"), 0
        )
        env["REDIS_URL"] = url
        Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
        queues = ",".join(load.QUEUES)
        command = [str(BIN / "celery"), "-A", "healthtrack", "worker", "-l", "info", "-Q", queues,
                   "-n", f"overhead-{os.getpid()}@%h", "--without-gossip", "--without-mingle",
                   *shlex.split(worker_args)]  # fmt: skip
        worker = subprocess.Popen(
            command, cwd=ROOT, env={**env, "PYTHONUNBUFFERED": "1"}, stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        from celery import Celery

        client = Celery("bench", broker=url, backend=url)
        client.conf.update(
            task_serializer="json", accept_content=["json"], task_default_queue="default"
        )
        # ready: one ping answered through the result backend
        assert client.send_task("healthtrack.ping").get(timeout=60) == "pong"
        queued = load.broker_queued(url)

        def cpu() -> float:
            return sum(load.cpu_by_pid([worker.pid]).values())

        time.sleep(1)
        c0, t0 = cpu(), time.monotonic()
        time.sleep(4)
        idle_rate = (cpu() - c0) / (time.monotonic() - t0)  # cores, idle worker
        c0, t0 = cpu(), time.monotonic()
        with client.producer_or_acquire() as producer:
            gap = 1 / rate if rate else 0
            for i in range(tasks):
                client.send_task(
                    "healthtrack.ping",
                    ignore_result=True,
                    countdown=countdown or None,
                    producer=producer,
                    retry=False,
                )
                if gap:
                    time.sleep(max(0.0, t0 + (i + 1) * gap - time.monotonic()))
        log.flush()
        done_log = WORK / "celery-overhead.log"
        # every task received, the queues empty, the due time passed, then the worker idle
        deadline = time.monotonic() + 120 + countdown
        while time.monotonic() < deadline:
            received = done_log.read_text(errors="replace").count("healthtrack.ping[")
            if received >= tasks + 1 and queued() == 0:
                break
            time.sleep(0.2)
        time.sleep(max(0.0, t0 + countdown + tasks * gap - time.monotonic()))
        while time.monotonic() < deadline:
            a = cpu()
            time.sleep(0.5)
            if cpu() - a < 0.5 * max(2 * idle_rate, 0.01):
                break
        c1, t1 = cpu(), time.monotonic()
        used = c1 - c0 - idle_rate * (t1 - t0)
        return {
            "worker_args": worker_args,
            "tasks": tasks,
            "rate": rate,
            "countdown": countdown,
            "idle_cores": round(idle_rate, 4),
            "seconds": round(t1 - t0, 1),
            "cpu_ms_per_task": round(used * 1000 / tasks, 3),
        }
    finally:
        stop(worker, timeout=20)
        log.close()
        stop(redis_proc, timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=40, help="tasks a second, 0 = at once")
    parser.add_argument("--countdown", type=float, default=0)
    parser.add_argument("--worker-args", action="append", default=None)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    layouts = args.worker_args or ["--pool prefork --concurrency 1"]
    WORK.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[float]] = {w: [] for w in layouts}
    for _ in range(args.repeat):
        for layout in layouts:
            r = run_layout(layout, tasks=args.tasks, rate=args.rate, countdown=args.countdown)
            results[layout].append(r["cpu_ms_per_task"])
            print(r, flush=True)
    for layout, values in results.items():
        print(f"{layout!r}: CPU ms per task {values} (median {statistics.median(values):.3f})")


if __name__ == "__main__":
    main()
