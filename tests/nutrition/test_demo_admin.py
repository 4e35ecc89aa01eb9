from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from accounts.demo import seed_demo
from nutrition import demo
from nutrition.models import Food, NutritionLog
from nutrition.signals import nutrition_changed
from tests.accounts.factories import UserFactory
from tests.nutrition.factories import NutritionLogFactory

pytestmark = pytest.mark.django_db


def test_every_demo_menu_item_is_in_the_catalogue():
    names = demo._catalogue_names()
    assert set(Food.objects.filter(name__in=names).values_list("name", flat=True)) == names


def test_demo_diary_is_realistic_and_idempotent(django_assert_max_num_queries):
    patient = UserFactory()
    users = {"patient": patient}
    # Bulk: two reads and a few batched INSERTs (SQLite caps parameters per statement), not one
    # INSERT per entry (~240 here); each demo photo goes through the photo service (~7 queries,
    # and ~6 for its thumbnail's outbox row); one `nutrition_changed` for the diary, whose
    # receivers record their work in the same transaction (change feed, outbox: ~20).
    with django_assert_max_num_queries(10 + 14 * demo.DEMO_PHOTOS + 20):
        created = demo.seed(users=users, days=14, rng=random.Random(1))
    assert created == NutritionLog.objects.filter(user=patient).count() > 0
    assert demo.seed(users=users, days=14, rng=random.Random(2)) == 0
    assert NutritionLog.objects.filter(user=patient).count() == created

    today = timezone.now().astimezone(UTC).date()
    full_days = [today - timedelta(days=n) for n in range(1, 14)]
    totals = {r["day"]: r for r in NutritionLog.objects.for_user(patient).daily_totals()}
    assert set(full_days) <= set(totals)
    for day in full_days:
        meals = Counter(
            NutritionLog.objects.for_user(patient)
            .on_days(day, day)
            .exclude(meal_type="drink")
            .values_list("meal_type", flat=True)
            .distinct()
        )
        assert {"breakfast", "lunch", "dinner"} <= set(meals)
        assert 1_300 <= totals[day]["calories"] <= 2_800
        assert totals[day]["water_ml"] >= 750
    assert not NutritionLog.objects.filter(logged_at__gt=timezone.now()).exists()


def test_demo_announces_the_seeded_days_once(django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    nutrition_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            demo.seed(users={"patient": UserFactory()}, days=3, rng=random.Random(1))
    finally:
        nutrition_changed.disconnect(receiver)
    assert len(received) == 1
    assert len(received[0]["days"]) in (2, 3)  # today's meals may all be still to come


def test_seed_demo_includes_the_diary():
    users = seed_demo(days=3)
    assert NutritionLog.objects.filter(user=users["patient"]).exists()
    patient = users["patient"]
    # The rest belongs to the demo patient's child (goals/demo.py), a member they manage.
    others = NutritionLog.objects.exclude(user=patient)
    assert not others.exclude(user__family_managers__manager=patient).exists()


@pytest.fixture
def staff_client(client, user):
    user.is_staff = user.is_superuser = True
    user.save()
    client.force_login(user)
    return client


def test_admin_pages_load(staff_client, user, django_assert_max_num_queries):
    NutritionLogFactory.create_batch(5, user=user, food=Food.objects.first(), grams=100)
    with django_assert_max_num_queries(12):
        assert staff_client.get("/admin/nutrition/nutritionlog/").status_code == 200
    log = NutritionLog.objects.first()
    assert staff_client.get(f"/admin/nutrition/nutritionlog/{log.pk}/change/").status_code == 200
    assert staff_client.get("/admin/nutrition/food/?q=apple").status_code == 200
    assert staff_client.get("/admin/nutrition/nutritiontargets/").status_code == 200


def test_admin_shows_only_diaries_the_access_rules_allow(client, staff_client, other_user):
    # Superusers see every diary in the admin (accounts.admin_access) ...
    theirs = NutritionLogFactory(user=other_user)
    assert staff_client.get(f"/admin/nutrition/nutritionlog/{theirs.pk}/change/").status_code == 200
    changelist = staff_client.get("/admin/nutrition/nutritionlog/")
    assert list(changelist.context["cl"].result_list) == [theirs]
    # ... an admin clinician only their care-team patients'.
    from accounts.care import clinician_enable_admin
    from tests.accounts.factories import ClinicianFactory

    client.force_login(clinician_enable_admin(user=ClinicianFactory()))
    assert client.get(f"/admin/nutrition/nutritionlog/{theirs.pk}/change/").status_code == 302
    assert list(client.get("/admin/nutrition/nutritionlog/").context["cl"].result_list) == []


def test_admin_deletes_through_the_service(staff_client, user, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    log = NutritionLogFactory(user=user)
    nutrition_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = staff_client.post(
                "/admin/nutrition/nutritionlog/",
                {"action": "delete_selected", "_selected_action": [log.pk], "post": "yes"},
            )
    finally:
        nutrition_changed.disconnect(receiver)
    assert response.status_code == 302
    assert not NutritionLog.objects.filter(pk=log.pk).exists()
    assert received and received[0]["user_id"] == user.pk
