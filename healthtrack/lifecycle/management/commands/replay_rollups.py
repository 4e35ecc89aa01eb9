"""manage.py replay_rollups --user U|--all --from D --to D"""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from healthtrack.lifecycle import replay
from healthtrack.lifecycle.management.commands.restore_archive import user_id_from


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = (
        "Recompute hourly and daily rollups of a date range (each owner's local days) from the "
        "raw samples, "
        "in chunks queued on the maintenance queue, rate-limited; progress in the admin "
        "(Data lifecycle > Retention jobs). Archived months are left alone."
    )

    def add_arguments(self, parser):
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--user", help="User id or username.")
        who.add_argument("--all", action="store_true", help="Every user.")
        parser.add_argument("--from", dest="first", required=True, help="First day, YYYY-MM-DD.")
        parser.add_argument("--to", dest="last", required=True, help="Last day, YYYY-MM-DD.")

    def handle(self, *args, user: str | None, all: bool, first: str, last: str, **options):
        user_id = None if all else user_id_from(user)
        try:
            job = replay.replay_start(user_id=user_id, first=_day(first), last=_day(last))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        job.refresh_from_db()
        self.stdout.write(
            f"Replay job {job.pk}: {job.chunks_total} chunk(s) queued, {job.chunks_done} done."
        )
