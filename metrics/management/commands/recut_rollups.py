"""manage.py recut_rollups --user U | --zoned"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from metrics.tasks import recut_rollups


class Command(BaseCommand):
    help = (
        "Cut people's daily, weekly and monthly rollups again in their current time zone "
        "(`metrics.recut_rollups`, one task per person, idempotent). A change of zone through "
        "the API does this by itself; run it with --zoned once after upgrading from UTC-only "
        "days, for everyone whose zone is not UTC."
    )

    def add_arguments(self, parser):
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--user", type=int, help="User id.")
        who.add_argument("--zoned", action="store_true", help="Everyone whose zone is not UTC.")

    def handle(self, *args, user: int | None, zoned: bool, **options):
        users = get_user_model().objects.filter(deleted_at__isnull=True)
        if zoned:
            ids = list(users.exclude(time_zone="UTC").values_list("pk", flat=True))
        elif users.filter(pk=user).exists():
            ids = [user]
        else:
            raise CommandError(f"No user {user}.")
        for user_id in ids:
            recut_rollups.delay(user_id)
        self.stdout.write(f"Recut queued for {len(ids)} person(s).")
