"""A diary write's change-feed events: one for each entry it created or changed, none for the
day's other entries (they did not change); a deletion's tombstone alone. A writer that names no
entries (a bulk load) still gets an event for every entry of its days."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from healthtrack.changes import services as feed
from healthtrack.changes.models import ChangeEvent
from nutrition import services
from tests.nutrition.factories import NutritionLogFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/nutrition-logs"
BREAKFAST = datetime(2026, 3, 10, 8, tzinfo=UTC)
MEAL = {"meal_type": "lunch", "description": "Stew", "calories": 640}


@pytest.fixture
def write(auth_client, django_capture_on_commit_callbacks):
    def send(method: str, url: str, body=None):
        with django_capture_on_commit_callbacks(execute=True):
            response = getattr(auth_client, method)(url, body, format="json")
        assert response.status_code < 300, response.content
        return response.json() if response.content else None

    return send


@pytest.fixture
def day(user, django_capture_on_commit_callbacks):
    """Two entries already in the diary on 10 March, announced as the API would."""
    with django_capture_on_commit_callbacks(execute=True):
        return [
            services.nutrition_log_create(
                user=user, meal_type="breakfast", logged_at=BREAKFAST, calories=300
            ),
            services.nutrition_log_create(
                user=user, meal_type="snack", logged_at=BREAKFAST.replace(hour=10), calories=120
            ),
        ]


def events_after(user, seq: int) -> list[tuple[str, int, str]]:
    rows = ChangeEvent.objects.filter(user_id=user.pk, seq__gt=seq).order_by("seq")
    return [(e.resource, e.object_id, e.action) for e in feed.expanded(rows, after=seq)]


def last_seq(user) -> int:
    return feed.decode_cursor(feed.latest_cursor(user_id=user.pk), user_id=user.pk)


def test_a_meal_logged_on_a_day_with_other_entries_is_the_only_event(user, day, write):
    before = last_seq(user)
    meal = write("post", URL, {**MEAL, "logged_at": "2026-03-10T12:30:00Z"})
    assert events_after(user, before) == [("nutrition_entry", meal["id"], "created")]


def test_changing_an_entry_moved_to_another_day_is_the_only_event(user, day, write):
    other = NutritionLogFactory(user=user, logged_at=datetime(2026, 3, 12, 9, tzinfo=UTC))
    before = last_seq(user)
    write("patch", f"{URL}/{day[0].pk}", {"logged_at": "2026-03-12T07:00:00Z"})
    assert events_after(user, before) == [("nutrition_entry", day[0].pk, "updated")]
    assert other.pk not in [object_id for _, object_id, _ in events_after(user, 0)]


def test_deleting_an_entry_leaves_its_tombstone_alone(user, day, write):
    before = last_seq(user)
    write("delete", f"{URL}/{day[0].pk}")
    assert events_after(user, before) == [("nutrition_entry", day[0].pk, "deleted")]


def test_a_write_that_names_no_entries_announces_every_entry_of_its_days(
    user, day, django_capture_on_commit_callbacks
):
    before = last_seq(user)
    with django_capture_on_commit_callbacks(execute=True):
        services.nutrition_changes_announce(user_id=user.pk, days={date(2026, 3, 10)})
    assert events_after(user, before) == [
        ("nutrition_entry", day[0].pk, "updated"),
        ("nutrition_entry", day[1].pk, "updated"),
    ]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="one statement on PostgreSQL")
def test_a_meal_appends_its_event_and_answers_the_webhooks_question_in_one_statement(user, day):
    with CaptureQueriesContext(connection) as queries:
        services.nutrition_log_create(
            user=user, meal_type="lunch", logged_at=BREAKFAST.replace(hour=13), calories=500
        )
    feed_statements = [q["sql"] for q in queries if "changes_change" in q["sql"]]
    asking = [q["sql"] for q in queries if "webhooks_webhooksubscription" in q["sql"]]
    assert len(feed_statements) == 1 and asking == feed_statements
