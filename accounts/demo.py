"""Demo users and data. The people are made here; each app adds its own demo data.

An app that owns health data registers `seed(*, users, days, rng)` from its own `demo.py` in its
`AppConfig.ready()` (healthtrack.core.hooks); the seeders run in registration
(INSTALLED_APPS) order and must be idempotent.
"""

from __future__ import annotations

import random
from datetime import date

from accounts.models import User
from healthtrack.core import hooks

DEMO_PASSWORD = "Demo-pass-2026!"

DEMO_USERS = {
    "patient": {
        "username": "demo",
        "email": "demo@healthtrack.local",
        "first_name": "Dana",
        "last_name": "Demo",
        "role": User.Role.PATIENT,
        "sex": User.Sex.FEMALE,
        "height_cm": 168.0,
        "date_of_birth": date(1984, 5, 17),
    },
    "clinician": {
        "username": "drsmith",
        "email": "dr.smith@healthtrack.local",
        "first_name": "Sam",
        "last_name": "Smith",
        "role": User.Role.CLINICIAN,
        "is_staff": True,
    },
    "staff": {
        "username": "admin",
        "email": "admin@healthtrack.local",
        "first_name": "Ada",
        "last_name": "Admin",
        "role": User.Role.ADMIN,
        "is_staff": True,
        "is_superuser": True,
    },
}


def seed_demo(*, days: int = 90) -> dict[str, User]:
    users = {}
    for role, fields in DEMO_USERS.items():
        user, created = User.objects.get_or_create(username=fields["username"], defaults=fields)
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        users[role] = user
    _seed_care_team(users)
    rng = random.Random(2026)
    for seed in hooks.demo_seeders():
        seed(users=users, days=days, rng=rng)
    return users


def _seed_care_team(users: dict[str, User]) -> None:
    """The demo clinician works in the admin and cares for the demo patient (idempotent)."""
    from accounts.care import care_team_add, clinician_enable_admin

    clinician_enable_admin(user=users["clinician"])
    care_team_add(
        clinician=users["clinician"],
        patient=users["patient"],
        created_by=users["staff"],
    )
