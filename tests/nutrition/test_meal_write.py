"""A diary entry's write in fewer statements (issue 15, sixth round): on PostgreSQL the entry
and its audit entry are one statement, and the audit entry is still the one django-auditlog
writes for the model's `post_save`, field for field, the encrypted description left out; the
201 body is `NutritionLogSerializer`'s, byte for byte. On SQLite the ORM path runs and these
tests compare it with itself; run them with DATABASE_URL for the statement."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from auditlog.context import disable_auditlog, set_actor
from auditlog.diff import model_instance_diff
from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer

from nutrition import services
from nutrition.api.serializers import NutritionLogSerializer, log_data
from nutrition.models import Food, MealPhoto, NutritionLog
from tests.accounts.factories import UserFactory
from tests.core.audit_entries import compared, entry_of

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 2, 8, 30, 15, 250000, tzinfo=UTC)


def _diaries():
    banana = Food.objects.get(name="Banana, raw")
    return [
        {"meal_type": "lunch", "calories": 640, "protein_g": 32.5, "description": "secret stew"},
        {"meal_type": "drink", "water_ml": 500, "description": ""},
        {"meal_type": "snack", "food": banana, "grams": 150, "description": "Banana"},
    ]


@pytest.mark.parametrize("index", range(3))
def test_the_audit_entry_is_the_one_auditlog_writes(index):
    user = UserFactory()
    fields = _diaries()[index]
    with set_actor(user, remote_addr="192.0.2.7", remote_port=4431):
        log = services.nutrition_log_create(user=user, logged_at=AT, **fields)
        stored = NutritionLog.objects.get(pk=log.pk)
        by_orm = NutritionLog.objects.create(  # auditlog's receiver writes this one's entry
            user=user,
            logged_at=AT,
            **{
                name: getattr(stored, name)
                for name in ("meal_type", "description", "calories", "protein_g", "carbs_g")
                + ("fat_g", "fiber_g", "sugar_g", "sodium_mg", "water_ml", "food", "grams")
            },
        )
    entry, expected = entry_of(log), entry_of(by_orm)
    assert compared(entry) == compared(expected)
    assert entry.actor_id == user.pk and entry.remote_addr == "192.0.2.7"
    assert (entry.object_pk, entry.object_id) == (str(log.pk), log.pk)
    assert entry.changes == {
        name: list(change) for name, change in model_instance_diff(None, stored).items()
    }
    assert set(entry.changes) == set(expected.changes)
    assert "description" not in entry.changes
    assert "secret" not in str(entry.changes) and "secret" not in entry.object_repr
    assert stored.description == fields["description"]  # encrypted at rest, read back


def test_the_entry_and_its_audit_entry_are_one_statement():
    user = UserFactory()
    with CaptureQueriesContext(connection) as queries:
        log = services.nutrition_log_create(
            user=user, meal_type="lunch", calories=500, logged_at=AT
        )
    inserting = 'INSERT INTO "nutrition_nutritionlog"'
    writing = [q["sql"] for q in queries.captured_queries if inserting in q["sql"]]
    assert len(writing) == 1
    if connection.vendor == "postgresql":
        assert '"auditlog_logentry"' in writing[0]
        assert not any(
            q["sql"].startswith('INSERT INTO "auditlog_logentry"') for q in queries.captured_queries
        )
    assert entry_of(log).changes["id"] == ["None", str(log.pk)]
    raw = NutritionLog.objects.filter(pk=log.pk).values_list("description", flat=True)
    assert raw.get() == ""


def test_the_description_is_stored_encrypted():
    user = UserFactory()
    log = services.nutrition_log_create(
        user=user, meal_type="lunch", calories=500, logged_at=AT, description="my secret"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT description FROM nutrition_nutritionlog WHERE id = %s", [log.pk])
        stored = bytes(cursor.fetchone()[0])
    assert b"my secret" not in stored
    assert NutritionLog.objects.get(pk=log.pk).description == "my secret"


def test_with_auditlog_disabled_no_entry_is_written():
    user = UserFactory()
    with disable_auditlog():
        log = services.nutrition_log_create(
            user=user, meal_type="lunch", calories=500, logged_at=AT
        )
    assert NutritionLog.objects.filter(pk=log.pk).exists()
    assert not LogEntry.objects.get_for_object(log).exists()


def test_the_201_body_is_the_serializers(auth_client, user):
    banana = Food.objects.get(name="Banana, raw")
    bodies = [
        {"meal_type": "lunch", "calories": 640, "protein_g": 32.5, "carbs_g": 55, "fat_g": 28}
        | {"description": "Grandma's stew", "logged_at": "2026-03-10T12:30:00.123456+01:00"},
        {"meal_type": "drink", "water_ml": 500, "logged_at": "2026-03-10T09:00:00Z"},
        {"meal_type": "snack", "food": banana.pk, "grams": 150, "logged_at": "2026-03-10T15:00Z"},
    ]
    for body in bodies:
        response = auth_client.post("/api/v1/nutrition-logs", body, format="json")
        assert response.status_code == 201, response.json()
        log = NutritionLog.objects.select_related("food").get(pk=response.json()["id"])
        assert response.content == JSONRenderer().render(NutritionLogSerializer(log).data)


def test_the_body_of_an_entry_with_a_photo_is_the_serializers(user):
    log = services.nutrition_log_create(user=user, meal_type="lunch", calories=5, logged_at=AT)
    MealPhoto.objects.create(
        log=log, image_name="x.jpg", content_type="image/jpeg", width=4, height=3, size_bytes=9
    )
    log = NutritionLog.objects.select_related("food", "photo").get(pk=log.pk)
    assert log_data(log) == NutritionLogSerializer(log).data
    assert log_data(log)["photo"]["image_url"].startswith("/api/v1/nutrition-logs/")
