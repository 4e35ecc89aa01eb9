"""Application CPU per request, per endpoint of the load mix (issue 10): `make bench`.

Not a test; prints figures and writes bench/results/request_cpu.json.

Why: the load test (bench/load.py) showed gunicorn spending ~12 ms of CPU per request, and two
cores at that rate can never serve 20,000 requests/min. Wall time on this shared machine says
more about the neighbours than about the app; the process's own CPU time
(`time.process_time`) hardly moves with them. So every endpoint of bench/load.py's MIX is
called here in-process, the way gunicorn calls it: Django's WSGI handler with the production
settings (`DJANGO_ENV=production`: the whole middleware stack, JSON access log, Prometheus
observation), JWT Bearer auth as in the load test, PostgreSQL and Redis (DATABASE_URL's server,
database `ht_perf_cpu`: bench/generate.py's data for 10 patients x 90 days, ~150 k rows,
generated once; REDIS_URL's server, db `BENCH_CPU_REDIS_DB`, default 8, flushed first).
Per endpoint: the median CPU ms of `--runs` requests after a warm-up (caches warm, as in a
running server), the wall-clock median beside it, SQL statements per request, and the mix's
weighted CPU per request with the capacity it implies on two cores doing nothing else.

`--profile` also prints cProfile's top functions (cumulative and own time, timed in CPU
time) over the whole mix, weighted as the load test weights it; `--profile-endpoint NAME`
profiles one endpoint. cProfile's own cost per call inflates call-heavy code (the ORM); for
shares without that bias sample with py-spy (requirements-bench.txt) on the GIL only:
`py-spy record --gil -f raw -o var/bench/cpu.txt -- .venv/bin/python bench/bench_request_cpu.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import math
import os
import pstats
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    RESULTS,
    ROOT,
    WORK,
    bench_patients,
    database_url,
    ensure_database,
    machine,
    redis_url,
)

OUT = RESULTS / "request_cpu.json"
DATABASE = os.environ.get("BENCH_CPU_DB", "ht_perf_cpu")
REDIS_DB = int(os.environ.get("BENCH_CPU_REDIS_DB", "8"))
PATIENTS, DAYS = 10, 90
# bench/load.py's MIX with the optional endpoints present (both are on the app).
MIX = {
    "summary": 28,
    "list_recent": 10,
    "list_type": 8,
    "nutrition_daily": 14,
    "insights": 6,
    "recommendations": 8,
    "goals": 6,
    "single_reading": 7,
    "meal": 5,
    "sync": 3,
    "aggregates_day": 3,
    "aggregates_hour": 2,
}
WRITES = {"single_reading", "meal", "sync"}
# Not in the mix: the rows of `make bench-compare`'s table (bench/compare.py), so that its
# endpoints have a CPU cost per request measured the steadier way too (issue 15).
COMPARE = ("list_own_20", "list_user_20", "summary_30", "health")
# The mean size of the load test's syncs (log-uniform over 60..1,440 samples).
SYNC_SAMPLES = round((1440 - 60) / math.log(1440 / 60))


def configure() -> None:
    """The production settings as bench/load.py gives them to gunicorn."""
    from healthtrack import devkeys

    os.environ.update(devkeys.load_or_create(ROOT / "var" / "dev-keys.json"))
    prometheus = WORK / "prometheus-cpu"
    prometheus.mkdir(parents=True, exist_ok=True)
    for stale in prometheus.glob("*.db"):
        stale.unlink()
    os.environ.update(
        DJANGO_ENV="production",
        DJANGO_SETTINGS_MODULE="healthtrack.settings",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        DATABASE_URL=ensure_database(DATABASE),
        REDIS_URL=redis_url(REDIS_DB),
        TRUSTED_PROXY_COUNT="1",
        API_RATE_PER_IP="100000/min",
        API_BURST_PER_IP="10000/s",
        API_RATE_PER_USER="100000/min",
        API_RATE_SYNC_PER_USER="100000/min",
        API_RATE_IMPORTS_PER_USER="100000/min",
        API_RATE_EXPORTS_PER_USER="100000/min",
        API_RATE_FRESH_RECOMMENDATIONS_PER_USER="100000/min",
        PROMETHEUS_MULTIPROC_DIR=str(prometheus),
    )
    os.environ.pop("BENCH_STATS", None)


@contextlib.contextmanager
def prepared(log_name: str):
    """The in-process benches' setup: settings (`configure`), Django set up and migrated on the
    bench's database, the dataset in place (yielded: `generate.ensure`'s answer) and its Redis
    database empty. The JSON access log goes where the server's would (`WORK / log_name`), not
    onto the terminal, until the block ends."""
    configure()
    WORK.mkdir(parents=True, exist_ok=True)
    log = open(WORK / log_name, "w")  # noqa: SIM115 - closed below
    saved_stderr = os.dup(2)
    os.dup2(log.fileno(), 2)
    try:
        import django

        django.setup()
        import generate
        import redis
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        dataset = generate.ensure(patients=PATIENTS, days=DAYS)
        redis.from_url(os.environ["REDIS_URL"]).flushdb()
        yield dataset
    finally:
        os.dup2(saved_stderr, 2)
        log.close()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Caller:
    """Calls the WSGI application as gunicorn does, as one patient with a JWT."""

    def __init__(self, app, patient: dict, paths: dict[str, str]):
        self.app = app
        self.patient = patient
        self.paths = paths
        self.rng = random.Random(7)

    def request(self, method: str, path: str, body: dict | None = None, headers=None) -> int:
        path, _, query = path.partition("?")
        data = json.dumps(body).encode() if body is not None else b""
        environ = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8765",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:8765",
            "HTTP_AUTHORIZATION": f"Bearer {self.patient['token']}",
            "HTTP_X_FORWARDED_FOR": f"2001:db8::{self.patient['id']:x}",
            "HTTP_USER_AGENT": "bench_request_cpu",
            "HTTP_ACCEPT": "*/*",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(data),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        if body is not None:
            environ["CONTENT_TYPE"] = "application/json"
            environ["CONTENT_LENGTH"] = str(len(data))
        for name, value in (headers or {}).items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        status = []

        def start_response(line, response_headers, exc_info=None):
            status.append(int(line.split(" ", 1)[0]))

        result = self.app(environ, start_response)
        try:
            for _chunk in result:
                pass
        finally:
            close = getattr(result, "close", None)
            if close:
                close()
        return status[0]

    # One method per endpoint of bench/load.py's MIX, the same requests.
    def summary(self):
        return self.request("GET", "/api/v1/health-metrics/summary")

    def list_recent(self):
        return self.request("GET", "/api/v1/health-metrics?limit=100")

    def list_type(self):
        code = self.rng.choice(["heart_rate", "steps", "weight", "blood_pressure_systolic"])
        return self.request("GET", f"/api/v1/health-metrics?metric_type={code}&limit=50")

    def nutrition_daily(self):
        return self.request("GET", "/api/v1/nutrition-logs/daily")

    def insights(self):
        return self.request("GET", "/api/v1/health-insights")

    def recommendations(self):
        return self.request("GET", self.paths["recommendations"].format(id=self.patient["id"]))

    def goals(self):
        return self.request("GET", self.paths["goals"].format(id=self.patient["id"]))

    def single_reading(self):
        code, lo, hi = self.rng.choice(
            [("weight", 55, 110), ("blood_glucose", 80, 140), ("heart_rate", 55, 110)]
        )
        at = datetime.now(UTC) - timedelta(seconds=self.rng.randint(0, 3600))
        body = {"metric_type": code, "value": round(self.rng.uniform(lo, hi), 1)}
        body["recorded_at"] = _iso(at)
        return self.request("POST", "/api/v1/health-metrics", body)

    def meal(self):
        at = datetime.now(UTC) - timedelta(seconds=self.rng.randint(0, 3600))
        body = {
            "meal_type": self.rng.choice(["breakfast", "lunch", "dinner", "snack"]),
            "description": "Bench meal",
            "calories": self.rng.randint(150, 800),
            "protein_g": self.rng.randint(5, 45),
            "carbs_g": self.rng.randint(10, 90),
            "fat_g": self.rng.randint(3, 35),
            "logged_at": _iso(at),
        }
        return self.request("POST", "/api/v1/nutrition-logs", body)

    def sync(self):
        n = SYNC_SAMPLES
        end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(
            minutes=self.rng.randint(0, 600)
        )
        batch = uuid.uuid4().hex[:12]
        samples = [
            {
                "metric_type": "heart_rate",
                "value": self.rng.randint(55, 120),
                "recorded_at": _iso(end - timedelta(minutes=n - i)),
                "external_id": f"{batch}-{i}",
            }
            for i in range(n)
        ]
        return self.request(
            "POST",
            f"/api/v1/devices/{self.patient['watch']}/sync",
            {"samples": samples},
            headers={"Idempotency-Key": batch},
        )

    def list_own_20(self):
        return self.request("GET", "/api/v1/health-metrics?limit=20")

    def list_user_20(self):
        return self.request("GET", f"/api/v1/health-metrics/user/{self.patient['id']}?limit=20")

    def summary_30(self):
        return self.request("GET", "/api/v1/health-metrics/summary?days=30")

    def health(self):
        return self.request("GET", "/health")

    def aggregates_day(self):
        return self.request("GET", "/api/v1/health-metrics/aggregates?metric_type=steps&period=day")

    def aggregates_hour(self):
        return self.request(
            "GET", "/api/v1/health-metrics/aggregates?metric_type=heart_rate&period=hour"
        )


def count_queries(fn) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        fn()
    return len(captured.captured_queries)


def _call(caller: Caller, name: str) -> tuple[float, float]:
    c0, w0 = time.process_time(), time.perf_counter()
    status = getattr(caller, name)()
    cpu, wall = (time.process_time() - c0) * 1000, (time.perf_counter() - w0) * 1000
    if not 200 <= status < 300:
        raise SystemExit(f"{name}: HTTP {status}")
    return cpu, wall


def _summary(cpu: list[float], wall: list[float]) -> dict:
    quartiles = statistics.quantiles(cpu, n=4)
    return {
        "cpu_ms_median": round(statistics.median(cpu), 2),
        "cpu_ms_p25": round(quartiles[0], 2),
        "cpu_ms_p75": round(quartiles[2], 2),
        "wall_ms_median": round(statistics.median(wall), 2),
        "runs": len(cpu),
    }


def measure(
    callers: list[Caller], names: list[str], runs: int, warmup: int, variants: list
) -> list[dict]:
    """Round-robin: each round calls every endpoint once under every variant (a settings
    override, or none), so a neighbour's burst on the shared machine hits all alike."""
    from contextlib import contextmanager

    from django.db import connection
    from django.test import override_settings as override_django

    @contextmanager
    def override_settings(**overrides):
        # CONN_HEALTH_CHECKS lives in the open connection's settings_dict, not in settings.
        checks = overrides.pop("CONN_HEALTH_CHECKS", None)
        saved = connection.settings_dict["CONN_HEALTH_CHECKS"]
        if checks is not None:  # read at connect() into health_check_enabled
            connection.settings_dict["CONN_HEALTH_CHECKS"] = checks
            connection.health_check_enabled = checks
        try:
            with override_django(**overrides):
                yield
        finally:
            connection.settings_dict["CONN_HEALTH_CHECKS"] = saved
            connection.health_check_enabled = saved
            if checks is not None:
                overrides["CONN_HEALTH_CHECKS"] = checks

    samples = [{n: ([], []) for n in names} for _ in variants]
    queries: list[dict[str, int]] = [{} for _ in variants]
    # The reads first, then the writes: a write drops its patient's cached summary and
    # recommendations, which with 10 patients would leave every read a cache miss (in the
    # load test's 1,000 patients a read mostly finds the cache warm).
    for group in ([n for n in names if n not in WRITES], [n for n in names if n in WRITES]):
        for r in range(warmup + runs):
            for n in group:
                for v, overrides in enumerate(variants):
                    with override_settings(**overrides):
                        cpu, wall = _call(callers[(r + v) % len(callers)], n)
                    if r >= warmup:
                        samples[v][n][0].append(cpu)
                        samples[v][n][1].append(wall)
        for n in group:  # SQL statements of one more request, as warm as the measured ones
            for v, overrides in enumerate(variants):
                with override_settings(**overrides):
                    queries[v][n] = count_queries(lambda n=n, v=v: getattr(callers[v], n)())
    out = [
        {n: {**_summary(*samples[v][n]), "queries": queries[v][n]} for n in names}
        for v in range(len(variants))
    ]
    return out


def profile(callers: list[Caller], names: list[str], rounds: int, top: int) -> str:
    plan = [n for n in names for _ in range(MIX.get(n, 0) if len(names) > 1 else 1)]
    # CPU time, not wall time: waits on PostgreSQL and Redis are not this process's cost.
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for r in range(rounds):
        for i, name in enumerate(plan):
            getattr(callers[(r + i) % len(callers)], name)()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=60, help="measured requests per endpoint")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--only", default="", help="comma-separated endpoints (default: all)")
    parser.add_argument("--profile", action="store_true", help="cProfile of the weighted mix")
    parser.add_argument("--profile-endpoint", default="", help="cProfile of one endpoint")
    parser.add_argument("--profile-rounds", type=int, default=10)
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument(
        "--ab",
        default="",
        help="SETTING=JSON: also measure every endpoint with this settings override, "
        "interleaved request by request (an A/B of one change in one process); "
        "CONN_HEALTH_CHECKS=false toggles the database connection's health check",
    )
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)

    with prepared("request_cpu.log") as dataset:
        from load import optional_paths

        from healthtrack.wsgi import application as app  # with the fronts, as served

        paths = optional_paths()
        names = [n for n in MIX if n in paths or n not in ("recommendations", "goals")]
        names += COMPARE
        if args.only:
            names = [n for n in names if n in args.only.split(",")]
        callers = [Caller(app, p, paths) for p in bench_patients()]
        variants = [{}]
        if args.ab:
            setting, _, value = args.ab.partition("=")
            variants.append({setting: json.loads(value)})
        measured = measure(callers, names, args.runs, args.warmup, variants)
        results = measured[0]
        report = ""
        if args.profile or args.profile_endpoint:
            chosen = [args.profile_endpoint] if args.profile_endpoint else names
            report = profile(callers, chosen, args.profile_rounds, args.top)

    weights = {n: MIX[n] for n in results if n in MIX}
    mix_cpu = sum(results[n]["cpu_ms_median"] * w for n, w in weights.items()) / max(
        1, sum(weights.values())
    )
    result = {
        "benchmark": "request_cpu",
        "machine": machine(),
        "database": database_url(DATABASE).rsplit("/", 1)[-1],
        "dataset_measurements": dataset["measurements"],
        "settings": "DJANGO_ENV=production, the full middleware stack, JWT Bearer, "
        "PostgreSQL + Redis, JSON access log to a file, Prometheus multiprocess",
        "sync_samples": SYNC_SAMPLES,
        "endpoints": results,
        "mix_weights": weights,
        "mix_cpu_ms_per_request": round(mix_cpu, 2),
        # Two cores doing nothing but this app's Python (no database, Redis, load generator).
        "two_core_ceiling_req_per_min": round(2 * 60_000 / mix_cpu) if mix_cpu else None,
    }
    if args.out and not args.only:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'endpoint':<18}{'cpu ms':>9}{'p25':>8}{'p75':>8}{'wall ms':>9}{'queries':>9}")
    for name, r in results.items():
        print(
            f"{name:<18}{r['cpu_ms_median']:>9}{r['cpu_ms_p25']:>8}{r['cpu_ms_p75']:>8}"
            f"{r['wall_ms_median']:>9}{r['queries']:>9}"
        )
    print(
        f"weighted mix: {result['mix_cpu_ms_per_request']} CPU ms/request -> at most "
        f"{result['two_core_ceiling_req_per_min'] or 0:,}/min on 2 cores of app CPU alone"
    )
    if args.ab:
        other = measured[1]
        other_cpu = sum(other[n]["cpu_ms_median"] * w for n, w in weights.items()) / max(
            1, sum(weights.values())
        )
        print(f"\nA/B with {args.ab} (cpu ms median: without -> with)")
        for name in results:
            print(
                f"{name:<18}{results[name]['cpu_ms_median']:>9} ->{other[name]['cpu_ms_median']:>7}"
                f"   queries {results[name]['queries']} -> {other[name]['queries']}"
            )
        print(f"weighted mix: {round(mix_cpu, 2)} -> {round(other_cpu, 2)} CPU ms/request")
        result["ab"] = {
            "override": args.ab,
            "endpoints": other,
            "mix_cpu_ms_per_request": round(other_cpu, 2),
        }
    if report:
        print(report)
    return result


if __name__ == "__main__":
    main()
