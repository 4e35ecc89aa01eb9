"""Large Apple Health import benchmark (issue 19): `make bench`. Not a test; prints figures and
writes bench/results/import_2gb.json.

Target: a 2 GB generated export imports in under 200 MB peak RSS at >= 5,000 records/s.

1. Generates an export.xml of BENCH_IMPORT_BYTES (default 2 GiB) straight into the import
   upload folder (MEDIA_ROOT/private/imports/<user>/), written as a stream (a day of records
   at a time, never the file in memory): the same record mix as bench/bench_import.py (an
   iPhone, an Apple Watch and a scale, blood pressure correlations, sleep stages, a type we
   do not import), going back in time from yesterday as far as the size needs.
2. On PostgreSQL (DATABASE_URL's server, database BENCH_IMPORT_DATABASE, default
   `ht_bench_import`, dropped and created afresh), creates a user and an `ImportJob` on that
   upload and runs the Celery task's body in this process (`portability.import_file`: the
   attempt claim, the memory limit, `import_job_execute`, then the upload is deleted).
3. Records: seconds, records/s, peak RSS of this process (`resource.getrusage`, Django and
   psycopg included; the generation runs before Django is loaded), RSS sampled during the
   import (psutil), the job's counts; then drops the database.

BENCH_IMPORT_BYTES=50000000 for a quick run (CI and `make bench-smoke` never run this).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import common
import psycopg
from bench_import import HEADER, day_records
from common import ROOT

RESULTS = ROOT / "bench" / "results" / "import_2gb.json"
TARGET_MB = 200
TARGET_RECORDS_PER_SECOND = 5000
DEFAULT_BYTES = 2 * 1024**3


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def backend_cpu_seconds(pid: int | None) -> float | None:
    """CPU (user + system) of a PostgreSQL backend on this machine, from /proc; None when the
    server is elsewhere or the file is unreadable."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def generate(path: Path, size: int) -> tuple[int, int]:
    """Days of records backwards from yesterday until the file holds `size` bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    written = records = days = 0
    with path.open("wb", buffering=1 << 20) as out:
        written += out.write(HEADER.encode())
        while written < size:
            days += 1
            chunk = "".join(day_records(today - timedelta(days=days), days)).encode()
            records += chunk.count(b"<Record ")
            written += out.write(chunk)
        out.write(b"</HealthData>\n")
    return records, days


def drop_if_exists(name: str) -> None:
    admin = common.libpq(common.database_url("postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_database(name: str) -> None:
    from django.db import connections

    connections.close_all()
    drop_if_exists(name)


class RssSampler(threading.Thread):
    """This process's resident memory every second (the peak the kernel counts is in
    ru_maxrss; this shows when it is reached)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        import psutil

        self.process = psutil.Process()
        self.samples: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(1.0):
            self.samples.append(self.process.memory_info().rss / 1024 / 1024)


def main() -> dict:
    size = int(os.environ.get("BENCH_IMPORT_BYTES", DEFAULT_BYTES))
    database = os.environ.get("BENCH_IMPORT_DATABASE", "ht_bench_import")
    media = Path(os.environ.get("MEDIA_ROOT") or ROOT / "var" / "media")
    upload = Path("private") / "imports" / "bench" / f"{uuid.uuid4().hex}.xml"
    path = media / upload

    started = time.perf_counter()
    records, days = generate(path, size)
    file_bytes = path.stat().st_size
    generation_seconds = round(time.perf_counter() - started, 1)
    print(
        f"generated {file_bytes / 1024**2:,.0f} MB, {records:,} records, {days:,} days in "
        f"{generation_seconds} s (peak RSS {peak_rss_mb()} MB)"
    )
    rss_after_generation = peak_rss_mb()

    try:
        drop_if_exists(database)
        common.setup_django(database, rate_limits=False)
        # As bench/run.sh configures the server for the whole bench (durability kept, a crash
        # may lose the last commits): here for this database only, also when run alone.
        with psycopg.connect(common.libpq(common.database_url(database)), autocommit=True) as c:
            c.execute(f'ALTER DATABASE "{database}" SET synchronous_commit = off')
        from django.conf import settings
        from django.db import connection

        from accounts.models import User
        from healthtrack.portability import tasks
        from healthtrack.portability.models import ImportJob
        from metrics.models import DailyRollup, HealthMetric

        assert Path(settings.MEDIA_ROOT) == media, "MEDIA_ROOT differs from the bench's"
        rss_after_setup = peak_rss_mb()
        user = User.objects.create(username="bench-import-large", email="bench-large@example.org")
        job = ImportJob.objects.create(
            user=user,
            kind=ImportJob.Kind.APPLE_HEALTH,
            original_name="export.xml",
            size=file_bytes,
            file=str(upload),
        )
        sampler = RssSampler()
        sampler.start()
        last = [time.monotonic()]
        watch = threading.Event()

        def report_progress() -> None:
            while not watch.wait(30):
                row = ImportJob.objects.filter(pk=job.pk).values("processed", "total").first()
                print(
                    f"  {row['processed']:,}/{row['total']:,} records, "
                    f"rss {sampler.samples[-1] if sampler.samples else 0:.0f} MB, "
                    f"{time.monotonic() - last[0]:.0f} s",
                    flush=True,
                )

        from django.db import close_old_connections

        def progress_thread() -> None:
            try:
                report_progress()
            finally:
                close_old_connections()

        printer = threading.Thread(target=progress_thread, daemon=True)
        printer.start()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        db_cpu_before = backend_cpu_seconds(backend)
        load_before = [round(x, 2) for x in os.getloadavg()]
        cpu_before = cpu_seconds()
        started = time.perf_counter()
        tasks.import_file(job.pk)
        seconds = time.perf_counter() - started
        cpu = cpu_seconds() - cpu_before
        db_cpu_after = backend_cpu_seconds(backend)
        db_cpu = (
            db_cpu_after - db_cpu_before
            if db_cpu_before is not None and db_cpu_after is not None
            else None
        )
        watch.set()
        sampler.stop.set()
        job.refresh_from_db()
        stored = HealthMetric.objects.filter(user=user).count()
        daily = DailyRollup.objects.filter(user=user).count()
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            pg_version = cursor.fetchone()[0]
            cursor.execute("SHOW synchronous_commit")
            synchronous_commit = cursor.fetchone()[0]
        peak = peak_rss_mb()
        rate = round(job.processed / seconds)
        figures = {
            "file_bytes": file_bytes,
            "file_mb": round(file_bytes / 1024**2, 1),
            "records_in_file": records,
            "days": days,
            "generation_seconds": generation_seconds,
            "status": job.status,
            "records": job.processed,
            "seconds": round(seconds, 1),
            "records_per_second": rate,
            "process_cpu_seconds": round(cpu, 1),
            "records_per_cpu_second": round(job.processed / cpu) if cpu else None,
            "database_backend_cpu_seconds": round(db_cpu, 1) if db_cpu is not None else None,
            # The import is one serial pipeline (the app waits for its database backend):
            # on an otherwise idle machine its rate tends to this ceiling.
            "records_per_cpu_second_app_and_database": (
                round(job.processed / (cpu + db_cpu)) if db_cpu else None
            ),
            "load_average_before": load_before,
            "created": job.summary.get("created"),
            "duplicates": job.summary.get("duplicates"),
            "errors": job.error_count,
            "error_messages": [e["message"] for e in job.errors[:5]],
            "unknown_types": job.summary.get("unknown_types"),
            "measurements_stored": stored,
            "daily_rollups": daily,
            "peak_rss_mb": peak,
            "rss_sampled_max_mb": round(max(sampler.samples, default=0), 1),
            "rss_after_generation_mb": rss_after_generation,
            "rss_after_django_setup_mb": rss_after_setup,
            "upload_deleted": not path.exists(),
            "target_peak_rss_mb": TARGET_MB,
            "target_records_per_second": TARGET_RECORDS_PER_SECOND,
            "memory_target_met": peak < TARGET_MB,
            "speed_target_met": rate >= TARGET_RECORDS_PER_SECOND,
        }
        print(json.dumps(figures, indent=2))
    finally:
        path.unlink(missing_ok=True)
        try:
            drop_database(database)
        except Exception as exc:  # the figures matter more than the clean-up
            print(f"could not drop {database}: {type(exc).__name__}")

    report = {
        "benchmark": "apple_health_import_large",
        "ran_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "postgresql": pg_version,
            "database": database,
            "synchronous_commit": synchronous_commit,
        },
        "figures": figures,
        "notes": "One process: the Celery task's body (portability.import_file) run in-process "
        "on a stored upload of the generated export.xml, writing to PostgreSQL. Peak RSS is "
        "the whole process from resource.getrusage(RUSAGE_SELF).ru_maxrss (Django, psycopg, "
        "the parser); records/s counts every <Record> read (stored, duplicates, unknown "
        "types) over the task's wall time; process_cpu_seconds is this process's CPU (user + "
        "system) over the same time, PostgreSQL's own work not included. The machine is "
        "shared: load averages show how busy it was.",
    }
    if size >= DEFAULT_BYTES:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    else:
        print(f"(BENCH_IMPORT_BYTES={size}: below 2 GiB, {RESULTS.name} not written)")
    return report


if __name__ == "__main__":
    main()
