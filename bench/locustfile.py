"""Locust scenario of the design's mix, run headless by bench/load.py (not on its own).

Each virtual user acts, request by request, as a random patient of the dataset with that
patient's JWT (minted by load.py into BENCH_USERS_FILE). Weights (per 100 requests):
80 reads, 15 writes, 5 aggregates; see MIX. Endpoints not on this version of the app (load.py
resolves them) give their weight to the other reads.

Every request's latency, status and the bench server's X-Bench-* headers are kept per endpoint
and written to BENCH_RAW_OUT when locust stops; load.py turns them into load.json.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

from locust import FastHttpUser, constant, constant_throughput, events, task

USERS = json.loads(open(os.environ["BENCH_USERS_FILE"]).read())  # noqa: SIM115
ENABLED = set(filter(None, os.environ.get("BENCH_ENABLED", "").split(",")))
RATE_PER_USER = float(os.environ.get("BENCH_RATE_PER_USER", "0"))
WARMUP_S = float(os.environ.get("BENCH_WARMUP", "3"))
RAW_OUT = os.environ["BENCH_RAW_OUT"]

# name: (kind, weight). Optional endpoints are used only when load.py found them.
MIX = {
    "summary": ("read", 28),
    "list_recent": ("read", 10),
    "list_type": ("read", 8),
    "nutrition_daily": ("read", 14),
    "insights": ("read", 6),
    "recommendations": ("read", 8),  # optional
    "goals": ("read", 6),  # optional
    "single_reading": ("write", 7),
    "meal": ("write", 5),
    "sync": ("write", 3),
    "aggregates_day": ("aggregate", 3),
    "aggregates_hour": ("aggregate", 2),
}
OPTIONAL = {"recommendations", "goals"}
# BENCH_MIX=writes: only the writes, in the same proportions (the ingest ceiling).
KINDS = {"design": {"read", "write", "aggregate"}, "writes": {"write"}}[
    os.environ.get("BENCH_MIX", "design")
]


def _weights() -> dict[str, float]:
    active = {
        n: w
        for n, (kind, w) in MIX.items()
        if kind in KINDS and (n not in OPTIONAL or n in ENABLED)
    }
    # Optional reads not on this version of the app: their share goes to the other reads.
    missing = sum(w for n, (kind, w) in MIX.items() if kind in KINDS and n not in active)
    reads = [n for n in active if MIX[n][0] == "read"]
    read_total = sum(active[n] for n in reads)
    for n in reads:  # the reads keep their 80 %
        active[n] += missing * active[n] / read_total
    return active


WEIGHTS = _weights()
NAMES = list(WEIGHTS)
CUMULATIVE = [WEIGHTS[n] for n in NAMES]
PATHS = json.loads(os.environ.get("BENCH_PATHS", "{}"))

# --- what every request reports ----------------------------------------------------------
STATS: dict[str, dict] = {}
STARTED = time.monotonic()
TOTAL = [0]  # every request, warm-up included


@events.request.add_listener
def _record(request_type, name, response_time, response_length, response, exception, **kw):
    now = time.monotonic()
    TOTAL[0] += 1
    entry = STATS.setdefault(
        name,
        {
            "times_ms": [],
            "errors": 0,
            "status": {},
            "queries": 0,
            "cache_hits": 0,
            "cache_misses": 0,
            "counted": 0,
            "error_samples": [],
        },
    )
    if now - STARTED < WARMUP_S:
        return
    status = getattr(response, "status_code", 0) or 0
    entry["status"][str(status)] = entry["status"].get(str(status), 0) + 1
    entry["times_ms"].append(round(response_time, 2))
    entry.setdefault("ends", []).append(round(now - STARTED, 3))
    if exception is not None or not 200 <= status < 300:
        entry["errors"] += 1
        if len(entry["error_samples"]) < 3:
            body = getattr(response, "text", "") or ""
            entry["error_samples"].append(f"{status} {str(exception)[:120]} {body[:200]}")
    headers = getattr(response, "headers", None) or {}
    if "X-Bench-Queries" in headers:
        entry["counted"] += 1
        entry["queries"] += int(headers["X-Bench-Queries"])
        entry["cache_hits"] += int(headers.get("X-Bench-Cache-Hits", 0))
        entry["cache_misses"] += int(headers.get("X-Bench-Cache-Misses", 0))


@events.quitting.add_listener
def _write(environment, **kw):
    with open(RAW_OUT, "w") as fh:
        json.dump(
            {
                "warmup_s": WARMUP_S,
                "weights": WEIGHTS,
                "total_requests": TOTAL[0],
                "endpoints": STATS,
            },
            fh,
        )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Patient(FastHttpUser):
    wait_time = constant_throughput(RATE_PER_USER) if RATE_PER_USER > 0 else constant(0)
    # One connection per virtual user, kept alive where the server allows it.
    concurrency = 1

    def _call(self, method: str, name: str, path: str, patient: dict, body=None, headers=None):
        # Behind a load balancer (the bench server trusts one proxy): each patient has an
        # address of their own, from IPv6's documentation prefix (a header, never a target).
        head = {
            "Authorization": f"Bearer {patient['token']}",
            "X-Forwarded-For": f"2001:db8::{patient['id']:x}",
        }
        if headers:
            head.update(headers)
        kwargs = {"name": name, "headers": head}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            head["Content-Type"] = "application/json"
        with self.client.request(method, path, catch_response=True, **kwargs) as response:
            if 200 <= response.status_code < 300:
                response.success()
            else:
                response.failure(f"HTTP {response.status_code}")

    @task
    def one_request(self) -> None:
        name = random.choices(NAMES, CUMULATIVE)[0]
        patient = random.choice(USERS)
        getattr(self, f"do_{name}")(name, patient)

    # --- reads ---------------------------------------------------------------------------
    def do_summary(self, name, p):
        self._call("GET", name, "/api/v1/health-metrics/summary", p)

    def do_list_recent(self, name, p):
        self._call("GET", name, "/api/v1/health-metrics?limit=100", p)

    def do_list_type(self, name, p):
        code = random.choice(["heart_rate", "steps", "weight", "blood_pressure_systolic"])
        self._call("GET", name, f"/api/v1/health-metrics?metric_type={code}&limit=50", p)

    def do_nutrition_daily(self, name, p):
        self._call("GET", name, "/api/v1/nutrition-logs/daily", p)

    def do_insights(self, name, p):
        self._call("GET", name, "/api/v1/health-insights", p)

    def do_recommendations(self, name, p):
        self._call("GET", name, PATHS["recommendations"].format(id=p["id"]), p)

    def do_goals(self, name, p):
        self._call("GET", name, PATHS["goals"].format(id=p["id"]), p)

    # --- writes --------------------------------------------------------------------------
    def do_single_reading(self, name, p):
        code, lo, hi = random.choice(
            [("weight", 55, 110), ("blood_glucose", 80, 140), ("heart_rate", 55, 110)]
        )
        at = datetime.now(UTC) - timedelta(seconds=random.randint(0, 3600))
        body = {
            "metric_type": code,
            "value": round(random.uniform(lo, hi), 1),
            "recorded_at": _iso(at),
        }
        self._call("POST", name, "/api/v1/health-metrics", p, body)

    def do_meal(self, name, p):
        at = datetime.now(UTC) - timedelta(seconds=random.randint(0, 3600))
        body = {
            "meal_type": random.choice(["breakfast", "lunch", "dinner", "snack"]),
            "description": "Bench meal",
            "calories": random.randint(150, 800),
            "protein_g": random.randint(5, 45),
            "carbs_g": random.randint(10, 90),
            "fat_g": random.randint(3, 35),
            "logged_at": _iso(at),
        }
        self._call("POST", name, "/api/v1/nutrition-logs", p, body)

    def do_sync(self, name, p):
        # 60 to 1,440 minute samples, log-uniform (many short syncs, some whole days).
        n = int(math.exp(random.uniform(math.log(60), math.log(1440))))
        end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(
            minutes=random.randint(0, 600)
        )
        batch = uuid.uuid4().hex[:12]
        samples = [
            {
                "metric_type": "heart_rate",
                "value": random.randint(55, 120),
                "recorded_at": _iso(end - timedelta(minutes=n - i)),
                "external_id": f"{batch}-{i}",
            }
            for i in range(n)
        ]
        self._call(
            "POST",
            name,
            f"/api/v1/devices/{p['watch']}/sync",
            p,
            {"samples": samples},
            headers={"Idempotency-Key": batch},
        )

    # --- aggregates ----------------------------------------------------------------------
    def do_aggregates_day(self, name, p):
        self._call("GET", name, "/api/v1/health-metrics/aggregates?metric_type=steps&period=day", p)

    def do_aggregates_hour(self, name, p):
        self._call(
            "GET", name, "/api/v1/health-metrics/aggregates?metric_type=heart_rate&period=hour", p
        )
