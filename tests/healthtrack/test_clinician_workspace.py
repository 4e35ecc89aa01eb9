"""The clinician's workspace in the admin: alerts handled with a note (insights.handling and
the alert page), the patient page's vitals, adherence, nutrition and note box, a patient's
audit trail, and the admin login's rate limit."""

from __future__ import annotations

from datetime import UTC, date, timedelta

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts import care
from accounts.models import AccessLog
from goals.care_programs import program_logs
from goals.care_programs.models import CareProgram, ProgramAdherence
from healthtrack import patient_page
from healthtrack.core.charts import bp_band_svg
from insights import handling
from insights.models import AlertAction, HealthInsight
from metrics.models import HealthMetric
from tests.accounts.factories import PASSWORD, ClinicianFactory, UserFactory
from tests.goals.factories import measure
from tests.insights.factories import AlertFactory

pytestmark = pytest.mark.django_db

Status = HealthInsight.AlertStatus


@pytest.fixture
def doctor(db):
    return care.clinician_enable_admin(user=ClinicianFactory(username="drsmith"))


@pytest.fixture
def colleague(db):
    return care.clinician_enable_admin(user=ClinicianFactory(username="drjones"))


@pytest.fixture
def patient(doctor, colleague):
    person = UserFactory(first_name="Pia", last_name="Patient")
    care.care_team_add(clinician=doctor, patient=person)
    care.care_team_add(clinician=colleague, patient=person)
    return person


@pytest.fixture
def alert(patient):
    return AlertFactory(user=patient, title="Blood pressure in the crisis range")


def today() -> date:
    return timezone.now().astimezone(UTC).date()


# --- handling -------------------------------------------------------------------------------


def test_acknowledging_records_who_when_and_the_note(doctor, alert):
    action = handling.alert_handle(
        alert=alert, actor=doctor, action="acknowledge", note="Called her; re-measuring."
    )
    alert.refresh_from_db()
    assert alert.alert_status == Status.ACKNOWLEDGED
    assert alert.reviewed_by == doctor and alert.reviewed_at == action.at
    assert (action.actor, action.actor_label, action.note) == (
        doctor,
        "drsmith",
        "Called her; re-measuring.",
    )
    assert not HealthInsight.objects.needing_attention().filter(pk=alert.pk).exists()


def test_snooze_needs_a_future_time_and_ends_by_itself(doctor, alert):
    with pytest.raises(ValidationError) as error:
        handling.alert_handle(alert=alert, actor=doctor, action="snooze")
    assert "snooze_until" in error.value.message_dict
    until = timezone.now() + timedelta(hours=4)
    handling.alert_handle(alert=alert, actor=doctor, action="snooze", snooze_until=until)
    alert.refresh_from_db()
    assert alert.alert_status == Status.SNOOZED and alert.snoozed_until == until
    assert not HealthInsight.objects.needing_attention().filter(pk=alert.pk).exists()
    later = until + timedelta(minutes=1)
    assert HealthInsight.objects.needing_attention(later).filter(pk=alert.pk).exists()


def test_resolving_needs_a_note_and_closes_the_alert(doctor, alert):
    with pytest.raises(ValidationError) as error:
        handling.alert_handle(alert=alert, actor=doctor, action="resolve")
    assert "note" in error.value.message_dict
    handling.alert_handle(alert=alert, actor=doctor, action="resolve", note="Cuff was wrong.")
    alert.refresh_from_db()
    assert alert.alert_status == Status.RESOLVED
    with pytest.raises(ValidationError):
        handling.alert_handle(alert=alert, actor=doctor, action="acknowledge")


def test_escalation_goes_to_another_clinician_of_the_care_team_only(doctor, colleague, alert):
    outsider = care.clinician_enable_admin(user=ClinicianFactory())
    for target in (outsider, doctor, None):
        with pytest.raises(ValidationError):
            handling.alert_handle(
                alert=alert, actor=doctor, action="escalate", note="Please see", escalate_to=target
            )
    handling.alert_handle(
        alert=alert, actor=doctor, action="escalate", note="Cardiology", escalate_to=colleague
    )
    alert.refresh_from_db()
    assert alert.assigned_to == colleague and alert.alert_status == Status.OPEN
    assert AlertAction.objects.get(alert=alert).escalated_to == colleague


def test_a_clinician_outside_the_care_team_cannot_handle(alert):
    outsider = care.clinician_enable_admin(user=ClinicianFactory())
    with pytest.raises(PermissionDenied):
        handling.alert_handle(alert=alert, actor=outsider, action="acknowledge")
    assert not AlertAction.objects.exists()


def test_decisions_are_in_the_change_log_with_the_actor_and_without_the_note(client, doctor, alert):
    client.force_login(doctor)
    client.post(f"/admin/alerts/{alert.pk}/", {"action": "acknowledge", "note": "Secret-note-XYZ"})
    action = AlertAction.objects.get(alert=alert)
    entries = LogEntry.objects.get_for_object(action)
    assert entries.count() == 1 and entries.first().actor == doctor
    assert "Secret-note-XYZ" not in str(entries.first().changes)


def test_an_alert_is_overdue_only_while_waiting_past_the_setting(settings, doctor, patient):
    settings.ALERT_ACK_OVERDUE_HOURS = 12
    old = AlertFactory(user=patient, created_at=timezone.now() - timedelta(hours=13))
    young = AlertFactory(user=patient, created_at=timezone.now() - timedelta(hours=11))
    assert handling.is_overdue(old) and not handling.is_overdue(young)
    handling.alert_handle(alert=old, actor=doctor, action="acknowledge")
    old.refresh_from_db()
    assert not handling.is_overdue(old)


# --- the alert page -------------------------------------------------------------------------


def test_the_alert_page_handles_with_a_note_and_goes_back(client, doctor, patient, alert):
    client.force_login(doctor)
    page = client.get(f"/admin/alerts/{alert.pk}/")
    assert page.status_code == 200 and "Blood pressure crisis" in page.content.decode()
    back = f"/admin/patients/{patient.pk}/"
    response = client.post(
        f"/admin/alerts/{alert.pk}/",
        {"action": "acknowledge", "note": "Seen, calling today.", "next": back},
    )
    assert response.status_code == 302 and response["Location"] == back
    html = client.get(f"/admin/alerts/{alert.pk}/").content.decode()
    assert "Acknowledged</strong> by drsmith" in html and "Seen, calling today." in html


def test_the_alert_page_refuses_a_bad_decision_with_400_and_says_why(client, doctor, alert):
    client.force_login(doctor)
    response = client.post(f"/admin/alerts/{alert.pk}/", {"action": "resolve", "note": ""})
    assert response.status_code == 400 and "Write a note saying why." in response.content.decode()
    response = client.post(
        f"/admin/alerts/{alert.pk}/", {"action": "acknowledge", "next": "https://evil.example/"}
    )
    assert response["Location"] == f"/admin/alerts/{alert.pk}/"  # no open redirect


def test_the_alert_page_is_404_for_clinicians_without_the_patient(client, alert):
    outsider = care.clinician_enable_admin(user=ClinicianFactory())
    client.force_login(outsider)
    assert client.get(f"/admin/alerts/{alert.pk}/").status_code == 404
    assert client.post(f"/admin/alerts/{alert.pk}/", {"action": "acknowledge"}).status_code == 404
    assert not AlertAction.objects.exists()


# --- the patient page -----------------------------------------------------------------------


def test_the_patient_page_charts_every_vital_with_bp_as_a_band(client, doctor, patient):
    day = today()
    measure(patient, "blood_pressure_systolic", 150, day, hour=8)
    measure(patient, "blood_pressure_systolic", 160, day, hour=9)
    measure(patient, "blood_pressure_diastolic", 90, day, hour=8)
    measure(patient, "blood_pressure_diastolic", 98, day, hour=9)
    measure(patient, "weight", 81.4, day)
    measure(patient, "blood_glucose", 130, day)
    measure(patient, "oxygen_saturation", 96, day)
    measure(patient, "sleep", 450, day)
    measure(patient, "steps", 4322, day)
    # A fractional count stored before steps had to be whole (an old import) still reads whole.
    HealthMetric.objects.filter(user=patient, metric_type="steps").update(value=4321.6)
    client.force_login(doctor)
    html = client.get(f"/admin/patients/{patient.pk}/?days=14").content.decode()
    assert "Last 14 days" in html
    assert "chart-type-bp-band" in html and 'class="chart-band chart-band-systolic"' in html
    assert f"{day.day} {day:%b}: systolic 150 to 160 mmHg, mean 155 mmHg" in html
    for title in ("Weight", "Blood glucose", "Oxygen saturation", "Sleep per night", "Steps"):
        assert title in html
    assert "4,322 steps" in html and "4,321.6" not in html  # whole steps
    # 90 days: a band per week (13), not 90 thin ones (issue 16's barcode).
    html = client.get(f"/admin/patients/{patient.pk}/?days=90").content.decode()
    assert html.count('class="chart-band chart-band-systolic"') == 1  # one week with data
    assert "Blood pressure" in html and "Latest weekly mean: 155/94 mmHg" in html
    assert "7 h 30 min" in html  # sleep for people


def test_the_patient_page_shows_adherence_today_and_over_7_and_30_days(client, doctor, patient):
    program = CareProgram.objects.create(
        user=patient,
        title="Cardiac rehab",
        start_date=today() - timedelta(days=40),
        end_date=today() + timedelta(days=10),
        config={},
    )
    ProgramAdherence.objects.create(program=program, day=today(), score=40)
    for n, score in ((1, 60), (2, 80), (20, 10)):
        ProgramAdherence.objects.create(
            program=program, day=today() - timedelta(days=n), score=score
        )
    client.force_login(doctor)
    rows = client.get(f"/admin/patients/{patient.pk}/").context["adherence"]
    assert [(r["today"], r["week"], r["month"]) for r in rows] == [(40, 70.0, 50.0)]


def test_a_note_from_the_patient_page_reaches_the_patients_insights(client, doctor, patient):
    client.force_login(doctor)
    response = client.post(
        f"/admin/patients/{patient.pk}/notes/",
        {"title": "Your blood pressure", "message": "Please measure twice a day this week."},
    )
    assert response.status_code == 302
    note = HealthInsight.objects.get(user=patient, kind=HealthInsight.Kind.CLINICIAN_NOTE)
    assert note.author == doctor and note.message == "Please measure twice a day this week."
    assert (
        "Please measure twice a day"
        in client.get(f"/admin/patients/{patient.pk}/").content.decode()
    )


def test_superusers_read_the_page_but_write_no_note(client, patient):
    root = UserFactory(is_staff=True, is_superuser=True, role="admin")
    client.force_login(root)
    assert (
        'class="patient-note-form"'
        not in client.get(f"/admin/patients/{patient.pk}/").content.decode()
    )
    response = client.post(f"/admin/patients/{patient.pk}/notes/", {"title": "x", "message": "y"})
    assert response.status_code == 403
    assert not HealthInsight.objects.filter(kind=HealthInsight.Kind.CLINICIAN_NOTE).exists()


# --- the audit trail ------------------------------------------------------------------------


def test_a_care_team_clinician_sees_the_audit_trail_and_the_read_is_logged(
    client, doctor, colleague, patient, alert
):
    handling.alert_handle(alert=alert, actor=colleague, action="acknowledge", note="On it")
    client.force_login(doctor)
    client.get(f"/admin/patients/{patient.pk}/")  # a read, logged
    response = client.get(f"/admin/patients/{patient.pk}/audit/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "drjones" in html and "On it" in html  # the decision
    assert f"GET /admin/patients/{patient.pk}/" in html  # the read
    changes = html.split('id="changes-h"')[1]
    assert "Care team" in changes and "Create" in changes  # the change history
    reads = AccessLog.objects.filter(owner=patient, actor=doctor)
    assert reads.filter(endpoint=f"GET /admin/patients/{patient.pk}/audit/").exists()


def test_the_audit_trail_is_404_for_other_clinicians_and_plain_staff(client, patient):
    outsider = care.clinician_enable_admin(user=ClinicianFactory())
    staff = UserFactory(is_staff=True, role="admin")
    for who in (outsider, staff):
        client.force_login(who)
        assert client.get(f"/admin/patients/{patient.pk}/audit/").status_code == 404
    assert not AccessLog.objects.filter(owner=patient).exists()


# --- the chart ------------------------------------------------------------------------------


def test_bp_band_has_a_band_per_day_mean_lines_and_a_table():
    d1, d2, d3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
    chart = bp_band_svg(
        [
            (d1, 130, 150, 80, 95, 140, 88),
            (d2, None, None, None, None, None, None),
            (d3, 120, 120, 70, 75, 120, 72.4),
        ]
    )
    html = str(chart)
    assert html.count('class="chart-band chart-band-systolic"') == 2
    assert html.count('class="chart-band chart-band-diastolic"') == 2
    assert "<td>130–150</td><td>80–95</td><td>140/88</td>" in html
    assert "<td>120</td><td>70–75</td><td>120/72</td>" in html  # one reading: one figure
    assert "Highest systolic: 150 mmHg (1 Mar)." in chart.summary
    assert 'style="' not in html and "<script" not in html


def test_bp_band_without_readings_is_an_empty_state():
    chart = bp_band_svg([(date(2026, 3, 1), None, None, None, None, None, None)])
    assert chart.is_empty and "No blood pressure readings" in str(chart)


# --- the admin login's rate limit -----------------------------------------------------------


def test_the_admin_login_is_rate_limited_per_ip(client, settings):
    settings.RATELIMIT_ENABLE = True
    settings.AUTH_RATE_LIMIT = "3/m"
    codes = [
        client.post("/admin/login/", {"username": f"nobody{i}", "password": "wrong"}).status_code
        for i in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]
    response = client.post("/admin/login/", {"username": "x", "password": "y"})
    assert response["Retry-After"] == "60" and "Too many attempts" in response.content.decode()


def test_the_admin_login_over_the_limit_checks_no_password(client, settings, doctor):
    settings.RATELIMIT_ENABLE = True
    settings.AUTH_RATE_LIMIT = "1/m"
    client.post("/admin/login/", {"username": "someone", "password": "wrong"})
    response = client.post("/admin/login/", {"username": doctor.username, "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


# --- production ----------------------------------------------------------------------------


def test_production_refuses_to_start_without_the_admin_second_factor(tmp_path):
    from tests.healthtrack.test_settings import KEYS, PRODUCTION, run_python

    env = {**PRODUCTION, **KEYS, "ADMIN_REQUIRE_2FA": "false"}
    result = run_python("import django; django.setup()", tmp_path, **env)
    assert result.returncode != 0
    assert "the admin needs its second factor" in result.stderr
    fine = run_python("import django; django.setup()", tmp_path, **PRODUCTION, **KEYS)
    assert fine.returncode == 0, fine.stderr


def test_in_production_a_password_alone_does_not_open_the_admin(client, settings, doctor):
    settings.ADMIN_REQUIRE_2FA = True  # production's value (the settings refuse anything else)
    response = client.post("/admin/login/", {"username": doctor.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/admin/2fa/enrol/"
    assert client.get("/admin/").status_code == 302
    assert client.get("/admin/patients/1/").status_code == 302


# --- labels in the admin --------------------------------------------------------------------


def test_the_alerts_list_shows_labels_not_codes(client, doctor, alert):
    handling.alert_handle(
        alert=alert,
        actor=doctor,
        action="snooze",
        snooze_until=timezone.now() + timedelta(hours=1),
    )
    client.force_login(doctor)
    html = client.get("/admin/insights/healthalert/").content.decode()
    assert "Blood pressure crisis" in html and "Snoozed" in html
    assert ">blood_pressure_crisis<" not in html and ">snoozed<" not in html
    change = client.get(f"/admin/insights/healthalert/{alert.pk}/change/").content.decode()
    assert "handling trail" in change.lower() and "drsmith" in change


# --- care-program logs waiting for verification --------------------------------------------


def _program_with_logs(patient):
    program = CareProgram.objects.create(
        user=patient,
        title="Cardiac rehab",
        start_date=today() - timedelta(days=5),
        end_date=today() + timedelta(days=30),
        config={},
    )
    when = timezone.now() - timedelta(hours=1)
    pending = program_logs.program_log_create(
        program=program,
        author=patient,
        log_type="WORKOUT",
        payload={"duration_minutes": 30},
        timestamp=when,
    )
    reviewed = program_logs.program_log_create(
        program=program,
        author=patient,
        log_type="MEDICATION",
        payload={"name": "ramipril", "taken": True},
        timestamp=when - timedelta(hours=1),
    )
    return pending, reviewed


def test_the_patient_page_lists_the_logs_waiting_for_the_clinician(client, doctor, patient):
    pending, reviewed = _program_with_logs(patient)
    program_logs.program_log_verify(log=reviewed, reviewer=doctor, note="Seen")
    client.force_login(doctor)
    html = client.get(f"/admin/patients/{patient.pk}/").content.decode()
    assert "Logs to verify (1)" in html
    section = html.split("Logs to verify (1)")[1].split("</section>")[0]
    assert "Workout</strong> · Cardiac rehab" in section, section
    assert "Medication" not in section
    queue = client.get(f"/admin/goals/programlog/?status__exact=PENDING&q={patient.username}")
    assert queue.status_code == 200
    assert list(queue.context["cl"].result_list) == [pending]


def test_no_log_queue_without_a_viewer_who_may_verify(patient):
    _program_with_logs(patient)
    # Without a care-team clinician viewing, nothing is queued (a patient never verifies).
    assert patient_page._pending_logs(patient, patient) == []
    assert patient_page._pending_logs(patient, None) == []
