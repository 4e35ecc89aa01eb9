"""Application CPU of the cached reads' MISSES (issue 15): the summary and the recommendations
as the load test meets them, most requests being a patient's first of that endpoint.

Not a test; prints figures. `bench/bench_request_cpu.py` measures warm caches (hits); here the
entry is dropped before every measured request, outside the timing, as a write drops it:

- `summary`: `metrics.services.invalidate_summary_cache` (every window and the version token),
  then `GET /api/v1/health-metrics/summary` (default window);
- `rec_stored`: `insights.cache.invalidate`, then `GET /api/v1/recommendations/{id}`: the
  stored set is current, so the answer is read from it;
- `rec_compute`: `recommendation_state_mark_changed` and `insights.cache.invalidate` (what a
  write does), then the same GET: it recomputes and stores the set (the mix's usual miss).

Same settings, database and Caller as bench_request_cpu.py (production settings, JWT,
PostgreSQL + Redis; BENCH_CPU_DB, BENCH_CPU_REDIS_DB). `--profile NAME` prints cProfile's
top functions (CPU time) over that endpoint's misses. Writes bench/results/miss_cpu.json
(`make bench` runs it with the other bench/bench_*.py) unless `--only` narrows it.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_request_cpu as brc  # noqa: E402
from common import RESULTS, bench_patients, machine  # noqa: E402

OUT = RESULTS / "miss_cpu.json"

NAMES = ("summary", "rec_stored", "rec_compute")


def _drop(name: str, patient_id: int) -> None:
    from insights import cache as rec_cache
    from insights import services as insights_services
    from metrics import services

    if name == "summary":
        services.invalidate_summary_cache(patient_id)
    elif name == "rec_stored":
        rec_cache.invalidate(patient_id)
    else:
        insights_services.recommendation_state_mark_changed(user_id=patient_id)
        rec_cache.invalidate(patient_id)


def _get(caller, name: str) -> int:
    return caller.summary() if name == "summary" else caller.recommendations()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--only", default=",".join(NAMES))
    parser.add_argument("--profile", default="", help="cProfile of one name's misses")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)

    with brc.prepared("miss_cpu.log"):
        from django.core.wsgi import get_wsgi_application
        from load import optional_paths

        app = get_wsgi_application()
        paths = optional_paths()
        callers = [brc.Caller(app, p, paths) for p in bench_patients()]
        names = [n for n in args.only.split(",") if n]
        samples: dict[str, list[float]] = {n: [] for n in names}
        queries: dict[str, int] = {}
        for r in range(args.warmup + args.runs):
            for name in names:
                caller = callers[r % len(callers)]
                _drop(name, caller.patient["id"])
                c0 = time.process_time()
                status = _get(caller, name)
                cpu = (time.process_time() - c0) * 1000
                if status != 200:
                    raise SystemExit(f"{name}: HTTP {status}")
                if r >= args.warmup:
                    samples[name].append(cpu)
        for name in names:
            caller = callers[0]
            _drop(name, caller.patient["id"])
            queries[name] = brc.count_queries(lambda c=caller, n=name: _get(c, n))
        report = ""
        if args.profile:
            profiler = cProfile.Profile(time.process_time)
            for r in range(args.runs):
                caller = callers[r % len(callers)]
                _drop(args.profile, caller.patient["id"])
                profiler.enable()
                _get(caller, args.profile)
                profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(args.top)
            stats.sort_stats("tottime").print_stats(args.top)
            report = out.getvalue()

    medians = {n: round(statistics.median(samples[n]), 2) for n in names}
    if args.out and set(names) == set(NAMES):
        result = {
            "benchmark": "miss_cpu",
            "when": machine()["when"],
            "machine": machine(),
            "settings": "DJANGO_ENV=production, JWT Bearer, PostgreSQL + Redis, "
            "the cached entry dropped before every request",
            "runs": args.runs,
            "figures_ms_median": medians,
            "queries": queries,
        }
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'miss of':<14}{'cpu ms':>9}{'p25':>8}{'p75':>8}{'queries':>9}")
    for name in names:
        q = statistics.quantiles(samples[name], n=4)
        print(
            f"{name:<14}{statistics.median(samples[name]):>9.2f}{q[0]:>8.2f}{q[2]:>8.2f}"
            f"{queries[name]:>9}"
        )
    if report:
        print(report)


if __name__ == "__main__":
    main()
