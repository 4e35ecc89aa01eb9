from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from healthtrack.core import days as calendar
from healthtrack.core.models import OutboxTask
from nutrition import services
from nutrition.models import Food, NutritionLog
from nutrition.signals import nutrition_changed, nutrition_committed
from tests.nutrition.factories import NutritionLogFactory

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def received():
    calls = []

    def receiver(sender, facts=None, **kwargs):
        # `facts`: what the change feed's statement answered for the follow-up (PostgreSQL;
        # tests/nutrition/test_meal_follow_up.py checks its use).
        calls.append(kwargs)

    nutrition_changed.connect(receiver)
    yield calls
    nutrition_changed.disconnect(receiver)


def test_create_announces_the_day_inside_its_transaction(
    user, received, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        log = services.nutrition_log_create(
            user=user, meal_type="lunch", logged_at=NOON, calories=500
        )
    assert received == [
        {
            "signal": nutrition_changed,
            "user_id": user.pk,
            "days": {date(2026, 3, 10)},
            "tz": calendar.zone_of(user),
            "entry_ids": {log.pk},
        }
    ]


@pytest.fixture
def committed():
    calls = []

    def receiver(sender, facts=None, **kwargs):
        # `facts`: what the change feed's statement answered for the follow-up (PostgreSQL;
        # tests/nutrition/test_meal_follow_up.py checks its use).
        calls.append(kwargs)

    nutrition_committed.connect(receiver)
    yield calls
    nutrition_committed.disconnect(receiver)


def test_the_derived_work_is_announced_after_the_commit_from_a_row_written_with_the_entry(
    user, committed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.nutrition_log_create(user=user, meal_type="lunch", logged_at=NOON, calories=500)
    # Nothing derived ran in the write; its outbox row is written with the entry.
    assert committed == []
    (row,) = OutboxTask.objects.filter(task_name=services.ANNOUNCE_TASK)
    assert row.kwargs == {"user_id": user.pk, "days": ["2026-03-10"]} and row.sent_at is None
    for callback in callbacks:  # the commit: the row's send announces it at once
        callback()
    # With the write's zone (a statement less for the receivers).
    assert committed == [
        {
            "signal": nutrition_committed,
            "user_id": user.pk,
            "days": {date(2026, 3, 10)},
            "tz": calendar.zone_of(user),
        }
    ]
    # Done by the send itself (tests/nutrition/test_meal_follow_up.py): nothing left to send.
    assert not OutboxTask.objects.filter(task_name=services.ANNOUNCE_TASK).exists()


def test_a_follow_up_lost_with_the_process_is_sent_by_the_relay(
    user, committed, django_capture_on_commit_callbacks
):
    from healthtrack.core import outbox

    outbox._set_breaker(open_=False)
    with django_capture_on_commit_callbacks(execute=False):  # the process dies at the commit
        log = NutritionLogFactory(user=user, logged_at=NOON)
        services.nutrition_log_delete(log=log)
    assert committed == []
    outbox.outbox_relay()  # beat's relay, in another process
    assert [call["days"] for call in committed] == [{date(2026, 3, 10)}]
    assert not OutboxTask.objects.pending().filter(task_name=services.ANNOUNCE_TASK).exists()


def test_creating_an_entry_reads_neither_the_writer_nor_a_photo_again(user):
    lentils = Food.objects.get(name="Lentils, boiled")
    with CaptureQueriesContext(connection) as queries:
        log = services.nutrition_log_create(
            user=user, meal_type="dinner", logged_at=NOON, food=lentils, grams=250
        )
    tables = " ".join(q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT"))
    assert "accounts_user" not in tables and "nutrition_food" not in tables
    assert "nutrition_mealphoto" not in tables
    entry = LogEntry.objects.get_for_object(log).get()
    assert entry.action == LogEntry.Action.CREATE
    assert entry.changes_dict["calories"] == ["None", "290.0"]
    assert entry.changes_dict["food"] == ["None", str(lentils.pk)]


def test_moving_an_entry_announces_both_days(user, received, django_capture_on_commit_callbacks):
    log = NutritionLogFactory(user=user, logged_at=NOON)
    with django_capture_on_commit_callbacks(execute=True):
        services.nutrition_log_update(log=log, logged_at=datetime(2026, 3, 12, 8, tzinfo=UTC))
    assert received[0]["days"] == {date(2026, 3, 10), date(2026, 3, 12)}
    assert received[0]["entry_ids"] == {log.pk}


def test_delete_announces_the_day(user, received, django_capture_on_commit_callbacks):
    log = NutritionLogFactory(user=user, logged_at=NOON)
    with django_capture_on_commit_callbacks(execute=True):
        services.nutrition_log_delete(log=log)
    assert received == [
        {
            "signal": nutrition_changed,
            "user_id": user.pk,
            "days": {date(2026, 3, 10)},
            "entry_ids": set(),  # its tombstone is the change feed's event (post_delete)
        }
    ]


def test_a_refused_write_announces_nothing(user, received, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError):
        services.nutrition_log_create(user=user, meal_type="lunch", logged_at=NOON, calories=-5)
    assert received == []
    assert not NutritionLog.objects.exists()


def test_a_rolled_back_write_leaves_no_follow_up_work(
    user, received, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                services.nutrition_log_create(
                    user=user, meal_type="lunch", logged_at=NOON, calories=500
                )
                raise RuntimeError("later step failed")
        except RuntimeError:
            pass
    # Announced inside the transaction: what the receivers recorded rolled back with it.
    assert len(received) == 1
    assert not NutritionLog.objects.exists()
    assert not OutboxTask.objects.exists()


def test_update_refuses_unknown_fields(user):
    log = NutritionLogFactory(user=user)
    with pytest.raises(TypeError):
        services.nutrition_log_update(log=log, user=None)


def test_food_and_grams_compute_the_nutrients(user):
    lentils = Food.objects.get(name="Lentils, boiled")  # 116 kcal, 9.02 g protein per 100 g
    log = services.nutrition_log_create(
        user=user, meal_type="dinner", logged_at=NOON, food=lentils, grams=250
    )
    assert (log.calories, log.protein_g, log.carbs_g, log.fiber_g) == (290.0, 22.6, 50.3, 19.8)


def test_description_is_encrypted_at_rest(user):
    log = services.nutrition_log_create(
        user=user, meal_type="lunch", logged_at=NOON, calories=500, description="after chemo"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT description FROM nutrition_nutritionlog WHERE id = %s", [log.pk])
        stored = cursor.fetchone()[0]
    stored = bytes(stored).decode() if not isinstance(stored, str) else stored
    assert "after chemo" not in stored
    assert NutritionLog.objects.get(pk=log.pk).description == "after chemo"


def test_changes_are_audited_without_the_description(user):
    log = services.nutrition_log_create(
        user=user, meal_type="lunch", logged_at=NOON, calories=500, description="secret"
    )
    services.nutrition_log_update(log=log, calories=550, description="still secret")
    entries = LogEntry.objects.get_for_object(log).order_by("timestamp", "pk")
    assert [e.action for e in entries] == [LogEntry.Action.CREATE, LogEntry.Action.UPDATE]
    for entry in entries:
        assert "description" not in entry.changes_dict
        assert "secret" not in str(entry.changes)
    assert entries[1].changes_dict["calories"] == ["500.0", "550.0"]


def test_the_database_refuses_out_of_range_amounts_even_without_validation(user):
    with pytest.raises(IntegrityError), transaction.atomic():
        NutritionLog.objects.create(user=user, meal_type="lunch", logged_at=NOON, calories=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        NutritionLog.objects.create(user=user, meal_type="lunch", logged_at=NOON)


def test_water_is_logged_as_a_diary_drink_in_millilitres(user):
    log = services.water_log_create(user=user, litres=0.25, logged_at=NOON)

    log.refresh_from_db()
    assert (log.meal_type, log.description, log.water_ml) == ("drink", "Water", 250)
    assert log.logged_at == NOON


def test_food_text_matching_the_catalogue_logs_that_food_default_100_g(user):
    log = services.food_log_create_from_text(
        user=user, meal_type="breakfast", text="a ripe banana", logged_at=NOON
    )

    assert log.food == Food.objects.get(name="Banana, raw")
    assert log.grams == 100
    assert log.calories == pytest.approx(log.food.calories)
    assert log.description == "a ripe banana"


def test_food_text_with_calories_is_a_custom_entry_even_when_it_matches(user):
    log = services.food_log_create_from_text(
        user=user, meal_type="lunch", text="two eggs", logged_at=NOON, grams=50, calories=320
    )

    assert (log.food, log.grams, log.calories) == (None, None, 320)


def test_food_text_without_a_match_or_calories_is_refused_and_nothing_is_logged(user):
    with pytest.raises(ValidationError) as refused:
        services.food_log_create_from_text(
            user=user, meal_type="lunch", text="chicken salad", logged_at=NOON
        )

    assert "calories" in refused.value.message_dict
    assert not NutritionLog.objects.filter(user=user).exists()
