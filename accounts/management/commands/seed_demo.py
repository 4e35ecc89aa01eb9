"""Create the demo users and their data, idempotently. Prints the demo logins."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.demo import DEMO_PASSWORD, DEMO_USERS, seed_demo
from accounts.models import User


class Command(BaseCommand):
    help = "Create demo users (patient, clinician, staff) with 90 days of realistic data."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when any user already exists."
        )

    def handle(self, *args, days: int, if_empty: bool, **options):
        if if_empty and User.objects.exists():
            self.stdout.write("Users exist already; demo data not loaded.")
            self._print_logins()
            return
        with transaction.atomic():
            users = seed_demo(days=days)
        self.stdout.write(self.style.SUCCESS(f"Demo data ready for {len(users)} users."))
        self._print_logins()

    def _print_logins(self) -> None:
        self.stdout.write("Demo logins (same password for all):")
        for role, fields in DEMO_USERS.items():
            self.stdout.write(f"  {role:<10} {fields['username']:<10} {fields['email']}")
        self.stdout.write(f"  password   {DEMO_PASSWORD}")
