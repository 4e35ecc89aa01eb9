"""The clinician's triage list (healthtrack/triage.py), the admin index of an admin
clinician: ranked by rules, each reason a plain phrase, filters, one query plan."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import care
from goals.care_programs.models import CareProgram, ProgramAdherence
from healthtrack import triage
from insights.models import HealthInsight
from metrics.models import DailyRollup, HealthMetric
from tests.accounts.factories import PASSWORD, ClinicianFactory, UserFactory
from tests.goals.factories import measure
from tests.insights.factories import AlertFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def doctor(db):
    return care.clinician_enable_admin(user=ClinicianFactory(username="drsmith"))


def today():
    return timezone.now().astimezone(UTC).date()


def patient_of(doctor, **kwargs):
    patient = UserFactory(**kwargs)
    care.care_team_add(clinician=doctor, patient=patient)
    return patient


def bp_days(patient, systolic: float, diastolic: float, days: int = 5) -> None:
    for n in range(days):
        day = today() - timedelta(days=n)
        measure(patient, "blood_pressure_systolic", systolic, day)
        measure(patient, "blood_pressure_diastolic", diastolic, day)


def reasons_of(rows, patient) -> list[str]:
    return next(r for r in rows if r.patient.pk == patient.pk).reasons


def texts(rows, patient) -> list[str]:
    return [r.text for r in reasons_of(rows, patient)]


def test_blood_pressure_has_two_tiers_with_the_average_in_words(doctor):
    stage2 = patient_of(doctor, first_name="Sam")
    stage1 = patient_of(doctor, first_name="Una")
    normal = patient_of(doctor, first_name="Val")
    bp_days(stage2, 152, 94)
    bp_days(stage1, 134, 82)
    bp_days(normal, 118, 76)
    rows = triage.triage_rows(doctor)
    assert "14-day average blood pressure 152/94 mmHg (at or above 140/90)" in texts(rows, stage2)
    assert "14-day average blood pressure 134/82 mmHg (at or above 130/80)" in texts(rows, stage1)
    assert not [r for r in reasons_of(rows, normal) if r.group == "blood_pressure"]
    order = [r.patient.pk for r in rows]
    assert order.index(stage2.pk) < order.index(stage1.pk) < order.index(normal.pk)


def test_too_few_bp_readings_say_nothing(doctor):
    patient = patient_of(doctor)
    bp_days(patient, 170, 100, days=2)
    assert not [r for r in reasons_of(triage.triage_rows(doctor), patient) if r.group != "no_data"]


def test_glucose_time_in_range_and_readings_below_54(doctor):
    patient = patient_of(doctor)
    for n, value in enumerate([60, 50, 200, 220, 110, 120]):
        measure(patient, "blood_glucose", value, today() - timedelta(days=n))
    found = texts(triage.triage_rows(doctor), patient)
    assert "1 glucose reading below 54 mg/dL in 14 days" in found
    assert "Glucose in range (70–180 mg/dL) 33 % of 6 readings over 14 days" in found


def test_weight_change_over_2_kg_in_7_days(doctor):
    patient = patient_of(doctor)
    measure(patient, "weight", 80.0, today() - timedelta(days=6))
    measure(patient, "weight", 82.6, today())
    assert "Weight up 2.6 kg in 6 days" in texts(triage.triage_rows(doctor), patient)


def test_resting_heart_rate_rising(doctor):
    patient = patient_of(doctor)
    for n in range(10):
        measure(patient, "resting_heart_rate", 60 + (9 - n), today() - timedelta(days=n))
    assert "Resting heart rate rising 1.0 bpm a day over 30 days" in texts(
        triage.triage_rows(doctor), patient
    )


def test_low_program_adherence_over_7_days(doctor):
    patient = patient_of(doctor)
    program = CareProgram.objects.create(
        user=patient,
        title="Cardiac rehab",
        start_date=today() - timedelta(days=20),
        end_date=today() + timedelta(days=20),
        config={},
    )
    for n in range(1, 8):
        ProgramAdherence.objects.create(program=program, day=today() - timedelta(days=n), score=30)
    ProgramAdherence.objects.create(program=program, day=today(), score=0)  # partial: left out
    assert "Cardiac rehab: adherence 30 out of 100 over the last 7 days" in texts(
        triage.triage_rows(doctor), patient
    )


def test_no_data_for_48_hours(doctor):
    silent = patient_of(doctor)
    never = patient_of(doctor)
    fresh = patient_of(doctor)
    measure(silent, "steps", 5000, today() - timedelta(days=5))
    HealthMetric.objects.filter(user=silent).update(
        created_at=timezone.now() - timedelta(days=3, hours=2)
    )
    measure(fresh, "steps", 5000, today())
    rows = triage.triage_rows(doctor)
    assert "No data for 3 days" in texts(rows, silent)
    assert "No data yet" in texts(rows, never)
    assert not reasons_of(rows, fresh)


def test_open_alerts_rank_by_severity_and_overdue_ones_are_flagged(doctor, settings):
    settings.ALERT_ACK_OVERDUE_HOURS = 24
    high = patient_of(doctor, first_name="Hal")
    medium = patient_of(doctor, first_name="Mia")
    AlertFactory(user=high, created_at=timezone.now() - timedelta(hours=30))
    AlertFactory(user=medium, severity="medium", insight_type="high_blood_pressure")
    rows = triage.triage_rows(doctor)
    assert rows[0].patient == high and rows[1].patient == medium
    assert "1 open alert: Blood pressure crisis" in texts(rows, high)
    assert "1 alert unacknowledged over 24 h" in texts(rows, high)
    assert rows[0].alerts[0].overdue and not rows[1].alerts[0].overdue
    assert "High blood pressure (7-day average)" in texts(rows, medium)[0]


def test_handled_alerts_leave_the_list_and_expired_snoozes_come_back(doctor):
    patient = patient_of(doctor)
    AlertFactory(user=patient, alert_status=HealthInsight.AlertStatus.ACKNOWLEDGED)
    AlertFactory(user=patient, alert_status=HealthInsight.AlertStatus.RESOLVED)
    snoozed = AlertFactory(
        user=patient,
        alert_status=HealthInsight.AlertStatus.SNOOZED,
        snoozed_until=timezone.now() + timedelta(hours=2),
    )
    assert triage.triage_rows(doctor)[0].alerts == []
    later = timezone.now() + timedelta(hours=3)
    assert [a.pk for a in triage.triage_rows(doctor, now=later)[0].alerts] == [snoozed.pk]


def test_only_the_clinicians_own_care_team_is_listed(doctor):
    mine = patient_of(doctor)
    other_doctor = care.clinician_enable_admin(user=ClinicianFactory())
    theirs = UserFactory()
    care.care_team_add(clinician=other_doctor, patient=theirs)
    assert [r.patient for r in triage.triage_rows(doctor)] == [mine]


def test_filters_by_reason_and_program(doctor):
    flagged = patient_of(doctor)
    on_program = patient_of(doctor)
    bp_days(flagged, 150, 95)
    measure(on_program, "steps", 4000, today())
    CareProgram.objects.create(
        user=on_program,
        title="Walking",
        start_date=today(),
        end_date=today() + timedelta(days=9),
        config={},
    )
    assert [r.patient for r in triage.triage_rows(doctor, reason="blood_pressure")] == [flagged]
    assert [r.patient for r in triage.triage_rows(doctor, program="Walking")] == [on_program]
    assert [r.patient for r in triage.triage_rows(doctor, program=triage.NO_PROGRAM)] == [flagged]
    assert triage.program_choices(doctor) == ["Walking"]


def _bulk_patients(doctor, count: int) -> None:
    """`count` patients with data for every rule (rows written directly: fast at 200)."""
    now = timezone.now()
    day = today()
    patients = UserFactory.create_batch(count)
    for patient in patients:
        care.care_team_add(clinician=doctor, patient=patient)
    rollups, metrics, alerts, adherence = [], [], [], []
    for patient in patients:
        for n in range(8):
            d = day - timedelta(days=n)
            for code, value in (
                ("blood_pressure_systolic", 150),
                ("blood_pressure_diastolic", 95),
                ("resting_heart_rate", 60 + 8 - n),
                ("weight", 80 + (8 - n) * 0.5),
            ):
                rollups.append(
                    DailyRollup(
                        user=patient,
                        metric_type=code,
                        day=d,
                        value=value,
                        min_value=value,
                        max_value=value,
                        count=1,
                    )
                )
            metrics.append(
                HealthMetric(
                    user=patient,
                    metric_type="blood_glucose",
                    value=50 if n == 0 else 200,
                    unit="mg/dL",
                    recorded_at=datetime.combine(d, time(8), tzinfo=UTC),
                )
            )
            # Blood pressure is averaged from the readings (plausible pairs only).
            metrics += [
                HealthMetric(
                    user=patient,
                    metric_type=code,
                    value=value,
                    unit="mmHg",
                    recorded_at=datetime.combine(d, time(7), tzinfo=UTC),
                )
                for code, value in (
                    ("blood_pressure_systolic", 150),
                    ("blood_pressure_diastolic", 95),
                )
            ]
        alerts.append(
            HealthInsight(
                user=patient,
                kind=HealthInsight.Kind.ALERT,
                insight_type="blood_pressure_crisis",
                severity="high",
                title="Blood pressure crisis",
                dedupe_key=f"k{patient.pk}",
                created_at=now - timedelta(hours=30),
            )
        )
        program = CareProgram.objects.create(
            user=patient,
            title=f"Program {patient.pk % 3}",
            start_date=day - timedelta(days=10),
            end_date=day + timedelta(days=10),
            config={},
        )
        adherence += [
            ProgramAdherence(program=program, day=day - timedelta(days=n), score=20)
            for n in range(1, 8)
        ]
    DailyRollup.objects.bulk_create(rollups)
    HealthMetric.objects.bulk_create(metrics)
    HealthInsight.objects.bulk_create(alerts)
    ProgramAdherence.objects.bulk_create(adherence)


def _queries_for_the_index(client, doctor) -> tuple[int, str]:
    client.force_login(doctor)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/")
    assert response.status_code == 200
    return len(queries.captured_queries), response.content.decode()


def test_the_list_is_one_query_plan_at_5_and_at_200_patients(client, doctor):
    _bulk_patients(doctor, 5)
    few, html = _queries_for_the_index(client, doctor)
    assert html.count('class="triage-row triage-flagged"') == 5
    rows = triage.triage_rows(doctor)
    assert {r.group for r in rows[0].reasons} >= {
        "alerts",
        "overdue",
        "blood_pressure",
        "glucose",
        "weight",
        "resting_heart_rate",
        "adherence",
    }
    _bulk_patients(doctor, 195)
    many, html = _queries_for_the_index(client, doctor)
    assert html.count('class="triage-row triage-flagged"') == 200
    assert many == few


def test_the_admin_index_of_a_clinician_is_the_triage_list(client, doctor):
    patient = patient_of(doctor, first_name="Bea", last_name="Pressure")
    bp_days(patient, 150, 95)
    client.force_login(doctor)
    html = client.get("/admin/").content.decode()
    assert "Triage: who needs you today" in html
    assert "Bea Pressure" in html and "14-day average blood pressure 150/95 mmHg" in html
    assert f'href="/admin/patients/{patient.pk}/"' in html


def test_superusers_keep_the_usual_admin_index(client):
    root = UserFactory(is_staff=True, is_superuser=True, role="admin")
    client.force_login(root)
    html = client.get("/admin/").content.decode()
    assert "Triage" not in html and "Site administration" in html


def test_a_clinician_signing_in_on_the_site_lands_on_the_triage_list(client, doctor):
    response = client.post("/accounts/login/", {"username": doctor.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_a_patient_signing_in_on_the_site_lands_on_the_dashboard(client):
    patient = UserFactory()
    response = client.post("/accounts/login/", {"username": patient.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/dashboard/"


def test_an_alert_handled_from_the_list_leaves_it_and_the_clinician_stays_there(client, doctor):
    patient = patient_of(doctor)
    alert = AlertFactory(user=patient)
    client.force_login(doctor)
    assert f'action="/admin/alerts/{alert.pk}/"' in client.get("/admin/").content.decode()
    response = client.post(
        f"/admin/alerts/{alert.pk}/",
        {"action": "acknowledge", "note": "Seen on the list.", "next": "/admin/?reason=alerts"},
    )
    assert response["Location"] == "/admin/?reason=alerts"
    assert triage.triage_rows(doctor, reason="alerts") == []


def test_a_swapped_pair_stored_before_the_rule_never_flags_the_patient(doctor):
    """Issue 16: 80/120 (fields swapped) showed as a blood-pressure emergency on the
    clinician's list too. Pairs stored before the rule (rollups and all) are left out of the
    list's averages; the patient's plausible readings still count."""
    from metrics.rollups import recompute_all
    from tests.metrics.factories import HealthMetricFactory

    swapped = patient_of(doctor, first_name="Wes")
    for n in range(5):
        at = datetime.combine(today() - timedelta(days=n), time(8), tzinfo=UTC)
        for code, value in (("blood_pressure_systolic", 80), ("blood_pressure_diastolic", 150)):
            HealthMetricFactory(user=swapped, metric_type=code, value=value, recorded_at=at)
    recompute_all(user_id=swapped.pk)
    assert DailyRollup.objects.filter(user=swapped, metric_type="blood_pressure_diastolic")
    rows = triage.triage_rows(doctor)
    assert not [r for r in reasons_of(rows, swapped) if r.group == "blood_pressure"]
    assert not any("150" in text for text in texts(rows, swapped))

    bp_days(swapped, 152, 94)  # later, plausible readings: those do count
    assert "14-day average blood pressure 152/94 mmHg (at or above 140/90)" in texts(
        triage.triage_rows(doctor), swapped
    )


def test_each_patients_window_ends_at_their_own_today(doctor):
    # At 21:00 UTC it is already tomorrow in Kiritimati (UTC+14): the UTC date is a finished
    # day there and counts; their own today is partial and is left out.
    patient = patient_of(doctor, time_zone="Pacific/Kiritimati")
    their_today = today() + timedelta(days=1)
    program = CareProgram.objects.create(
        user=patient,
        title="Cardiac rehab",
        start_date=today() - timedelta(days=20),
        end_date=today() + timedelta(days=20),
        config={},
    )
    ProgramAdherence.objects.create(program=program, day=today(), score=100)  # finished there
    for n in range(2, 8):
        ProgramAdherence.objects.create(
            program=program, day=their_today - timedelta(days=n), score=30
        )
    ProgramAdherence.objects.create(program=program, day=their_today, score=0)  # partial
    # (100 + 6 x 30) / 7 = 40; counted in UTC days it would be 30.
    assert "Cardiac rehab: adherence 40 out of 100 over the last 7 days" in texts(
        triage.triage_rows(doctor), patient
    )
