"""Application CPU of each read of the load mix right after a write by the same person (issue
15): what the mix's reads pay beyond their warm cost alone.

Not a test; prints a table and, with the default reads and writes (as `make bench` runs it,
~1 minute), writes bench/results/after_write_cpu.json. `bench/bench_request_cpu.py`
measures every read in its steady state (cached answers mostly hit); in the load mix a write
drops the writer's cached answers, so the next read of each computes. Here, for every pair
(write, read): the read (warm), the write (neither timed), then the read again (timed:
`time.process_time`, SQL statements counted), patient after patient, round after round;
`hit`: no write between. A meal's derived work runs in the worker (`nutrition_committed`,
which drops the recommendations): it is run here in-process after the POST, untimed, as the
worker would.

Writes: `weight`, `heart_rate` (one reading POSTed), `meal`, `sync` (60 heart-rate samples).
Reads: the mix's (`list_type` split by the type it reads: `list_type_hr`, `list_type_steps`).

    BENCH_CPU_DB=ht_perf_cpu_NAME BENCH_CPU_REDIS_DB=N python bench/bench_after_write_cpu.py \\
        [--runs 20] [--reads summary,recommendations] [--writes weight,meal] [--profile READ:WRITE]

Same settings, database (bench/generate.py's 10 patients x 90 days) and Caller as
bench_request_cpu.py; Redis db BENCH_CPU_REDIS_DB is flushed first.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_request_cpu as brc  # noqa: E402
from common import RESULTS, bench_patients, machine  # noqa: E402

OUT = RESULTS / "after_write_cpu.json"

READS = (
    "summary",
    "list_recent",
    "list_type_hr",
    "list_type_steps",
    "insights",
    "recommendations",
    "goals",
    "aggregates_day",
    "aggregates_hour",
    "nutrition_daily",
)
WRITES = ("hit", "weight", "heart_rate", "meal", "sync")


def _read(caller, name: str) -> int:
    if name == "list_type_hr":
        return caller.request("GET", "/api/v1/health-metrics?metric_type=heart_rate&limit=50")
    if name == "list_type_steps":
        return caller.request("GET", "/api/v1/health-metrics?metric_type=steps&limit=50")
    return getattr(caller, name)()


def _write(caller, name: str) -> None:
    now = datetime.now(UTC)
    if name == "hit":
        return
    if name in ("weight", "heart_rate"):
        value = round(caller.rng.uniform(60, 90), 1)
        body = {"metric_type": name, "value": value, "recorded_at": brc._iso(now)}
        status = caller.request("POST", "/api/v1/health-metrics", body)
    elif name == "meal":
        status = caller.meal()
        if status == 201:
            from healthtrack.core import days as calendar
            from nutrition import services as nutrition_services

            # The worker's half, with the day the meal was logged on (the patient's today, as
            # most of the mix's meals: logged up to an hour ago).
            day = calendar.today(caller.patient["id"])
            nutrition_services.nutrition_changes_follow_up(user_id=caller.patient["id"], days=[day])
    else:
        end = now.replace(second=0, microsecond=0) - timedelta(minutes=caller.rng.randint(0, 600))
        batch = uuid.uuid4().hex[:12]
        samples = [
            {
                "metric_type": "heart_rate",
                "value": caller.rng.randint(55, 120),
                "recorded_at": brc._iso(end - timedelta(minutes=60 - i)),
                "external_id": f"{batch}-{i}",
            }
            for i in range(60)
        ]
        status = caller.request(
            "POST",
            f"/api/v1/devices/{caller.patient['watch']}/sync",
            {"samples": samples},
            headers={"Idempotency-Key": batch},
        )
    if status not in (200, 201):
        raise SystemExit(f"write {name}: HTTP {status}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="measured pairs per cell")
    parser.add_argument("--reads", default=",".join(READS))
    parser.add_argument("--writes", default=",".join(WRITES))
    parser.add_argument("--profile", default="", help="READ:WRITE: cProfile of that read")
    parser.add_argument("--top", type=int, default=45)
    args = parser.parse_args(argv)
    reads = [n for n in args.reads.split(",") if n]
    writes = [n for n in args.writes.split(",") if n]

    with brc.prepared("after_write_cpu.log"):
        from django.db import connection
        from load import optional_paths

        from healthtrack.wsgi import application as app  # with the fronts, as served

        paths = optional_paths()
        callers = [brc.Caller(app, p, paths) for p in bench_patients()]
        for caller in callers:  # every patient's user entry and every read warm once
            for name in reads:
                _read(caller, name)

        statements: list[str] = []

        def count(execute, sql, params, many, context):
            statements.append(sql)
            return execute(sql, params, many, context)

        cells: dict[tuple[str, str], list[tuple[float, int]]] = {}
        for r in range(args.runs):
            for write in writes:
                for name in reads:
                    caller = callers[r % len(callers)]
                    _read(caller, name)  # warm: what the write may drop is there
                    _write(caller, write)
                    statements.clear()
                    with connection.execute_wrapper(count):
                        c0 = time.process_time()
                        status = _read(caller, name)
                        ms = (time.process_time() - c0) * 1000
                    if status != 200:
                        raise SystemExit(f"{name} after {write}: HTTP {status}")
                    cells.setdefault((name, write), []).append((ms, len(statements)))
        report = ""
        if args.profile:
            name, _, write = args.profile.partition(":")
            profiler = cProfile.Profile(time.process_time)
            for r in range(max(args.runs, 30)):
                caller = callers[r % len(callers)]
                _read(caller, name)
                _write(caller, write)
                profiler.enable()
                _read(caller, name)
                profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(args.top)
            stats.sort_stats("tottime").print_stats(args.top)
            report = out.getvalue()

    print("CPU ms median (SQL statements, mean) of each read right after each write")
    print(f"{'read':<17}" + "".join(f"{w:>16}" for w in writes))
    out: dict = {}
    for name in reads:
        line = f"{name:<17}"
        for write in writes:
            values = cells[name, write]
            ms = statistics.median(v[0] for v in values)
            q = statistics.fmean(v[1] for v in values)
            out.setdefault(name, {})[write] = {"cpu_ms_median": round(ms, 2), "sql": q}
            line += f"{ms:>10.2f} ({q:>3.1f})"
        print(line)
    if set(reads) == set(READS) and set(writes) == set(WRITES):
        result = {
            "benchmark": "after_write_cpu",
            "machine": machine(),
            "settings": "DJANGO_ENV=production, JWT Bearer, PostgreSQL + Redis; each read "
            "timed right after the named write by the same person (hit: no write)",
            "runs": args.runs,
            "reads": out,
        }
        OUT.write_text(json.dumps(result, indent=2) + "\n")
    if report:
        print(report)
    return out


if __name__ == "__main__":
    main()
