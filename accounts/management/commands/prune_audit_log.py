"""Delete audit rows (auditlog LogEntry, AccessLog) older than AUDIT_RETENTION_DAYS."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from accounts.audit import audit_prune


class Command(BaseCommand):
    help = (
        "Delete change-log (auditlog) and access-log rows older than the retention period "
        "(AUDIT_RETENTION_DAYS, default 7 years). The only way audit rows are deleted."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )
        parser.add_argument(
            "--days", type=int, default=None, help="Override AUDIT_RETENTION_DAYS for this run."
        )

    def handle(self, *args, dry_run: bool, days: int | None, **options):
        if days is not None and days < 1:
            self.stderr.write("--days must be at least 1.")
            raise SystemExit(2)
        result = audit_prune(days=days, dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(
            f"{verb} {result.log_entries} change-log and {result.access_logs} access-log "
            f"rows older than {result.cutoff:%Y-%m-%d %H:%M} UTC."
        )
