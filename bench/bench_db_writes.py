"""Where PostgreSQL saturates on writes: the database alone, without the app in front.

    python bench/bench_db_writes.py [--seconds 10] [--clients 1 2 4]

Against the load-test dataset (`ht_perf`, made by bench/generate.py if missing; its indexes
and constraints in place), `--clients` connections each run, for `--seconds`, the write
transactions the app runs, as SQL:
- `sync`: what a device sync of 500 minute samples writes: the per-user advisory lock, COPY
  of the rows, the hourly and daily rollups of the span deleted and re-inserted;
- `single`: one reading: lock, INSERT, one hourly and one daily rollup row replaced.
Reported: transactions/s and measurement rows/s for each client count, median of the
seconds. Every row written is deleted again afterwards (source_app `bench-db-writes`).
Results: bench/results/db_writes.json. The app's own cost per write is in load.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from common import PERF_DB, RESULTS, database_url, libpq, machine, setup_django

SOURCE = "bench-db-writes"
SYNC_ROWS = 500
COLUMNS = (
    "user_id, metric_type, value, unit, recorded_at, device_id, source_app, external_id, "
    "metadata, created_at"
)


def _days(lo: datetime, hi: datetime) -> tuple[datetime, datetime]:
    """Whole UTC days covering [lo, hi], as the app recomputes them."""
    first = datetime.combine(lo.date(), datetime.min.time(), tzinfo=UTC)
    return first, datetime.combine(hi.date(), datetime.min.time(), tzinfo=UTC) + timedelta(1)


def _rollup(cur, user_id: int, lo: datetime, hi: datetime) -> None:
    """Replace one user's heart-rate rollups of the days [lo, hi) (day boundaries)."""
    span = [user_id, lo, hi]
    cur.execute(
        "DELETE FROM metrics_hourlyrollup WHERE user_id = %s AND metric_type = 'heart_rate' "
        "AND period_start >= %s AND period_start < %s",
        span,
    )
    cur.execute(
        "DELETE FROM metrics_dailyrollup WHERE user_id = %s AND metric_type = 'heart_rate' "
        "AND day >= %s AND day < %s",
        [user_id, lo.date(), hi.date()],
    )
    for table, period, bucket in (
        ("hourlyrollup", "period_start", "date_trunc('hour', recorded_at, 'UTC')"),
        ("dailyrollup", "day", "(recorded_at AT TIME ZONE 'UTC')::date"),
    ):
        cur.execute(
            f"INSERT INTO metrics_{table} (user_id, metric_type, {period}, value, min_value, "
            f"max_value, count) SELECT user_id, metric_type, {bucket}, avg(value), min(value), "
            "max(value), count(*) FROM metrics_healthmetric WHERE user_id = %s AND "
            "metric_type = 'heart_rate' AND recorded_at >= %s AND recorded_at < %s "
            "GROUP BY 1, 2, 3",
            span,
        )


def _worker(kind: str, url: str, users: list[tuple[int, int]], seconds: float, out) -> None:
    try:
        out.put(_write_for(kind, url, users, seconds))
    except Exception as exc:  # the parent waits on the queue: tell it instead of hanging
        out.put(exc)


def _write_for(kind: str, url: str, users: list[tuple[int, int]], seconds: float) -> dict:
    import psycopg

    rng = random.Random()
    per_second: dict[int, list[int]] = {}
    with psycopg.connect(url) as conn:
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            user_id, device_id = rng.choice(users)
            # Today, so the rows land after the dataset's; spans differ per transaction.
            end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(
                minutes=rng.randint(0, 600)
            )
            rows = SYNC_ROWS if kind == "sync" else 1
            lo = end - timedelta(minutes=rows)
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x4D54, user_id])
                now = datetime.now(UTC)
                with cur.copy(f"COPY metrics_healthmetric ({COLUMNS}) FROM STDIN") as copy:
                    for i in range(rows):
                        copy.write_row(
                            (user_id, "heart_rate", 60 + i % 40, "bpm", lo + timedelta(minutes=i),
                             device_id, SOURCE, "", "{}", now)
                        )  # fmt: skip
                _rollup(cur, user_id, *_days(lo, end))
            second = int(elapsed)
            per_second.setdefault(second, [0, 0])
            per_second[second][0] += 1
            per_second[second][1] += rows
    return per_second


def run(kind: str, clients: int, seconds: float, users) -> dict:
    url = libpq(database_url(PERF_DB))
    queue: multiprocessing.Queue = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(target=_worker, args=(kind, url, users, seconds, queue))
        for _ in range(clients)
    ]
    for p in procs:
        p.start()
    totals: dict[int, list[int]] = {}
    answers = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    for answer in answers:
        if isinstance(answer, Exception):
            raise answer
        for second, (tx, rows) in answer.items():
            totals.setdefault(second, [0, 0])
            totals[second][0] += tx
            totals[second][1] += rows
    full = [v for s, v in totals.items() if s < int(seconds)] or list(totals.values())
    return {
        "clients": clients,
        "transactions_per_s": statistics.median(v[0] for v in full),
        "rows_per_s": statistics.median(v[1] for v in full),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--patients", type=int, default=1000)
    args = parser.parse_args(argv)
    setup_django(PERF_DB)
    import generate

    generate.ensure(patients=args.patients, days=90)
    from django.db import connection

    from metrics.models import Device

    users = list(Device.objects.filter(identifier="watch-1").values_list("user_id", "id"))
    result = {"machine": machine(), "sync_rows": SYNC_ROWS, "sync": [], "single": []}
    try:
        for kind in ("sync", "single"):
            for clients in args.clients:
                figures = run(kind, clients, args.seconds, users)
                result[kind].append(figures)
                print(
                    f"{kind:<7} {clients} client(s): {figures['transactions_per_s']:>7} tx/s "
                    f"{figures['rows_per_s']:>9} rows/s"
                )
    finally:
        # Remove what was written and rebuild the touched days' rollups from what is left.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT user_id, min(recorded_at), max(recorded_at) FROM metrics_healthmetric "
                "WHERE source_app = %s GROUP BY user_id",
                [SOURCE],
            )
            touched = cursor.fetchall()
            cursor.execute("DELETE FROM metrics_healthmetric WHERE source_app = %s", [SOURCE])
            for user_id, lo, hi in touched:
                _rollup(cursor, user_id, *_days(lo, hi))
    result["machine"]["loadavg_after"] = machine()["loadavg_1_5_15"]
    (RESULTS / "db_writes.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULTS / 'db_writes.json'}")
    return result


if __name__ == "__main__":
    main()
