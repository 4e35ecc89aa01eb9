"""Delete an account: deactivate it now (tokens revoked) and purge its data after the grace
period, or, with --now, at once (an erasure request)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.services import user_soft_delete
from healthtrack.portability import services


class Command(BaseCommand):
    help = (
        "Delete an account. Without --now it is deactivated and purged by the daily job after "
        "ACCOUNT_PURGE_AFTER_DAYS; with --now every row of its data is deleted at once."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="The account's e-mail address")
        parser.add_argument("--now", action="store_true", help="Purge at once")

    def handle(self, *args, **options):
        email = options["email"].strip().lower()
        user = get_user_model().objects.filter(email=email).first()
        if user is None:
            raise CommandError("No account with that e-mail address.")
        if options["now"]:
            result = services.account_delete_and_purge(user=user)
            rows = sum(result.deleted.values())
            self.stdout.write(
                f"Purged account {result.user_id}: {rows:,} rows deleted, "
                f"{result.scrubbed_log_entries:,} audit entries cleared of values."
            )
            return
        if user.deleted_at is None:
            user_soft_delete(user=user)
        when = services.purge_date(user)
        self.stdout.write(
            f"Account {user.pk} is deactivated; its data will be purged after "
            f"{when:%Y-%m-%d %H:%M} UTC (or run again with --now)."
        )
