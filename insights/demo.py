"""Demo data: the demo patient's recommendations and alerts, computed from what the other
apps' seeders wrote (insights comes last in INSTALLED_APPS, so they have run). Idempotent: a
second run on the same data writes nothing (see `insights_replace_generated`; alerts are
de-duplicated)."""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from insights import cache, services


def seed(*, users: dict, days: int, rng: random.Random) -> None:
    patient = users["patient"]
    now = timezone.now()
    # The demo measurements are bulk-loaded (no signals): look at the last week's readings.
    services.alerts_check(user_id=patient.pk, start=now - timedelta(days=7), end=now)
    services.recommendations_compute(user=patient)
    cache.invalidate(patient.pk)
