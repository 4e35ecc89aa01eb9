"""Import an Apple Health export (export.zip or export.xml) for a user, with a progress bar."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from healthtrack.portability import services
from healthtrack.portability.importing import ImportReport
from healthtrack.portability.models import ImportJob

BAR_WIDTH = 30


def progress_line(report: ImportReport, started: float) -> str:
    total = max(report.total, report.processed, 1)
    share = min(report.processed / total, 1.0)
    filled = int(share * BAR_WIDTH)
    elapsed = time.monotonic() - started
    return (
        f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:6.1%} "
        f"{report.processed:,}/{report.total:,} records, {report.error_count:,} errors, "
        f"{elapsed:,.0f} s"
    )


class Command(BaseCommand):
    help = "Import an Apple Health export (export.zip or export.xml) into a user's data."

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path to export.zip or export.xml")
        parser.add_argument("--user", required=True, help="The user's e-mail address")

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        email = options["user"].strip().lower()
        user = get_user_model().objects.filter(email=email, deleted_at__isnull=True).first()
        if user is None:
            raise CommandError("No active user with that e-mail address.")
        job = ImportJob.objects.create(
            user=user,
            kind=ImportJob.Kind.APPLE_HEALTH,
            original_name=path.name,
            size=path.stat().st_size,
        )
        started = time.monotonic()
        interactive = self.stdout.isatty() if hasattr(self.stdout, "isatty") else False

        def show(report: ImportReport) -> None:
            line = progress_line(report, started)
            self.stdout.write(line if interactive else line.lstrip("\r") + "\n", ending="")
            self.stdout.flush()

        with path.open("rb") as fileobj:
            job = services.import_job_execute(job=job, fileobj=fileobj, on_progress=show)
        self.stdout.write("")
        summary = job.summary
        self.stdout.write(
            f"Import {job.pk} {job.status}: {summary['created']:,} created, "
            f"{summary['updated']:,} updated, {summary['duplicates']:,} already stored, "
            f"{job.error_count:,} errors."
        )
        if summary["unknown_types"]:
            skipped = sum(summary["unknown_types"].values())
            kinds = len(summary["unknown_types"])
            self.stdout.write(f"Skipped {skipped:,} records of {kinds} unsupported types.")
        for error in job.errors[:20]:
            self.stdout.write(f"  line {error['line']}: {error['field']}: {error['message']}")
        if job.status == ImportJob.Status.FAILED:
            sys.exit(1)
