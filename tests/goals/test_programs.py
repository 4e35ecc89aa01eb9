from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from accounts.models import FamilyMembership
from goals.care_programs import programs
from goals.care_programs.models import CareProgram, ProgramAdherence, ProgramLog, ProgramLogDay
from healthtrack.core import days as calendar
from metrics import services as metric_services
from tests.accounts.factories import UserFactory, client_for
from tests.accounts.family_factories import make_dependent
from tests.goals.factories import at, days_ago, log_food, measure
from tests.healthtrack.concurrency import together

FULL = {
    "nutrition": {"calories": {"min": 1600, "max": 2000}, "protein_g": {"min": 90}},
    "activity": {"steps": {"min": 8000}, "exercise_minutes": {"min": 30}},
    "strength": {"sessions_per_week": 3},
    "sleep": {"minutes": {"min": 420}},
}
URL = "/api/v1/programs"


def strength(user, day, minutes=45):
    return metric_services.metric_create(
        user=user,
        metric_type="exercise",
        value=minutes,
        recorded_at=at(day, 18),
        source_app="tests",
        metadata={"activity": "strength"},
    )


def score(program, day):
    row = ProgramAdherence.objects.filter(program=program, day=day).first()
    return None if row is None else row.score


# --- configuration ---------------------------------------------------------------------------


def test_config_schema_accepts_every_dimension():
    assert programs.clean_program_config(FULL)["strength"] == {"sessions_per_week": 3}


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"diet": {"calories": {"min": 1}}},
        {"nutrition": {"carbs": {"min": 1}}},
        {"nutrition": {"calories": {"min": 2000, "max": 1000}}},
        {"nutrition": {"calories": {"min": -5}}},
        {"nutrition": {"calories": {"min": "lots"}}},
        {"activity": {"steps": 8000}},
        {"strength": {"sessions_per_week": 0}},
        {"sleep": {"minutes": {"least": 400}}},
        ["steps"],
    ],
)
def test_config_schema_refuses_bad_targets(config):
    with pytest.raises(ValidationError) as err:
        programs.clean_program_config(config)
    assert "config" in err.value.message_dict


# --- worked examples -------------------------------------------------------------------------


@pytest.mark.django_db
def test_all_targets_met_is_100(user):
    start = days_ago(10)
    program = programs.program_create(
        user=user, created_by=user, title="90 days", config=FULL, start_date=start
    )
    day = days_ago(3)
    for d in (days_ago(7), days_ago(5), day):
        strength(user, d)  # 3 sessions in the week ending `day`; 45 min exercise that day
    measure(user, "steps", 9000, day)
    measure(user, "sleep", 450, day, hour=6)
    log_food(user, day, calories=1800, protein_g=100)
    programs.program_adherence_recompute(program_id=program.pk)
    assert score(program, day) == 100
    row = ProgramAdherence.objects.get(program=program, day=day)
    assert row.breakdown["steps"] == {"min": 8000.0, "value": 9000.0, "score": 100.0}
    assert row.breakdown["strength_sessions"]["value"] == 3


@pytest.mark.django_db
def test_partial_day_scores_the_targets_with_data(user):
    config = {
        "nutrition": {"calories": {"min": 1600, "max": 2000}},
        "activity": {"steps": {"min": 8000}},
        "sleep": {"minutes": {"min": 420}},
    }
    program = programs.program_create(
        user=user, created_by=user, title="p", config=config, start_date=days_ago(5)
    )
    day = days_ago(2)
    measure(user, "steps", 4000, day)  # 50
    log_food(user, day, calories=2200)  # 200 over a 2000 max: 90
    programs.program_adherence_recompute(program_id=program.pk)
    assert score(program, day) == 70  # mean of 50 and 90; sleep has no data: left out
    breakdown = ProgramAdherence.objects.get(program=program, day=day).breakdown
    assert breakdown["minutes"]["score"] is None
    assert breakdown["calories"]["score"] == 90.0


@pytest.mark.django_db
def test_a_day_without_data_has_no_score_not_zero(user):
    program = programs.program_create(
        user=user, created_by=user, title="p", config=FULL, start_date=days_ago(5)
    )
    measure(user, "steps", 8000, days_ago(4))
    programs.program_adherence_recompute(program_id=program.pk)
    assert score(program, days_ago(3)) is None
    assert not ProgramAdherence.objects.filter(program=program, day=days_ago(3)).exists()
    days = {
        d["date"]: d["score"] for d in programs.adherence_between(program, days_ago(5), days_ago(0))
    }
    assert days[days_ago(3)] is None
    assert days[days_ago(4)] is not None


@pytest.mark.django_db
def test_strength_is_pro_rated_to_the_days_since_the_start(user):
    config = {"strength": {"sessions_per_week": 7}}
    start = days_ago(1)
    program = programs.program_create(
        user=user, created_by=user, title="p", config=config, start_date=start
    )
    strength(user, start)
    programs.program_adherence_recompute(program_id=program.pk)
    assert score(program, start) == 100  # 1 session of 1 expected on the first day


@pytest.mark.django_db
def test_data_changes_update_the_score_through_the_signals(
    user, django_capture_on_commit_callbacks
):
    program = programs.program_create(
        user=user,
        created_by=user,
        title="p",
        config={"activity": {"steps": {"min": 8000}}, "nutrition": {"calories": {"min": 2000}}},
        start_date=days_ago(3),
    )
    day = days_ago(1)
    with django_capture_on_commit_callbacks(execute=True):
        metric = measure(user, "steps", 4000, day)
    assert score(program, day) == 50
    with django_capture_on_commit_callbacks(execute=True):
        log_food(user, day, calories=2000)
    assert score(program, day) == 75
    with django_capture_on_commit_callbacks(execute=True):
        metric_services.metric_delete(metric=metric)
    assert score(program, day) == 100
    # Running a recompute again changes nothing (idempotent).
    programs.program_adherence_recompute(program_id=program.pk)
    assert ProgramAdherence.objects.filter(program=program).count() == 1


@pytest.mark.django_db
def test_program_defaults_to_90_days_from_today(user):
    program = programs.program_create(user=user, created_by=user, title="p", config=FULL)
    assert program.start_date == calendar.today()
    assert (program.end_date - program.start_date).days + 1 == 90
    assert program.status == CareProgram.Status.ACTIVE


# --- API and access --------------------------------------------------------------------------


@pytest.mark.django_db
def test_patient_creates_and_reads_their_program(auth_client, user):
    response = auth_client.post(URL, {"title": "Mine", "config": FULL}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["user"] == user.pk and body["created_by"] == user.pk
    assert [p["id"] for p in auth_client.get(URL).json()] == [body["id"]]
    assert auth_client.get(f"{URL}/{body['id']}").status_code == 200
    bad = auth_client.post(URL, {"title": "x", "config": {"diet": {}}}, format="json")
    assert bad.status_code == 400 and "config" in bad.json()


@pytest.mark.django_db
def test_clinician_creates_a_program_for_a_patient_in_care(clinician_client, care_team, user):
    response = clinician_client.post(
        f"{URL}?member={user.pk}", {"title": "Cardiac rehab", "config": FULL}, format="json"
    )
    assert response.status_code == 201, response.json()
    program = CareProgram.objects.get(pk=response.json()["id"])
    assert program.user == user and program.created_by == care_team.clinician
    # The patient reads it; the clinician may change its phase.
    assert client_for(user).get(URL).json()[0]["id"] == program.pk
    patched = clinician_client.patch(f"{URL}/{program.pk}", {"phase": "week 2"}, format="json")
    assert patched.status_code == 200 and patched.json()["phase"] == "week 2"


@pytest.mark.django_db
def test_strangers_get_404_on_programs(user, other_client, clinician_client):
    program = programs.program_create(user=user, created_by=user, title="p", config=FULL)
    for client in (other_client, clinician_client):  # the clinician has no care team here
        assert client.get(f"{URL}/{program.pk}").status_code == 404
        assert client.get(f"{URL}/{program.pk}/adherence").status_code == 404
        assert client.get(f"{URL}/{program.pk}/history").status_code == 404
        assert client.patch(f"{URL}/{program.pk}", {"phase": "x"}, format="json").status_code == 404
        assert client.delete(f"{URL}/{program.pk}").status_code == 404
        assert client.get(f"{URL}?member={user.pk}").status_code == 404
        response = client.post(
            f"{URL}?member={user.pk}", {"title": "x", "config": FULL}, format="json"
        )
        assert response.status_code == 404
    assert CareProgram.objects.count() == 1


@pytest.mark.django_db
def test_care_team_clinician_reads_but_read_only_family_cannot_change(user, other_user):
    program = programs.program_create(user=user, created_by=user, title="p", config=FULL)
    FamilyMembership.objects.create(manager=other_user, member=user, role="read_only")
    reader = client_for(other_user)
    assert reader.get(f"{URL}/{program.pk}").status_code == 200
    assert reader.patch(f"{URL}/{program.pk}", {"phase": "x"}, format="json").status_code == 404
    assert reader.delete(f"{URL}/{program.pk}").status_code == 404


@pytest.mark.django_db
def test_family_manager_runs_a_program_for_a_dependent(auth_client, user):
    child = make_dependent(user)
    response = auth_client.post(
        f"{URL}?member={child.pk}",
        {
            "title": "Kid",
            "config": {"activity": {"steps": {"min": 10000}}},
            "start_date": str(days_ago(2)),
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    pk = response.json()["id"]
    measure(child, "steps", 5000, days_ago(1))
    programs.program_adherence_recompute(program_id=pk)
    days = auth_client.get(f"{URL}/{pk}/adherence?start={days_ago(2)}&end={days_ago(1)}").json()
    assert days == [
        {"date": str(days_ago(2)), "score": None, "breakdown": None},
        {
            "date": str(days_ago(1)),
            "score": 50,
            "breakdown": {"steps": {"min": 10000.0, "value": 5000.0, "score": 50.0}},
        },
    ]


@pytest.mark.django_db
def test_history_lists_the_logs_that_counted_with_a_cursor(auth_client, user):
    program = programs.program_create(
        user=user, created_by=user, title="p", config=FULL, start_date=days_ago(5)
    )
    measure(user, "steps", 1000, days_ago(9))  # before the program: not counted
    measure(user, "heart_rate", 70, days_ago(1))  # not a program target: not counted
    expected = [
        measure(user, "steps", 9000, days_ago(4)).pk,
        log_food(user, days_ago(3), calories=500).pk,
        measure(user, "sleep", 400, days_ago(2), hour=6).pk,
        strength(user, days_ago(1)).pk,
    ]
    seen, cursor = [], None
    for _ in range(4):
        url = f"{URL}/{program.pk}/history?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = auth_client.get(url).json()
        seen += [item["id"] for item in page["data"]]
        cursor = page["pagination"]["next_cursor"]
        if not page["pagination"]["has_more"]:
            break
    assert seen == list(reversed(expected))
    assert auth_client.get(f"{URL}/{program.pk}/history?cursor=zzz").status_code == 400


@pytest.mark.django_db
def test_deleting_the_user_cascades_to_programs_and_scores(user):
    program = programs.program_create(
        user=user, created_by=user, title="p", config=FULL, start_date=days_ago(3)
    )
    measure(user, "steps", 9000, days_ago(1))
    programs.program_adherence_recompute(program_id=program.pk)
    user.delete()
    assert not CareProgram.objects.exists() and not ProgramAdherence.objects.exists()


# --- concurrency -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
@pytest.mark.parametrize("attempt", range(3))
def test_two_people_logging_for_one_member_at_once_give_the_right_score(attempt):
    manager, partner = UserFactory(), UserFactory()
    child = make_dependent(manager)
    FamilyMembership.objects.create(manager=partner, member=child, role="manager")
    config = {"activity": {"steps": {"min": 10000}}, "nutrition": {"calories": {"min": 2000}}}
    program = programs.program_create(
        user=child, created_by=manager, title="p", config=config, start_date=days_ago(3)
    )
    day = days_ago(1)
    errors = together(
        lambda: measure(child, "steps", 5000, day, hour=8),
        lambda: measure(child, "steps", 5000, day, hour=17),
        lambda: log_food(child, day, calories=1000),
        lambda: log_food(child, day, calories=1000),
    )
    assert errors == []
    assert score(program, day) == 100  # 10,000 steps and 2,000 kcal: both only together
    assert ProgramAdherence.objects.filter(program=program).count() == 1


def test_care_program_models_stay_in_the_goals_app_with_their_tables():
    tables = {
        m._meta.app_label + ":" + m._meta.db_table
        for m in (CareProgram, ProgramAdherence, ProgramLog, ProgramLogDay)
    }
    assert tables == {
        "goals:goals_careprogram",
        "goals:goals_programadherence",
        "goals:goals_programlog",
        "goals:goals_programlogday",
    }
