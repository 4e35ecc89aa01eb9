"""A realistic diary for the demo patient: three meals and a snack or two from the catalogue
every day, plus coffee and water, and photos of their latest few meals. Idempotent: days that
already have entries are left alone, and so are meals that already have a photo."""

from __future__ import annotations

import io
import random
from datetime import UTC, date, datetime, time, timedelta

from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image, ImageDraw

from nutrition.models import Food, MealPhoto, NutritionLog
from nutrition.services import meal_photo_set, nutrition_changes_announce

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
        nutrition_changes_announce(user_id=user_id, days=changed)
    seed_photos(patient=patient, now=now)
    return len(new)


# --- meal photos ------------------------------------------------------------------------------

# How many of the latest meals get a photo: a handful keeps `make run` quick.
DEMO_PHOTOS = 4
PHOTO_MEALS = ("breakfast", "lunch", "dinner")
PHOTO_SIZE = (480, 360)
TABLE_COLOURS = [(164, 118, 78), (196, 160, 120), (88, 96, 110), (222, 214, 200)]
FOOD_COLOURS = [
    (214, 168, 74),  # grains, bread
    (235, 222, 190),  # rice, pasta
    (86, 150, 62),  # greens
    (204, 64, 48),  # tomato, pepper
    (238, 142, 70),  # salmon, carrots
    (150, 96, 60),  # meat, sauce
    (250, 236, 120),  # egg, banana
    (96, 70, 140),  # berries
]


def seed_photos(*, patient, now: datetime) -> int:
    """A photo on each of the patient's DEMO_PHOTOS latest main meals (breakfast, lunch,
    dinner) that has none: one on the meal's first entry, drawn with Pillow and stored
    through `meal_photo_set` (checked, re-encoded, thumbnail made by the task). Returns how
    many were added; seeding again adds none for the same meals (no duplicate files)."""
    recent = (
        NutritionLog.objects.for_user(patient)
        .filter(meal_type__in=PHOTO_MEALS, logged_at__lte=now, logged_at__gte=now - timedelta(3))
        .order_by("-logged_at", "id")
        .values_list("pk", "logged_at", "meal_type", "description")
    )
    meals: dict[tuple, tuple[int, str]] = {}
    for pk, logged_at, meal_type, description in recent:
        if len(meals) == DEMO_PHOTOS and (logged_at, meal_type) not in meals:
            break
        meals.setdefault((logged_at, meal_type), (pk, description))
    with_photo = set(
        MealPhoto.objects.filter(
            log__user=patient, log__logged_at__in=[at for at, _ in meals]
        ).values_list("log__logged_at", "log__meal_type")
    )
    added = 0
    for (logged_at, meal_type), (pk, description) in meals.items():
        if (logged_at, meal_type) in with_photo:
            continue
        picture = plate_picture(random.Random(f"{description}|{logged_at.date()}"))
        log = NutritionLog.objects.get(pk=pk)
        meal_photo_set(log=log, upload=ContentFile(picture, name="demo-meal.jpg"))
        added += 1
    return added


def plate_picture(rng: random.Random) -> bytes:
    """A JPEG of a plate seen from above: a few coloured shapes on a white plate on a table."""
    width, height = PHOTO_SIZE
    image = Image.new("RGB", PHOTO_SIZE, rng.choice(TABLE_COLOURS))
    draw = ImageDraw.Draw(image)
    cx, cy, radius = width // 2, height // 2, int(height * 0.44)
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=(246, 246, 244))
    inner = int(radius * 0.78)
    draw.ellipse((cx - inner, cy - inner, cx + inner, cy + inner), outline=(226, 226, 222), width=3)
    for colour in rng.sample(FOOD_COLOURS, rng.randint(3, 4)):
        x = cx + rng.randint(-inner // 2, inner // 2)
        y = cy + rng.randint(-inner // 2, inner // 2)
        rx, ry = rng.randint(inner // 5, inner // 3), rng.randint(inner // 5, inner // 3)
        if rng.random() < 0.5:
            draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=colour)
        else:
            draw.rounded_rectangle((x - rx, y - ry, x + rx, y + ry), radius=8, fill=colour)
    fork_x = cx + radius + 18
    draw.rounded_rectangle((fork_x, cy - 90, fork_x + 10, cy + 90), radius=4, fill=(190, 190, 196))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


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
