"""A user with one of everything, written through the apps' services."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from accounts.sharing import share_grant_create
from goals.services import goal_create
from metrics.services import device_create, device_sync, metric_create
from nutrition.models import Food
from nutrition.services import nutrition_log_create, nutrition_targets_set
from tests.insights.factories import AlertFactory

BASE = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def at(minutes: int) -> str:
    return (BASE + timedelta(minutes=minutes)).isoformat()


def populate(user) -> dict:
    watch = device_create(
        user=user, device_type="apple_watch", name="Dana's Watch", identifier=f"watch-{user.pk}"
    )
    scale = device_create(
        user=user, device_type="third_party_scale", name="Scale", identifier=f"scale-{user.pk}"
    )
    device_sync(
        user=user,
        device=watch,
        samples=[
            {
                "metric_type": "steps",
                "value": 1200,
                "recorded_at": at(0),
                "end_at": at(30),
                "external_id": "s-1",
            },
            {
                "metric_type": "steps",
                "value": 800,
                "recorded_at": at(60),
                "end_at": at(90),
                "external_id": "s-2",
            },
            {"metric_type": "steps", "value": 3000, "recorded_at": at(1440), "end_at": at(1500)},
            {"metric_type": "heart_rate", "value": 62, "recorded_at": at(5)},
            {"metric_type": "heart_rate", "value": 71.5, "recorded_at": at(65)},
            {
                "metric_type": "sleep",
                "value": 420,
                "recorded_at": at(-540),
                "end_at": at(-120),
                "metadata": {"stages": 4},
                "notes": "Woke up once",
            },
        ],
        idempotency_key=None,
    )
    device_sync(
        user=user,
        device=scale,
        samples=[
            {"metric_type": "weight", "value": 71.2, "recorded_at": at(-10), "external_id": "w-1"},
            {"metric_type": "blood_pressure_systolic", "value": 128, "recorded_at": at(-5)},
            {"metric_type": "blood_pressure_diastolic", "value": 84, "recorded_at": at(-5)},
        ],
        idempotency_key=None,
    )
    metric_create(
        user=user,
        metric_type="blood_pressure_systolic",
        value=151,
        recorded_at=at(600),
        source_app="Manual",
    )
    metric_create(
        user=user,
        metric_type="blood_glucose",
        value=5.4,
        unit="mmol/L",
        recorded_at=at(20),
        source_app="Glucometer",
        external_id="g-1",
        notes="after breakfast",
    )
    food = Food.objects.order_by("name").first()
    nutrition_log_create(
        user=user,
        meal_type="breakfast",
        logged_at=BASE,
        description="Porridge, berries",
        calories=350,
        protein_g=12,
        carbs_g=60,
        fat_g=6,
    )
    nutrition_log_create(
        user=user, meal_type="lunch", logged_at=BASE + timedelta(hours=4), food=food, grams=150
    )
    nutrition_log_create(
        user=user, meal_type="drink", logged_at=BASE + timedelta(hours=5), water_ml=500
    )
    nutrition_targets_set(user=user, calories=1900)
    alert = AlertFactory(
        user=user,
        title="Blood pressure crisis",
        message="151/? mmHg on 2 March",
        created_at=BASE + timedelta(hours=10),
    )
    goal = goal_create(
        user=user,
        goal_type="steps",
        target_value=8000,
        title="Walk more",
        description="Dr Smith's advice",
        start_date=date(2026, 3, 1),
    )
    grant = share_grant_create(
        owner=user, metric_types=["steps"], date_from=date(2026, 3, 1), date_to=date(2026, 3, 31)
    ).grant
    return {
        "watch": watch,
        "scale": scale,
        "food": food,
        "alert": alert,
        "grant": grant,
        "goal": goal,
    }
