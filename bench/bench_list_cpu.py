"""Application CPU of the load mix's list reads, miss and hit (issue 15): the measurement lists
(`?limit=100`, `?metric_type=X&limit=50`), the insights list and the goals list.

Not a test; prints figures (writes nothing). Same settings, database and Caller as
bench_request_cpu.py (production settings, JWT Bearer, PostgreSQL + Redis; BENCH_CPU_DB,
BENCH_CPU_REDIS_DB). Round-robin over the patients and the names; per request, a miss drops
the owner's version token first, outside the timing, as a write does (the measurement lists:
`metrics.services.invalidate_summary_cache`; the insights list: its list version; the goals
list: `goals.dashboard_goals.invalidate_dashboard_cache`), then a hit repeats the same
request. `--profile NAME` prints cProfile's top functions (CPU time) over NAME's misses.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_request_cpu as brc  # noqa: E402
from common import bench_patients  # noqa: E402

NAMES = ("list_recent", "list_type", "insights", "goals")


def _drop(name: str, patient_id: int) -> None:
    from django.core.cache import cache

    if name in ("list_recent", "list_type"):
        from metrics import services

        services.invalidate_summary_cache(patient_id)
    elif name == "insights":
        try:
            from insights.list_version import list_version_key
        except ImportError:  # a base without the insights list cache: nothing to drop
            return
        cache.delete(list_version_key(patient_id))
    else:
        from goals.dashboard_goals import invalidate_dashboard_cache

        invalidate_dashboard_cache(patient_id)


def _timed(caller, name: str) -> float:
    c0 = time.process_time()
    status = getattr(caller, name)()
    cpu = (time.process_time() - c0) * 1000
    if status != 200:
        raise SystemExit(f"{name}: HTTP {status}")
    return cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--only", default=",".join(NAMES))
    parser.add_argument("--profile", default="", help="cProfile of one name's misses")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args(argv)

    with brc.prepared("list_cpu.log"):
        from django.core.wsgi import get_wsgi_application
        from load import optional_paths

        app = get_wsgi_application()
        paths = optional_paths()
        callers = [brc.Caller(app, p, paths) for p in bench_patients()]
        names = [n for n in args.only.split(",") if n]
        misses: dict[str, list[float]] = {n: [] for n in names}
        hits: dict[str, list[float]] = {n: [] for n in names}
        for r in range(args.warmup + args.runs):
            for name in names:
                caller = callers[r % len(callers)]
                # The same request twice (list_type draws its type per call: same seed twice).
                state = caller.rng.getstate()
                _drop(name, caller.patient["id"])
                miss = _timed(caller, name)
                caller.rng.setstate(state)
                hit = _timed(caller, name)
                if r >= args.warmup:
                    misses[name].append(miss)
                    hits[name].append(hit)
        report = ""
        if args.profile:
            profiler = cProfile.Profile(time.process_time)
            for r in range(args.runs):
                caller = callers[r % len(callers)]
                _drop(args.profile, caller.patient["id"])
                profiler.enable()
                getattr(caller, args.profile)()
                profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(args.top)
            stats.sort_stats("tottime").print_stats(args.top)
            report = out.getvalue()

    print(f"{'list':<14}{'miss ms':>9}{'p25':>8}{'p75':>8}{'hit ms':>9}{'p25':>8}{'p75':>8}")
    for name in names:
        m, h = statistics.quantiles(misses[name], n=4), statistics.quantiles(hits[name], n=4)
        print(
            f"{name:<14}{statistics.median(misses[name]):>9.2f}{m[0]:>8.2f}{m[2]:>8.2f}"
            f"{statistics.median(hits[name]):>9.2f}{h[0]:>8.2f}{h[2]:>8.2f}"
        )
    if report:
        print(report)


if __name__ == "__main__":
    main()
