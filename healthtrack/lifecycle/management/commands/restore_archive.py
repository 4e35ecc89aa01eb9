"""manage.py restore_archive --user U --from 2025-01 --to 2025-06"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from healthtrack.lifecycle import archive, services


class Command(BaseCommand):
    help = (
        "Bring a user's archived months back into the hot table, rollups recomputed "
        "(idempotent: restoring twice adds nothing). Months are UTC calendar months."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="User id or username.")
        parser.add_argument("--from", dest="first", required=True, help="First month, YYYY-MM.")
        parser.add_argument("--to", dest="last", required=True, help="Last month, YYYY-MM.")

    def handle(self, *args, user: str, first: str, last: str, **options):
        user_id = user_id_from(user)
        try:
            job = services.archive_restore(
                user_id=user_id, first=archive.parse_month(first), last=archive.parse_month(last)
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        except (archive.ArchiveVerificationError, OSError) as exc:
            raise CommandError(
                f"Restore stopped ({type(exc).__name__}); see the failed retention job in the "
                "admin. Months restored before it stay restored; run again once fixed."
            ) from None
        self.stdout.write(
            f"Restored {job.rows_restored} row(s) for user {user_id} ({first} to {last}); "
            f"job {job.pk} {job.status}."
        )
        if job.errors:
            raise CommandError(f"{len(job.errors)} error(s): see retention job {job.pk}.")


def user_id_from(text: str) -> int:
    users = get_user_model()._base_manager
    found = users.filter(username=text).values_list("pk", flat=True).first()
    if found is None and text.isdigit():
        found = users.filter(pk=int(text)).values_list("pk", flat=True).first()
    if found is None:
        raise CommandError(f"No user {text!r} (give an id or a username).")
    return found
