"""A small world for role-by-role tests: a patient and a stranger with one row of every health
model each, and every kind of viewer (superuser, admin clinician with and without the patient
in care, plain staff, named-grant holder, link holder)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from auditlog.models import LogEntry
from django.contrib.auth.models import Group
from django.utils import timezone
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)
from django_otp.plugins.otp_totp.models import TOTPDevice
from oauth2_provider.models import Application
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import care, sharing
from accounts.models import AccessLog, CareTeam, ConnectedApp, ShareGrant, User
from goals.care_programs import program_logs
from goals.care_programs.models import CareProgram, ProgramAdherence, ProgramLog
from goals.models import HealthGoal
from healthtrack.lifecycle import archive
from healthtrack.lifecycle.models import ArchivedMonth, RetentionJob
from healthtrack.portability.models import ImportJob
from healthtrack.webhooks.models import WebhookDelivery, WebhookSubscription
from insights.models import HealthAlert, HealthInsight
from metrics import services as metric_services
from metrics.models import DailyRollup, Device, HealthMetric, HourlyRollup, IdempotencyRecord
from nutrition import services as nutrition_services
from nutrition.models import Food, NutritionLog, NutritionTargets
from tests.accounts.care_factories import AccessLogFactory, CareTeamFactory, ShareGrantFactory
from tests.accounts.factories import ClinicianFactory, UserFactory
from tests.accounts.oauth_helpers import public_app
from tests.goals.factories import HealthGoalFactory
from tests.insights.factories import AlertFactory, HealthInsightFactory

# Plaintext of encrypted fields: must never reach the change log.
SECRET_NOTE = "Secret-note-7Q4"
SECRET_DIARY = "Secret-diary-9K2"
SECRET_MESSAGE = "Secret-message-3X8"
SECRET_HISTORY = "Secret-history-5V1"
SECRET_GOAL = "Secret-goal-8M6"
SECRET_BIRTHDAY = date(1971, 7, 29)
SECRETS = [SECRET_NOTE, SECRET_DIARY, SECRET_MESSAGE, SECRET_HISTORY, SECRET_GOAL, "1971-07-29"]


def health_rows(person: User, *, tag: str, days_ago: int = 0) -> dict:
    """One row of every health model owned by `person`, written through the services where
    they exist (so the rollups and the change log are real), `days_ago` days back."""
    when = timezone.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    when -= timedelta(days=days_ago)
    device = metric_services.device_create(
        user=person, device_type="apple_watch", name=f"Watch {tag}", identifier=f"w-{tag}"
    )
    steps = metric_services.metric_create(
        user=person,
        metric_type="steps",
        value=4321,
        recorded_at=when - timedelta(hours=2),
        device=device,
        notes=SECRET_NOTE,
    )
    heart = metric_services.metric_create(
        user=person, metric_type="heart_rate", value=71, recorded_at=when - timedelta(hours=3)
    )
    metric_services.device_sync(
        user=person,
        device=device,
        samples=[
            {
                "metric_type": "resting_heart_rate",
                "value": 58,
                "recorded_at": (when - timedelta(hours=4)).isoformat(),
            }
        ],
        idempotency_key=f"sync-{tag}",
    )
    log = nutrition_services.nutrition_log_create(
        user=person,
        meal_type="lunch",
        logged_at=when - timedelta(hours=1),
        description=SECRET_DIARY,
        calories=640,
    )
    targets = nutrition_services.nutrition_targets_set(user=person, calories=2100)
    recommendation = HealthInsightFactory(user=person, rank=1, message=SECRET_MESSAGE)
    alert = AlertFactory(user=person, message=SECRET_MESSAGE)
    today = when.date()
    program = CareProgram.objects.create(
        user=person, title=f"Program {tag}", start_date=today, end_date=today + timedelta(days=90)
    )
    program_log = program_logs.program_log_create(
        program=program,
        author=person,
        log_type="MEDICATION",
        payload={"name": "metformin", "taken": True},
        timestamp=when,
    )
    return {
        Device: device,
        HealthMetric: steps,
        "heart_rate": heart,
        HourlyRollup: HourlyRollup.objects.get(
            user=person, metric_type="steps", period_start=steps.recorded_at
        ),
        DailyRollup: DailyRollup.objects.get(
            user=person, metric_type="steps", day=steps.recorded_at.date()
        ),
        IdempotencyRecord: IdempotencyRecord.objects.get(user=person, key=f"sync-{tag}"),
        NutritionLog: log,
        NutritionTargets: targets,
        HealthInsight: recommendation,
        HealthAlert: HealthAlert.objects.get(pk=alert.pk),
        HealthGoal: HealthGoalFactory(user=person, description=SECRET_GOAL),
        CareProgram: program,
        ProgramLog: program_log,
        ProgramAdherence: ProgramAdherence.objects.create(
            program=program, day=program.start_date, score=80, breakdown={}
        ),
        ImportJob: ImportJob.objects.create(user=person, kind="csv_metrics"),
        # A real archived month (file and record), so every door that reads archives (export,
        # erasure, restore) finds the file its record names.
        ArchivedMonth: _archived_month(person, month=1 + days_ago),
        ShareGrant: ShareGrantFactory(owner=person),
        AccessLog: AccessLogFactory(owner=person),
        User: person,
    }


def _archived_month(person: User, *, month: int) -> ArchivedMonth:
    HealthMetric.objects.create(
        user=person,
        metric_type="steps",
        value=1000,
        unit="count",
        recorded_at=datetime(2025, month, 15, 12, tzinfo=UTC),
    )
    archive.archive_user_month(user_id=person.pk, year=2025, month=month, data_type="steps")
    return ArchivedMonth.objects.get(user=person, year=2025, month=month, data_type="steps")


def infrastructure_rows(superuser: User, patient: User) -> dict:
    """A row of each registered model that is nobody's health data."""
    interval = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.MINUTES)
    RefreshToken.for_user(patient)
    outstanding = OutstandingToken.objects.filter(user=patient).first()
    return {
        Group: Group.objects.get_or_create(name="Nurses")[0],
        IntervalSchedule: interval,
        CrontabSchedule: CrontabSchedule.objects.create(minute="5"),
        SolarSchedule: SolarSchedule.objects.create(event="sunrise", latitude=0, longitude=0),
        ClockedSchedule: ClockedSchedule.objects.create(clocked_time=timezone.now()),
        PeriodicTask: PeriodicTask.objects.create(
            name="ping", task="healthtrack.ping", interval=interval
        ),
        OutstandingToken: outstanding,
        BlacklistedToken: BlacklistedToken.objects.create(token=outstanding),
        TOTPDevice: TOTPDevice.objects.create(user=superuser, name="phone", confirmed=True),
        Food: Food.objects.order_by("pk").first(),
        RetentionJob: RetentionJob.objects.create(kind=RetentionJob.Kind.ARCHIVE),
        Application: public_app(name="Registered app"),
        **webhook_rows(patient),
    }


def webhook_rows(patient: User) -> dict:
    """A webhook subscription of an app the patient connected, and one delivery."""
    connection = ConnectedApp.objects.create(
        application=public_app(name="Hooked app"),
        patient=patient,
        approved_by=patient,
        scope="patient/Observation.rs",
    )
    subscription = WebhookSubscription.objects.create(
        connected_app=connection,
        url="https://hooks.example.org/in",
        events=["observation.created"],
        secret="s3cret-for-tests",
    )
    delivery = WebhookDelivery.objects.create(
        subscription=subscription,
        event_type="observation.created",
        sequence=1,
        payload={"type": "observation.created"},
    )
    return {WebhookSubscription: subscription, WebhookDelivery: delivery}


@dataclass
class World:
    patient: User
    stranger: User
    superuser: User
    caring: User  # admin clinician with `patient` in care
    other_doctor: User  # admin clinician without `patient`
    staff: User  # staff, neither superuser nor clinician
    grant_holder: User  # clinician (not in care) with a named grant: steps, last 7 days
    grant: ShareGrant
    rows: dict = field(default_factory=dict)
    stranger_rows: dict = field(default_factory=dict)
    other_rows: dict = field(default_factory=dict)


def build_world() -> World:
    patient = UserFactory(
        medical_history=SECRET_HISTORY, date_of_birth=SECRET_BIRTHDAY, first_name="Pia"
    )
    stranger = UserFactory()
    superuser = UserFactory(role=User.Role.ADMIN, is_staff=True, is_superuser=True)
    caring = care.clinician_enable_admin(user=ClinicianFactory())
    other_doctor = care.clinician_enable_admin(user=ClinicianFactory())
    staff = UserFactory(role=User.Role.ADMIN, is_staff=True)
    grant_holder = ClinicianFactory()
    team = care.care_team_add(clinician=caring, patient=patient)
    CareTeamFactory(patient=stranger, clinician=other_doctor)
    rows = health_rows(patient, tag="p")
    rows[CareTeam] = team
    rows[LogEntry] = LogEntry.objects.get_for_object(patient).first()
    stranger_rows = health_rows(stranger, tag="s")
    stranger_rows[CareTeam] = CareTeam.objects.get(patient=stranger)
    today = timezone.now().astimezone(UTC).date()
    grant = sharing.share_grant_create(
        owner=patient,
        metric_types=["steps"],
        date_from=today - timedelta(days=7),
        date_to=today,
        clinician=grant_holder,
    ).grant
    return World(
        patient=patient,
        stranger=stranger,
        superuser=superuser,
        caring=caring,
        other_doctor=other_doctor,
        staff=staff,
        grant_holder=grant_holder,
        grant=grant,
        rows=rows,
        stranger_rows=stranger_rows,
        other_rows=infrastructure_rows(superuser, patient),
    )


def expire(grant: ShareGrant) -> None:
    ShareGrant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    grant.refresh_from_db()


def reads_of(world: World):
    """Reads of the patient's data logged since the world was built."""
    return AccessLog.objects.filter(owner_id=world.patient.pk).exclude(pk=world.rows[AccessLog].pk)
