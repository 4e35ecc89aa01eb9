"""Demo measurements for the demo patient: devices and `days` days of realistic data.

Idempotent (does nothing when the patient already has demo measurements). Fast: rows are
written with bulk_create and the rollups rebuilt once at the end.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, timedelta

from django.db import transaction
from django.utils import timezone

from metrics import rollups, services
from metrics.models import Device, HealthMetric

DEMO_APP = "HealthTrack demo"


def _devices(user) -> dict[str, Device]:
    specs = {
        "watch": (Device.Type.APPLE_WATCH, "Dana's Apple Watch", "demo-watch-1"),
        "phone": (Device.Type.IPHONE, "Dana's iPhone", "demo-iphone-1"),
        "scale": (Device.Type.THIRD_PARTY_SCALE, "Bathroom scale", "demo-scale-1"),
        "cuff": (Device.Type.THIRD_PARTY_WEARABLE, "Blood-pressure cuff", "demo-cuff-1"),
    }
    devices = {}
    for key, (device_type, name, identifier) in specs.items():
        device = Device.objects.filter(user=user, identifier=identifier).first()
        if device is None:
            device = services.device_create(
                user=user, device_type=device_type, name=name, identifier=identifier
            )
        devices[key] = device
    return devices


@transaction.atomic
def seed(*, users: dict, days: int, rng: random.Random) -> None:
    patient = users["patient"]
    if HealthMetric.objects.filter(user=patient, source_app=DEMO_APP).exists():
        return
    devices = _devices(patient)
    now = timezone.now().astimezone(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    rows: list[HealthMetric] = []

    def add(code, value, unit, at, end=None, device=None, **extra):
        if at > now or (end is not None and end > now):
            return
        rows.append(
            HealthMetric(
                user=patient,
                metric_type=code,
                value=round(value, 2),
                unit=unit,
                recorded_at=at,
                end_at=end,
                device=devices[device] if device else None,
                source_app=DEMO_APP,
                external_id=f"{code}-{device or 'app'}-{int(at.timestamp())}",
                **extra,
            )
        )

    weight = 74.5
    resting = 66.0
    for offset in range(days, -1, -1):
        day = today - timedelta(days=offset)
        weekend = day.weekday() >= 5
        fitness = (days - offset) / max(days, 1)  # slowly improving over the period
        resting = max(56.0, resting - rng.uniform(0.0, 0.1) + rng.gauss(0, 0.4))
        add(
            "resting_heart_rate",
            resting + rng.gauss(0, 1.0),
            "bpm",
            day + timedelta(hours=7),
            device="watch",
        )
        # Heart rate every 10 minutes, higher during the day and during a workout.
        workout_hour = 18 if not weekend else 10
        for minute in range(0, 24 * 60, 10):
            at = day + timedelta(minutes=minute)
            hour = minute / 60
            base = resting + (14 if 7 <= hour < 22 else 0) + 4 * math.sin(hour / 24 * math.tau)
            if workout_hour <= hour < workout_hour + 0.75:
                base += 55
            add("heart_rate", base + rng.gauss(0, 3), "bpm", at, device="watch")
        # Steps, distance and energy per waking hour from the watch; the phone records
        # overlapping, slightly lower counts for the hours it is carried (de-duplicated).
        active = rng.uniform(0.45, 1.2)  # some lazy days, some busy ones
        for hour in range(7, 22):
            start = day + timedelta(hours=hour)
            end = start + timedelta(hours=1)
            steps = max(0.0, rng.gauss(350 + 200 * fitness, 150)) * active
            if hour == workout_hour and active > 0.6:
                steps += 1800 + rng.uniform(0, 1000)
            if weekend:
                steps *= 1.1
            add("steps", steps, "count", start, end, device="watch")
            add("distance", steps * 0.74, "m", start, end, device="watch")
            add(
                "active_energy",
                steps * 0.045 + rng.uniform(5, 15),
                "kcal",
                start,
                end,
                device="watch",
            )
            if rng.random() < 0.6:
                add("steps", steps * rng.uniform(0.7, 0.95), "count", start, end, device="phone")
        add(
            "exercise",
            rng.uniform(25, 60),
            "min",
            day + timedelta(hours=workout_hour),
            day + timedelta(hours=workout_hour, minutes=45),
            device="watch",
        )
        # Last night's sleep, from about 23:00 to about 06:45.
        asleep = day - timedelta(minutes=rng.randint(30, 90))
        awake = day + timedelta(hours=6, minutes=rng.randint(0, 90))
        slept = (awake - asleep).total_seconds() / 60 - rng.uniform(15, 45)
        add("sleep", slept, "min", asleep, awake, device="watch")
        add("oxygen_saturation", rng.uniform(95, 99), "%", day + timedelta(hours=3), device="watch")
        add(
            "respiratory_rate",
            rng.uniform(12, 16),
            "breaths/min",
            day + timedelta(hours=3),
            device="watch",
        )
        if offset % 2 == 0:
            weight += rng.gauss(-0.03, 0.25)
            at = day + timedelta(hours=7, minutes=10)
            add("weight", weight, "kg", at, device="scale")
            add("body_fat", 27.0 - 2 * fitness + rng.gauss(0, 0.4), "%", at, device="scale")
        sys_bp = rng.gauss(124 - 4 * fitness, 6)
        at = day + timedelta(hours=8)
        add("blood_pressure_systolic", sys_bp, "mmHg", at, device="cuff")
        add("blood_pressure_diastolic", sys_bp * 0.65 + rng.gauss(0, 3), "mmHg", at, device="cuff")
        if offset % 3 == 0:
            add("blood_glucose", rng.gauss(96, 9), "mg/dL", day + timedelta(hours=7, minutes=30))
        if offset % 7 == 0:
            add("body_temperature", rng.gauss(36.7, 0.2), "°C", day + timedelta(hours=7, minutes=5))

    HealthMetric.objects.bulk_create(rows, batch_size=2000)
    rollups.recompute_all(user_id=patient.pk)
    transaction.on_commit(lambda: services.invalidate_summary_cache(patient.pk))
