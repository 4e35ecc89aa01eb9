"""Care-program daily logs: POST /api/v1/logs, verify / reject, the day's points, history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from accounts.models import FamilyMembership
from goals.care_programs import program_logs, programs
from goals.care_programs.models import ProgramLog, ProgramLogDay
from metrics.models import Device
from tests.accounts.factories import UserFactory, client_for
from tests.accounts.family_factories import make_dependent
from tests.goals.factories import at, days_ago, log_food, measure, today
from tests.healthtrack.concurrency import together

URL = "/api/v1/logs"
CONFIG = {
    "activity": {"steps": {"min": 8000}, "exercise_minutes": {"min": 30}},
    "nutrition": {"calories": {"max": 2000}},
}


@pytest.fixture
def program(user):
    return programs.program_create(
        user=user, created_by=user, title="p", config=CONFIG, start_date=days_ago(5)
    )


def body(program, log_type="WORKOUT", payload=None, when=None, **extra):
    return {
        "program_id": program.pk,
        "log_type": log_type,
        "payload": {"duration_minutes": 40} if payload is None else payload,
        "timestamp": (when or at(days_ago(1), 9)).isoformat(),
        **extra,
    }


def day_points(program, day):
    row = ProgramLogDay.objects.filter(program=program, day=day).first()
    return 0 if row is None else row.points


# --- writing -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_self_reported_workout_is_pending_and_scores_its_target(auth_client, program):
    response = auth_client.post(URL, body(program), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "PENDING"
    assert data["adherence_impact"] == {"points": 5, "reason": "workout target met"}
    assert set(data) == {"id", "status", "adherence_impact"}
    assert day_points(program, days_ago(1)) == 5


@pytest.mark.django_db
def test_points_are_signed_and_follow_the_program(auth_client, program):
    cases = [
        ("WORKOUT", {"duration_minutes": 10}, 2),
        ("NUTRITION", {"calories": 2500}, -5),
        ("NUTRITION", {"description": "soup"}, 2),
        ("MEDICATION", {"name": "metformin", "taken": False}, -5),
        ("MEDICATION", {"name": "metformin", "taken": True}, 5),
        ("SYMPTOM", {"symptom": "headache", "severity": 4}, 0),
        ("VITALS", {"metric_type": "heart_rate", "value": 64}, 1),
    ]
    for hour, (log_type, payload, points) in enumerate(cases):
        when = at(days_ago(2), hour + 1)
        response = auth_client.post(URL, body(program, log_type, payload, when), format="json")
        assert response.status_code == 201, (log_type, response.json())
        assert response.json()["adherence_impact"]["points"] == points, log_type
    assert day_points(program, days_ago(2)) == sum(p for *_, p in cases)
    assert day_points(program, days_ago(2)) == program_logs.points_total(program.pk, days_ago(2))


@pytest.mark.django_db
def test_log_points_are_added_to_the_days_adherence(auth_client, user, program):
    measure(user, "steps", 4000, days_ago(1))  # steps 50
    programs.program_adherence_recompute(program_id=program.pk)
    before = programs.adherence_between(program, days_ago(1), days_ago(1))[0]["score"]
    auth_client.post(URL, body(program), format="json")
    day = programs.adherence_between(program, days_ago(1), days_ago(1))[0]
    assert day["score"] == before + 5
    assert day["breakdown"]["logs"] == {"points": 5}


@pytest.mark.django_db
def test_data_from_a_device_is_verified(auth_client, user, program):
    device = Device.objects.create(
        user=user, device_type="apple_watch", name="w", identifier="1", priority=100
    )
    response = auth_client.post(URL, body(program, device_id=device.pk), format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "VERIFIED"


@pytest.mark.django_db
def test_a_device_of_someone_else_is_refused(auth_client, other_user, program):
    device = Device.objects.create(
        user=other_user, device_type="apple_watch", name="w", identifier="1", priority=100
    )
    response = auth_client.post(URL, body(program, device_id=device.pk), format="json")
    assert response.status_code == 400
    assert "device_id" in response.json()


@pytest.mark.django_db
def test_a_care_team_clinician_logs_verified_data(clinician, care_team, program):
    response = client_for(clinician).post(URL, body(program), format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "VERIFIED"


@pytest.mark.django_db
def test_a_reading_already_stored_is_linked_not_counted_twice(auth_client, user, program):
    when = at(days_ago(1), 9)
    reading = measure(user, "heart_rate", 64, days_ago(1), hour=9)
    response = auth_client.post(
        URL,
        body(program, "VITALS", {"metric_type": "heart_rate", "value": 64}, when),
        format="json",
    )
    assert response.json()["adherence_impact"] == {
        "points": 0,
        "reason": f"already counted as reading #{reading.pk}",
    }
    assert ProgramLog.objects.get().linked_metric == reading
    assert day_points(program, days_ago(1)) == 0


@pytest.mark.django_db
def test_a_meal_already_in_the_diary_is_linked_not_counted_twice(auth_client, user, program):
    meal = log_food(user, days_ago(1), calories=600)
    payload = {"calories": 600, "description": "lunch"}
    response = auth_client.post(
        URL, body(program, "NUTRITION", payload, meal.logged_at), format="json"
    )
    assert response.json()["adherence_impact"]["points"] == 0
    assert ProgramLog.objects.get().linked_meal == meal


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("log_type", "payload", "field"),
    [
        ("WORKOUT", {}, "payload.duration_minutes"),
        ("WORKOUT", {"sets": 3}, "payload.duration_minutes"),
        ("WORKOUT", {"duration_minutes": 5000}, "payload.duration_minutes"),
        ("WORKOUT", {"duration_minutes": "long"}, "payload.duration_minutes"),
        ("NUTRITION", {"meal_type": "lunch"}, "payload.calories"),
        ("NUTRITION", {"calories": -1}, "payload.calories"),
        ("MEDICATION", {"name": "x"}, "payload.taken"),
        ("SYMPTOM", {"symptom": "pain", "severity": 11}, "payload.severity"),
        ("VITALS", {"metric_type": "steps", "value": 5}, "payload.metric_type"),
        ("VITALS", {"metric_type": "heart_rate", "value": 900}, "payload.value"),
        ("VITALS", {"metric_type": "heart_rate", "value": 60, "x": 1}, "payload"),
        ("WORKOUT", ["duration"], "payload"),
        ("SLEEP", {}, "log_type"),
    ],
)
def test_bad_payloads_are_refused_naming_the_field(auth_client, program, log_type, payload, field):
    response = auth_client.post(URL, body(program, log_type, payload), format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not ProgramLog.objects.exists() and not ProgramLogDay.objects.exists()


@pytest.mark.django_db
def test_a_time_outside_the_program_or_in_the_future_is_refused(auth_client, program):
    for when in (at(days_ago(30)), at(today() + timedelta(days=2))):
        response = auth_client.post(URL, body(program, when=when), format="json")
        assert response.status_code == 400
        assert "timestamp" in response.json()


# --- who may do what ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_outsider_gets_404_for_log_verify_and_reject(other_client, auth_client, program):
    assert other_client.post(URL, body(program), format="json").status_code == 404
    pk = auth_client.post(URL, body(program), format="json").json()["id"]
    for action in ("verify", "reject"):
        response = other_client.post(f"{URL}/{pk}/{action}", {"note": "x"}, format="json")
        assert response.status_code == 404
    assert ProgramLog.objects.get().status == "PENDING"


@pytest.mark.django_db
def test_a_read_only_member_reads_the_logs_but_cannot_write_or_verify(
    auth_client, user, other_user, program
):
    FamilyMembership.objects.create(manager=other_user, member=user, role="read_only")
    reader = client_for(other_user)
    pk = auth_client.post(URL, body(program), format="json").json()["id"]
    assert reader.post(URL, body(program), format="json").status_code == 404
    assert reader.post(f"{URL}/{pk}/verify", {}, format="json").status_code == 404
    history = reader.get(f"/api/v1/programs/{program.pk}/history").json()
    assert [i["id"] for i in history["data"] if i["kind"] == "log"] == [pk]


@pytest.mark.django_db
def test_the_member_cannot_verify_their_own_log(auth_client, program):
    pk = auth_client.post(URL, body(program), format="json").json()["id"]
    assert auth_client.post(f"{URL}/{pk}/verify", {}, format="json").status_code == 404


@pytest.mark.django_db
def test_a_family_manager_logs_for_a_member_and_verifies(user):
    child = make_dependent(user)
    program = programs.program_create(
        user=child, created_by=user, title="p", config=CONFIG, start_date=days_ago(3)
    )
    manager = client_for(user)
    pk = manager.post(URL, body(program), format="json").json()["id"]
    response = manager.post(f"{URL}/{pk}/verify", {"note": "saw it"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "VERIFIED"
    log = ProgramLog.objects.get()
    assert (log.reviewed_by, log.review_note) == (user, "saw it")


@pytest.mark.django_db
def test_a_care_team_clinician_rejects_and_the_points_leave_the_day(
    auth_client, clinician, care_team, program
):
    pk = auth_client.post(URL, body(program), format="json").json()["id"]
    doctor = client_for(clinician)
    assert doctor.post(f"{URL}/{pk}/reject", {}, format="json").status_code == 400  # a note
    response = doctor.post(f"{URL}/{pk}/reject", {"note": "no such session"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "REJECTED"
    assert day_points(program, days_ago(1)) == 0
    again = doctor.post(f"{URL}/{pk}/verify", {}, format="json")
    assert again.status_code == 400 and "status" in again.json()


@pytest.mark.django_db
def test_a_clinician_outside_the_care_team_gets_404(auth_client, clinician, program):
    pk = auth_client.post(URL, body(program), format="json").json()["id"]
    doctor = client_for(clinician)
    assert doctor.post(f"{URL}/{pk}/verify", {}, format="json").status_code == 404
    assert doctor.post(URL, body(program), format="json").status_code == 404


@pytest.mark.django_db
def test_every_change_is_audited_without_the_payload_or_note(auth_client, user, other_user):
    child = make_dependent(user)
    program = programs.program_create(
        user=child, created_by=user, title="p", config=CONFIG, start_date=days_ago(3)
    )
    manager = client_for(user)
    payload = {"symptom": "secret-symptom", "severity": 3}
    pk = manager.post(URL, body(program, "SYMPTOM", payload), format="json").json()["id"]
    manager.post(f"{URL}/{pk}/verify", {"note": "secret-note"}, format="json")
    entries = LogEntry.objects.get_for_object(ProgramLog.objects.get(pk=pk))
    assert entries.count() == 2
    text = " ".join(str(e.changes) for e in entries)
    assert "status" in text
    assert "secret-symptom" not in text and "secret-note" not in text
    assert "payload_json" not in text and "review_note" not in text


# --- history -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_history_pages_through_logs_with_the_cursor(auth_client, user, program):
    measure(user, "steps", 9000, days_ago(1), hour=10)
    for hour in (8, 9, 11):
        auth_client.post(URL, body(program, when=at(days_ago(1), hour)), format="json")
    seen, cursor = [], None
    while True:
        url = f"/api/v1/programs/{program.pk}/history?limit=2"
        page = auth_client.get(url + (f"&cursor={cursor}" if cursor else "")).json()
        seen += [(item["kind"], item["at"]) for item in page["data"]]
        cursor = page["pagination"]["next_cursor"]
        if not page["pagination"]["has_more"]:
            break
    assert [kind for kind, _ in seen] == ["log", "measurement", "log", "log"]
    log_item = auth_client.get(f"/api/v1/programs/{program.pk}/history").json()["data"][0]
    assert log_item["status"] == "PENDING"
    assert log_item["adherence_impact"] == {"points": 5, "reason": "workout target met"}


# --- rate limit --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_logging_is_limited_per_user_with_retry_after(settings, auth_client, program):
    settings.RATELIMIT_ENABLE = True
    settings.PROGRAM_LOG_RATE = "3/min"
    cache.clear()
    codes = [
        auth_client.post(URL, body(program, when=at(days_ago(1), h)), format="json").status_code
        for h in range(4)
    ]
    assert codes == [201, 201, 201, 429]
    refused = auth_client.post(URL, body(program), format="json")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert ProgramLog.objects.count() == 3


# --- concurrency -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers")
@pytest.mark.parametrize("attempt", range(3))
def test_concurrent_logs_for_one_day_lose_no_points(attempt):
    manager, partner = UserFactory(), UserFactory()
    child = make_dependent(manager)
    FamilyMembership.objects.create(manager=partner, member=child, role="manager")
    program = programs.program_create(
        user=child, created_by=manager, title="p", config=CONFIG, start_date=days_ago(3)
    )
    day = days_ago(1)

    def log(author, hour, taken=True):
        return lambda: program_logs.program_log_create(
            program=program,
            author=author,
            log_type="MEDICATION",
            payload={"name": "m", "taken": taken},
            timestamp=at(day, hour),
        )

    errors = together(
        log(manager, 8), log(partner, 9), log(manager, 10, taken=False), log(partner, 11)
    )
    assert errors == []
    assert day_points(program, day) == 10 == program_logs.points_total(program.pk, day)
    assert ProgramLogDay.objects.filter(program=program).count() == 1


# --- pages and admin ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_family_manager_verifies_from_the_queue_page(client, user):
    child = make_dependent(user, first_name="Kim")
    program = programs.program_create(
        user=child, created_by=user, title="p", config=CONFIG, start_date=days_ago(3)
    )
    log = program_logs.program_log_create(
        program=program,
        author=user,
        log_type="SYMPTOM",
        payload={"symptom": "cough", "severity": 2},
        timestamp=at(days_ago(1)),
    )
    client.force_login(user)
    page = client.get("/programs/logs/queue/")
    assert page.status_code == 200
    assert "Kim" in page.content.decode() and "cough" in page.content.decode()
    review = f"/programs/logs/{log.pk}/review/"
    assert client.post(review, {"action": "reject"}).status_code == 400  # no note
    response = client.post(review, {"action": "verify", "note": "heard it"})
    assert response.status_code == 302
    log.refresh_from_db()
    assert (log.status, log.reviewed_by) == ("VERIFIED", user)
    assert "cough" not in client.get("/programs/logs/queue/").content.decode()


@pytest.mark.django_db
def test_the_queue_page_shows_no_one_elses_logs_and_review_is_404(client, other_user, program):
    log = program_logs.program_log_create(
        program=program,
        author=program.user,
        log_type="WORKOUT",
        payload={"duration_minutes": 40},
        timestamp=at(days_ago(1)),
    )
    client.force_login(other_user)
    assert "Workout" not in client.get("/programs/logs/queue/").content.decode()
    response = client.post(f"/programs/logs/{log.pk}/review/", {"action": "verify"})
    assert response.status_code == 404
    client.force_login(program.user)  # the member: not their own reviewer
    response = client.post(f"/programs/logs/{log.pk}/review/", {"action": "verify"})
    assert response.status_code == 404


@pytest.mark.django_db
def test_the_program_card_lists_the_latest_logs_with_their_status(page_client, user):
    program = programs.program_create(
        user=user, created_by=user, title="Rehab", config=CONFIG, start_date=days_ago(3)
    )
    program_logs.program_log_create(
        program=program,
        author=user,
        log_type="MEDICATION",
        payload={"name": "m", "taken": True},
        timestamp=at(days_ago(1)),
    )
    html = page_client.get("/dashboard/").content.decode()
    assert "Latest logs" in html
    assert "Medication: medication taken (+5)" in html and "Pending verification" in html


@pytest.mark.django_db
def test_the_clinician_admin_queue_verifies_only_care_team_patients(client, user, other_user):
    from accounts import care
    from tests.accounts.factories import ClinicianFactory

    doctor = care.clinician_enable_admin(user=ClinicianFactory())
    care.care_team_add(clinician=doctor, patient=user)
    logs = []
    for person in (user, other_user):
        program = programs.program_create(
            user=person, created_by=person, title="p", config=CONFIG, start_date=days_ago(3)
        )
        logs.append(
            program_logs.program_log_create(
                program=program,
                author=person,
                log_type="WORKOUT",
                payload={"duration_minutes": 40},
                timestamp=at(days_ago(1)),
            )
        )
    mine, theirs = logs
    client.force_login(doctor)
    listing = client.get("/admin/goals/programlog/?status__exact=PENDING")
    assert listing.status_code == 200
    assert [o.pk for o in listing.context["cl"].result_list] == [mine.pk]
    response = client.post(
        "/admin/goals/programlog/",
        {"action": "reject_logs", "_selected_action": [mine.pk, theirs.pk]},
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.status, mine.reviewed_by) == ("REJECTED", doctor)
    assert theirs.status == "PENDING"
    assert day_points(mine.program, days_ago(1)) == 0


@pytest.mark.django_db
def test_todays_score_of_the_program_includes_its_log_points(auth_client, user, program):
    program_logs.program_log_create(
        program=program,
        author=user,
        log_type="MEDICATION",
        payload={"name": "m", "taken": True},
        timestamp=timezone.now(),
    )
    assert auth_client.get(f"/api/v1/programs/{program.pk}").json()["today_score"] == 5


@pytest.mark.django_db
def test_the_queue_holds_managed_members_and_care_patients_not_read_only_ones(
    user, other_user, clinician, care_team, program
):
    log = program_logs.program_log_create(
        program=program,
        author=user,
        log_type="WORKOUT",
        payload={"duration_minutes": 40},
        timestamp=at(days_ago(1)),
    )
    FamilyMembership.objects.create(manager=other_user, member=user, role="read_only")
    assert list(program_logs.review_queue(clinician)) == [log]
    assert list(program_logs.review_queue(other_user)) == []
    assert list(program_logs.review_queue(user)) == []  # never one's own
    FamilyMembership.objects.filter(manager=other_user).update(role="manager")
    assert list(program_logs.review_queue(other_user)) == [log]
