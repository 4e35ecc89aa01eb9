"""Apple Health import benchmark (issue 8): `make bench`. Not a test; prints figures and
writes bench/results/import.json.

Generates an export.xml of about 200 MB on disk (written as a stream, in a temporary
directory deleted afterwards): two years of an iPhone and an Apple Watch (heart rate every
5 minutes, steps, energy and distance every 15 minutes, SpO2 and respiratory rate hourly,
sleep stages, resting heart rate) and a scale (weight, blood pressure correlations), plus
record types we do not import. Then, on PostgreSQL (DATABASE_URL's server, database
`BENCH_DATABASE`, default `ht_bench`, created if missing), imports it for a fresh user
through the same path as the Celery task (`import_job_execute`), then imports it again as a
ZIP (every record already stored: nothing is added), and finally purges the user.

Recorded: time, records per second, and the process's peak resident memory
(`resource.getrusage`, which includes Django itself) after each step. Target: < 200 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import common
from common import ROOT

RESULTS = ROOT / "bench" / "results" / "import.json"
TARGET_MB = 200
FILE_MB = 200
EMAIL = "bench-import@example.org"

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE HealthData [
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary)*)>
<!ATTLIST HealthData locale CDATA #REQUIRED>
<!ELEMENT Record ((MetadataEntry|HeartRateVariabilityMetadataList)*)>
<!ATTLIST Record type CDATA #REQUIRED unit CDATA #IMPLIED value CDATA #IMPLIED
  sourceName CDATA #REQUIRED sourceVersion CDATA #IMPLIED device CDATA #IMPLIED
  creationDate CDATA #IMPLIED startDate CDATA #REQUIRED endDate CDATA #REQUIRED>
]>
<HealthData locale="en_US">
 <ExportDate value="2026-01-01 08:00:00 +0100"/>
 <Me HKCharacteristicTypeIdentifierDateOfBirth="1984-05-17"/>
"""
PHONE = (
    'sourceName="Dana’s iPhone" sourceVersion="17.3" device="&lt;&lt;HKDevice: 0x283ec0820&gt;, '
    "name:iPhone, manufacturer:Apple Inc., model:iPhone, hardware:iPhone14,5, "
    'software:17.3&gt;"'
)
WATCH = (
    'sourceName="Dana’s Apple Watch" sourceVersion="10.3" device="&lt;&lt;HKDevice: '
    "0x283ec0a10&gt;, name:Apple Watch, manufacturer:Apple Inc., model:Watch, "
    'hardware:Watch6,1, software:10.3&gt;"'
)
SCALE = 'sourceName="Withings" sourceVersion="6.1"'


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S +0000")


def record(kind: str, source: str, unit: str, value, start: datetime, end=None, indent=" "):
    end = end or start
    return (
        f'{indent}<Record type="{kind}" {source} unit="{unit}" creationDate="{stamp(end)}" '
        f'startDate="{stamp(start)}" endDate="{stamp(end)}" value="{value}"/>\n'
    )


Q = "HKQuantityTypeIdentifier"


def day_records(day: datetime, n: int) -> list[str]:
    out = []
    for i in range(288):  # heart rate every 5 minutes
        t = day + timedelta(minutes=5 * i)
        out.append(record(f"{Q}HeartRate", WATCH, "count/min", 55 + (i * 7 + n) % 50, t))
    for i in range(96):  # every 15 minutes
        t, e = day + timedelta(minutes=15 * i), day + timedelta(minutes=15 * i + 14)
        out.append(record(f"{Q}StepCount", PHONE, "count", (i * 13 + n) % 400, t, e))
        out.append(record(f"{Q}StepCount", WATCH, "count", (i * 11 + n) % 380, t, e))
        out.append(record(f"{Q}ActiveEnergyBurned", WATCH, "kcal", round(i % 9 * 1.7, 2), t, e))
        out.append(record(f"{Q}DistanceWalkingRunning", PHONE, "km", round(i % 7 * 0.05, 3), t, e))
    for h in range(24):
        t = day + timedelta(hours=h, minutes=30)
        out.append(record(f"{Q}OxygenSaturation", WATCH, "%", 0.95 + h % 4 / 100, t))
        out.append(record(f"{Q}RespiratoryRate", WATCH, "count/min", 12 + h % 6, t))
        out.append(record(f"{Q}HeadphoneAudioExposure", PHONE, "dBASPL", 60 + h % 20, t))
    morning = day + timedelta(hours=7)
    out.append(record(f"{Q}RestingHeartRate", WATCH, "count/min", 58 + n % 6, morning))
    out.append(record(f"{Q}BodyMass", SCALE, "kg", round(70 + n % 20 / 10, 1), morning))
    bp = [
        record(f"{Q}BloodPressureSystolic", SCALE, "mmHg", 118 + n % 15, morning, indent="  "),
        record(f"{Q}BloodPressureDiastolic", SCALE, "mmHg", 76 + n % 9, morning, indent="  "),
    ]
    out.append(
        f' <Correlation type="HKCorrelationTypeIdentifierBloodPressure" {SCALE} '
        f'creationDate="{stamp(morning)}" startDate="{stamp(morning)}" '
        f'endDate="{stamp(morning)}">\n{"".join(bp)} </Correlation>\n'
    )
    out.extend(line.replace("  <", " <", 1) for line in bp)
    night = day - timedelta(hours=1)
    stages = ["AsleepCore", "AsleepDeep", "AsleepREM", "AsleepCore", "Awake"]
    for i, stage in enumerate(stages):
        start, end = night + timedelta(minutes=80 * i), night + timedelta(minutes=80 * i + 75)
        out.append(
            record(
                "HKCategoryTypeIdentifierSleepAnalysis",
                WATCH,
                "",
                f"HKCategoryValueSleepAnalysis{stage}",
                start,
                end,
            ).replace(' unit=""', "")
        )
    return out


def generate(path: Path, megabytes: int) -> tuple[int, int]:
    """Writes days backwards from yesterday until the file reaches `megabytes`."""
    limit = megabytes * 1024 * 1024
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    written = records = days = 0
    with path.open("w", encoding="utf-8", buffering=1 << 20) as out:
        written += out.write(HEADER)
        while written < limit:
            days += 1
            lines = day_records(today - timedelta(days=days), days)
            chunk = "".join(lines)
            records += chunk.count("<Record ")
            written += len(chunk.encode())
            out.write(chunk)
        out.write("</HealthData>\n")
    return records, days


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def setup_django() -> str:
    name = os.environ.get("BENCH_DATABASE", "ht_bench")
    common.setup_django(name, rate_limits=False)
    return name


def fresh_user():
    from accounts.models import User
    from healthtrack.portability.services import account_purge

    for old in User.objects.filter(email=EMAIL):
        account_purge(user=old)
    return User.objects.create(username="bench-import", email=EMAIL)


def run_import(user, path: Path, label: str) -> dict:
    from healthtrack.portability.models import ImportJob
    from healthtrack.portability.services import import_job_execute

    job = ImportJob.objects.create(user=user, kind="apple_health", original_name=path.name)
    last = [0.0]

    def progress(report) -> None:
        now = time.monotonic()
        if now - last[0] > 10:
            last[0] = now
            print(f"  {label}: {report.processed:,}/{report.total:,}  rss {peak_rss_mb()} MB")

    start = time.perf_counter()
    with path.open("rb") as fileobj:
        job = import_job_execute(job=job, fileobj=fileobj, on_progress=progress)
    seconds = time.perf_counter() - start
    return {
        "status": job.status,
        "records": job.processed,
        "seconds": round(seconds, 1),
        "records_per_second": round(job.processed / seconds),
        "created": job.summary["created"],
        "duplicates": job.summary["duplicates"],
        "errors": job.error_count,
        "unknown_types": job.summary["unknown_types"],
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=FILE_MB, help="size of export.xml")
    parser.add_argument("--skip-zip", action="store_true", help="no second (ZIP) import")
    args = parser.parse_args()

    database = setup_django()
    from django.db import connection

    from healthtrack.portability.services import account_purge
    from metrics.models import DailyRollup, HealthMetric

    rss_after_setup = peak_rss_mb()
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="ht-bench-import-") as tmp:
        xml_path = Path(tmp) / "export.xml"
        started = time.perf_counter()
        records, days = generate(xml_path, args.mb)
        size_mb = round(xml_path.stat().st_size / 1024 / 1024, 1)
        print(
            f"generated {size_mb} MB, {records:,} records, {days} days "
            f"in {time.perf_counter() - started:.0f} s"
        )
        rss_after_generate = peak_rss_mb()

        user = fresh_user()
        results["xml"] = run_import(user, xml_path, "export.xml")
        print(f"xml import: {results['xml']}")
        stored = HealthMetric.objects.filter(user=user).count()
        daily = DailyRollup.objects.filter(user=user).count()

        if not args.skip_zip:
            zip_path = Path(tmp) / "export.zip"
            with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.write(xml_path, "apple_health_export/export.xml")
            xml_path.unlink()
            results["zip_reimport"] = run_import(user, zip_path, "export.zip")
            results["zip_reimport"]["zip_mb"] = round(zip_path.stat().st_size / 1024 / 1024, 1)
            results["zip_reimport"]["rows_added"] = (
                HealthMetric.objects.filter(user=user).count() - stored
            )
            print(f"zip re-import: {results['zip_reimport']}")

        started = time.perf_counter()
        purge = account_purge(user=user)
        results["purge"] = {
            "rows_deleted": sum(purge.deleted.values()),
            "seconds": round(time.perf_counter() - started, 1),
            "peak_rss_mb": peak_rss_mb(),
        }
        print(f"purge: {results['purge']}")

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    peak = peak_rss_mb()
    figures = {
        "file_mb": size_mb,
        "records_in_file": records,
        "days": days,
        "measurements_stored": stored,
        "daily_rollups": daily,
        **results,
        "peak_rss_mb": peak,
        "rss_after_django_setup_mb": rss_after_setup,
        "rss_after_generation_mb": rss_after_generate,
        "target_peak_rss_mb": TARGET_MB,
        "memory_target_met": peak < TARGET_MB,
    }
    report = {
        "benchmark": "apple_health_import",
        "ran_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "postgresql": pg_version,
            "database": database,
        },
        "figures": figures,
        "notes": "Peak RSS is the whole process (Django, psycopg, the parser) from "
        "resource.getrusage(RUSAGE_SELF).ru_maxrss. Both imports run the Celery task's "
        "code path in-process; the second reads the same records from a ZIP member as a "
        "stream and adds nothing.",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    return report


if __name__ == "__main__":
    main()
