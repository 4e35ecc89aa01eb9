"""A realistic diary for the demo patient: three meals and a snack or two from the catalogue
every day, plus coffee and water. Idempotent: days that already have entries are left alone."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from nutrition.models import Food, NutritionLog
from nutrition.signals import nutrition_changed

# (description, [(catalogue name, grams)]) per meal; portions vary by +-15 % day to day.
BREAKFASTS = [
    (
        "Porridge with banana",
        [("Oats, rolled, dry", 70), ("Milk, reduced fat (2%)", 250), ("Banana, raw", 120)],
    ),
    (
        "Greek yogurt, granola and blueberries",
        [
            ("Yogurt, Greek, plain, whole milk", 200),
            ("Granola, homemade", 50),
            ("Blueberries, raw", 100),
        ],
    ),
    (
        "Scrambled eggs on toast",
        [("Egg, whole, scrambled", 150), ("Bread, whole-wheat", 80), ("Butter, salted", 10)],
    ),
    (
        "Peanut butter toast and an apple",
        [
            ("Bread, whole-wheat", 80),
            ("Peanut butter, smooth", 32),
            ("Apple, raw, with skin", 180),
        ],
    ),
]
LUNCHES = [
    (
        "Chicken salad",
        [
            ("Chicken breast, skinless, roasted", 150),
            ("Lettuce, romaine, raw", 80),
            ("Tomatoes, red, raw", 100),
            ("Olive oil", 15),
            ("Bread, whole-wheat", 60),
        ],
    ),
    (
        "Lentils with carrots and rye bread",
        [("Lentils, boiled", 250), ("Carrots, boiled", 100), ("Bread, rye", 80)],
    ),
    (
        "Tuna sandwich",
        [
            ("Bread, whole-wheat", 100),
            ("Tuna, light, canned in water, drained", 100),
            ("Mayonnaise", 20),
            ("Cucumber, with peel, raw", 60),
        ],
    ),
    (
        "Hummus and feta wrap",
        [
            ("Tortilla, flour", 90),
            ("Hummus", 80),
            ("Bell pepper, red, raw", 60),
            ("Spinach, raw", 30),
            ("Cheese, feta", 40),
        ],
    ),
    (
        "Tofu rice bowl",
        [
            ("Rice, brown, long-grain, cooked", 220),
            ("Tofu, regular, raw", 200),
            ("Broccoli, boiled", 120),
            ("Soy sauce", 10),
            ("Canola oil", 10),
        ],
    ),
]
DINNERS = [
    (
        "Salmon, potatoes and green beans",
        [
            ("Salmon, Atlantic, farmed, cooked", 170),
            ("Potatoes, boiled, without skin", 250),
            ("Green beans, raw", 120),
            ("Butter, salted", 10),
        ],
    ),
    (
        "Spaghetti bolognese",
        [
            ("Pasta, cooked", 250),
            ("Tomato sauce, canned", 150),
            ("Beef, ground, 85% lean, pan-browned", 100),
            ("Cheese, parmesan, hard", 15),
        ],
    ),
    (
        "Chicken thighs with rice and peas",
        [
            ("Chicken thigh, skinless, roasted", 150),
            ("Rice, white, long-grain, cooked", 200),
            ("Peas, green, frozen, boiled", 100),
        ],
    ),
    (
        "Pizza and a side salad",
        [("Pizza, cheese, regular crust", 280), ("Lettuce, romaine, raw", 60)],
    ),
    (
        "Chickpea and spinach curry with rice",
        [
            ("Chickpeas, boiled", 200),
            ("Rice, white, long-grain, cooked", 180),
            ("Spinach, boiled", 100),
            ("Canola oil", 12),
        ],
    ),
    (
        "Shrimp noodle stir-fry",
        [
            ("Noodles, egg, cooked", 250),
            ("Shrimp, cooked", 150),
            ("Bell pepper, green, raw", 100),
            ("Soy sauce", 10),
            ("Canola oil", 10),
        ],
    ),
]
SNACKS = [
    ("Almonds", [("Almonds", 25)]),
    ("Apple", [("Apple, raw, with skin", 180)]),
    ("Dark chocolate", [("Chocolate, dark, 70-85% cacao", 20)]),
    ("Fruit yogurt", [("Yogurt, fruit, low-fat", 150)]),
    ("Banana", [("Banana, raw", 120)]),
    ("Orange", [("Orange, raw", 150)]),
    ("Crisps", [("Potato chips, salted", 30)]),
]
COFFEE = "Coffee, brewed"


def _catalogue_names() -> set[str]:
    names = {COFFEE}
    for menu in (BREAKFASTS, LUNCHES, DINNERS, SNACKS):
        for _, items in menu:
            names.update(name for name, _ in items)
    return names


def seed(*, users: dict, days: int, rng: random.Random) -> int:
    """Diary entries for `users["patient"]` over the last `days` UTC days; returns how many."""
    patient = users.get("patient")
    if patient is None or days <= 0:
        return 0
    now = timezone.now()
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    logs = NutritionLog.objects.for_user(patient).on_days(first, today)
    seeded_days = {at.astimezone(UTC).date() for at in logs.values_list("logged_at", flat=True)}
    foods = {f.name: f for f in Food.objects.filter(name__in=_catalogue_names())}

    new: list[NutritionLog] = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        if day not in seeded_days:
            new.extend(_day(patient, day, foods, rng))
    new = [log for log in new if log.logged_at <= now]
    NutritionLog.objects.bulk_create(new, batch_size=500)
    if new:
        user_id, changed = patient.pk, {log.day for log in new}
        transaction.on_commit(
            lambda: nutrition_changed.send(sender=NutritionLog, user_id=user_id, days=changed)
        )
    return len(new)


def _at(day: date, rng: random.Random, start: time, spread_minutes: int) -> datetime:
    minutes = rng.randrange(spread_minutes)
    return datetime.combine(day, start, tzinfo=UTC) + timedelta(minutes=minutes)


def _day(patient, day: date, foods: dict[str, Food], rng: random.Random) -> list[NutritionLog]:
    meals = [
        ("breakfast", rng.choice(BREAKFASTS), _at(day, rng, time(7, 0), 90)),
        ("lunch", rng.choice(LUNCHES), _at(day, rng, time(12, 0), 90)),
        ("dinner", rng.choice(DINNERS), _at(day, rng, time(18, 30), 90)),
    ]
    for _ in range(rng.choice((1, 1, 2, 2))):
        meals.append(("snack", rng.choice(SNACKS), _at(day, rng, time(15, 0), 360)))

    logs = []
    for meal_type, (description, items), at in meals:
        for name, grams in items:
            portion = round(grams * rng.uniform(0.85, 1.15))
            logs.append(_food_log(patient, foods[name], portion, meal_type, description, at))
    for _ in range(rng.choice((1, 2, 2))):
        coffee = _food_log(patient, foods[COFFEE], 250, "drink", "Coffee", None)
        coffee.water_ml = 250
        coffee.logged_at = _at(day, rng, time(8, 0), 420)
        logs.append(coffee)
    for _ in range(rng.randint(3, 6)):
        logs.append(
            NutritionLog(
                user=patient,
                meal_type="drink",
                description="Water",
                water_ml=rng.choice((250, 300, 330, 500)),
                logged_at=_at(day, rng, time(9, 0), 720),
            )
        )
    return logs


def _food_log(patient, food: Food, grams: float, meal_type: str, description: str, at):
    return NutritionLog(
        user=patient,
        meal_type=meal_type,
        description=description,
        food=food,
        grams=grams,
        logged_at=at,
        **food.nutrients_for(grams),
    )
