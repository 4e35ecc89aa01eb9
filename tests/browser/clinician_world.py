"""A care team for the clinician's browser journey and the admin screenshots: Dr Smith and
three patients. Pia has two weeks of high blood pressure (and every other vital), a care
program and one open alert; Omar's pressure is in stage 1; Lea has sent nothing for days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.utils import timezone

from accounts import care
from accounts.models import User
from goals.care_programs.models import CareProgram, ProgramAdherence
from insights.models import HealthInsight
from metrics import services as metric_services
from tests.accounts.factories import ClinicianFactory, UserFactory

DAYS = 14


@dataclass
class ClinicianWorld:
    doctor: User
    pia: User
    omar: User
    lea: User
    alert: HealthInsight


def _sync(user: User, samples: list[dict], tag: str) -> None:
    device = metric_services.device_create(
        user=user, device_type="apple_watch", name=f"Watch {tag}", identifier=f"watch-{tag}"
    )
    metric_services.device_sync(
        user=user, device=device, samples=samples, idempotency_key=f"sync-{tag}"
    )


def _at(days_ago: int, hour: int) -> str:
    day = timezone.now().astimezone(UTC).date() - timedelta(days=days_ago)
    moment = min(
        datetime.combine(day, time(hour), tzinfo=UTC), timezone.now() - timedelta(minutes=5)
    )
    return moment.isoformat()


def _pressure(days_ago: int, systolic: float, diastolic: float, hour: int) -> list[dict]:
    return [
        {
            "metric_type": "blood_pressure_systolic",
            "value": systolic,
            "recorded_at": _at(days_ago, hour),
        },
        {
            "metric_type": "blood_pressure_diastolic",
            "value": diastolic,
            "recorded_at": _at(days_ago, hour),
        },
    ]


def build_clinician_world() -> ClinicianWorld:
    doctor = care.clinician_enable_admin(
        user=ClinicianFactory(username="drsmith", first_name="John", last_name="Smith")
    )
    colleague = care.clinician_enable_admin(
        user=ClinicianFactory(username="drjones", first_name="Ada", last_name="Jones")
    )
    pia = UserFactory(username="pia", first_name="Pia", last_name="Moreau")
    omar = UserFactory(username="omar", first_name="Omar", last_name="Haddad")
    lea = UserFactory(username="lea", first_name="Lea", last_name="Brandt")
    for patient in (pia, omar, lea):
        care.care_team_add(clinician=doctor, patient=patient)
    care.care_team_add(clinician=colleague, patient=pia)

    samples: list[dict] = []
    for n in range(DAYS):
        samples += _pressure(n, 146 + (n * 7) % 11, 92 + (n * 3) % 6, 7)
        samples += _pressure(n, 158 + (n * 5) % 9, 97 + (n * 2) % 5, 19)
        samples += [
            {"metric_type": "weight", "value": 84.6 - n * 0.05, "recorded_at": _at(n, 7)},
            {
                "metric_type": "blood_glucose",
                "value": 110 + (n * 13) % 60,
                "recorded_at": _at(n, 8),
            },
            {"metric_type": "oxygen_saturation", "value": 95 + n % 3, "recorded_at": _at(n, 9)},
            {"metric_type": "heart_rate", "value": 72 + (n * 5) % 9, "recorded_at": _at(n, 10)},
            {"metric_type": "resting_heart_rate", "value": 64 + n % 4, "recorded_at": _at(n, 6)},
            {"metric_type": "sleep", "value": 380 + (n * 17) % 90, "recorded_at": _at(n, 1)},
            {"metric_type": "steps", "value": 3800 + (n * 731) % 3000, "recorded_at": _at(n, 12)},
        ]
    _sync(pia, samples, "pia")
    omar_samples: list[dict] = []
    for n in range(7):
        omar_samples += _pressure(n, 133 + n % 3, 82 + n % 2, 8)
    _sync(omar, omar_samples, "omar")
    _sync(
        lea,
        [{"metric_type": "steps", "value": 6100, "recorded_at": _at(5, 12)}],
        "lea",
    )
    from metrics.models import HealthMetric

    HealthMetric.objects.filter(user=lea).update(created_at=timezone.now() - timedelta(days=5))

    today = timezone.now().astimezone(UTC).date()
    program = CareProgram.objects.create(
        user=pia,
        title="Blood pressure programme",
        phase="Weeks 1-4",
        start_date=today - timedelta(days=20),
        end_date=today + timedelta(days=40),
        config={},
        created_by=doctor,
    )
    for n in range(1, 21):
        ProgramAdherence.objects.create(
            program=program, day=today - timedelta(days=n), score=35 + (n * 11) % 40
        )

    # The readings raised alerts on their own; keep one, as a clinician would find it.
    HealthInsight.objects.filter(kind=HealthInsight.Kind.ALERT).delete()
    alert = HealthInsight.objects.create(
        user=pia,
        kind=HealthInsight.Kind.ALERT,
        insight_type="high_blood_pressure",
        severity=HealthInsight.Severity.MEDIUM,
        title="High blood pressure",
        message=(
            "Your blood pressure over the last 7 days averaged systolic 153 mmHg and diastolic "
            "95 mmHg. Book a review with your clinician."
        ),
        related_metric="blood_pressure_systolic",
        dedupe_key="high_blood_pressure:journey",
        created_at=timezone.now() - timedelta(hours=30),
    )
    return ClinicianWorld(doctor=doctor, pia=pia, omar=omar, lea=lea, alert=alert)
