"""manage.py run_lifecycle [--archive] [--delete]: the nightly jobs, now."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from healthtrack.lifecycle import retention


class Command(BaseCommand):
    help = (
        "Run the nightly lifecycle jobs now: archive raw samples past the hot window, then "
        "apply every 'delete after' of DATA_LIFECYCLE. Each run is a RetentionJob row."
    )

    def add_arguments(self, parser):
        parser.add_argument("--archive", action="store_true", help="Only the archive.")
        parser.add_argument("--delete", action="store_true", help="Only the deletions.")

    def handle(self, *args, archive: bool, delete: bool, **options):
        jobs = []
        if archive or not delete:
            jobs.append(retention.run_archive())
        if delete or not archive:
            jobs += retention.apply_retention()
        for job in jobs:
            self.stdout.write(
                f"{job.get_kind_display()}: {job.status}, {job.rows_archived} archived, "
                f"{job.rows_deleted} deleted, {job.bytes_written} bytes, "
                f"{len(job.errors)} error(s)"
            )
