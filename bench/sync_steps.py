"""Where a device sync's time goes (issue 15): `bench/bench_metrics.py`'s sync of 1,440
heart-rate samples through the API (in-process, JWT), on its data set (database `ht_bench`, or
$BENCH_METRICS_DB, of DATABASE_URL's server, loaded by `bench/bench_metrics.py` first), with per
statement the wall time and the PostgreSQL backend's CPU (`/proc/<pid>/schedstat`: the server
must run on this machine), the COPY and the commit included, and the request's Python CPU. Not
a benchmark of its own (`make bench` does not run it); prints a table, and the WAL a sync
writes (the cluster's, so run it on a cluster nothing else writes to).

    DATABASE_URL=postgres://... REDIS_URL=redis://127.0.0.1:6379/N \
        .venv/bin/python bench/sync_steps.py [runs]
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import common
from bench_metrics import BENCH_DB, day_samples

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 9


def main() -> None:
    common.setup_django(BENCH_DB, rate_limits=False)
    from auditlog.context import disable_auditlog
    from django.db import connection, connections
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    from accounts.models import User
    from metrics import rollups, services
    from metrics.models import Device, HealthMetric

    user = User.objects.get(username="bench")  # bench_metrics.py's
    device = Device.objects.get(user=user, identifier="bench-watch")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    connection.ensure_connection()
    backend = connection.connection.info.backend_pid

    def backend_ns() -> int:
        with open(f"/proc/{backend}/schedstat") as f:
            return int(f.read().split()[0])

    stats: dict[str, list] = defaultdict(lambda: [0, 0.0, 0])  # count, wall s, backend ns
    active = [False]

    def record(name: str, wall: float, ns: int) -> None:
        if active[0]:
            entry = stats[name]
            entry[0] += 1
            entry[1] += wall
            entry[2] += ns

    def wrapper(execute, sql, params, many, context):
        b0, t0 = backend_ns(), time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            record(" ".join(sql.split())[:60], time.perf_counter() - t0, backend_ns() - b0)

    def timed(name, function):
        def call(*args, **kwargs):
            b0, t0 = backend_ns(), time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                record(name, time.perf_counter() - t0, backend_ns() - b0)

        return call

    wrapper_class = type(connections["default"])
    wrapper_class._commit = timed("COMMIT", wrapper_class._commit)
    services._insert = timed("COPY (with its Python)", services._insert)

    def post(day: datetime):
        return client.post(
            f"/api/v1/devices/{device.pk}/sync",
            day_samples(day),
            content_type="application/json",
            headers={"Idempotency-Key": f"steps-{time.time_ns()}"},
        )

    def cleanup(day: datetime) -> None:
        with disable_auditlog():  # maintenance, as bench_metrics.py's: no tombstones
            HealthMetric.objects.filter(
                user=user, recorded_at__gte=day, recorded_at__lt=day + timedelta(days=1)
            ).delete()
        rollups.recompute_days(
            user_id=user.pk, metric_type="heart_rate", first=day.date(), last=day.date()
        )

    def wal_lsn() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_insert_lsn() - '0/0'")
            return int(cursor.fetchone()[0])

    walls, python, backend_cpu, wal = [], [], [], []
    for i in range(RUNS + 1):  # the first one warms up
        day = today - timedelta(days=200 + i)
        lsn = wal_lsn()
        with connection.execute_wrapper(wrapper):
            active[0] = i > 0
            b0, t0, p0 = backend_ns(), time.perf_counter(), time.process_time()
            response = post(day)
            if i:
                walls.append(time.perf_counter() - t0)
                python.append(time.process_time() - p0)
                backend_cpu.append(backend_ns() - b0)
            active[0] = False
        if i:
            wal.append(wal_lsn() - lsn)  # the sync's WAL (the cluster's, nothing else on it)
        assert response.status_code == 200, response.content[:300]
        assert response.json()["counts"]["created"] == 1440
        cleanup(day)

    def median(values):
        return sorted(values)[len(values) // 2]

    print(
        f"{RUNS} syncs of 1,440 samples: wall median {median(walls) * 1e3:.1f} ms"
        f" (min {min(walls) * 1e3:.1f}); Python CPU median {median(python) * 1e3:.1f}"
        f" (min {min(python) * 1e3:.1f}); PostgreSQL backend CPU median"
        f" {median(backend_cpu) / 1e6:.1f} (min {min(backend_cpu) / 1e6:.1f});"
        f" WAL median {median(wal) / 1e6:.2f} MB"
    )
    print(f"{'per sync':<62} {'count':>6} {'wall ms':>8} {'backend CPU ms':>15}")
    for name, (count, wall, ns) in sorted(stats.items(), key=lambda kv: -kv[1][2]):
        if not name.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")):
            per_run = (count / RUNS, wall * 1e3 / RUNS, ns / 1e6 / RUNS)
            print(f"{name:<62} {per_run[0]:6.1f} {per_run[1]:8.2f} {per_run[2]:15.2f}")


if __name__ == "__main__":
    main()
