from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

from auditlog.registry import auditlog
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import DEFAULT_DB_ALIAS, connections, models, router
from django.db.models import Case, Count, IntegerField, Q, Sum, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone
from fernet_fields import EncryptedTextField

from accounts import access
from healthtrack.core import days as calendar
from healthtrack.core.prepared import prepared_cursor
from nutrition import validation
from nutrition.validation import AMOUNT_BOUNDS, AMOUNT_FIELDS, NUTRIENT_FIELDS, PER_100G_BOUNDS


class FoodQuerySet(models.QuerySet):
    def search(self, text: str, *, category: str | None = None) -> FoodQuerySet:
        """Catalogue foods matching `text`: every word (up to 8) appears in the name, any case;
        names starting with the first word first, then by name. Empty text: every food by name.
        The API's `GET /foods?search=` and the diary page's search both use it."""
        foods = self
        if category:
            foods = foods.filter(category=category)
        words = (text or "").split()[:8]
        if not words:
            return foods.order_by("name")
        for word in words:
            foods = foods.filter(name__icontains=word)
        # Names that start with the first word ("Apple, raw" for "apple") come first.
        starts = Case(
            When(Q(name__istartswith=words[0]), then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
        return foods.annotate(rank=starts).order_by("rank", "name")


class Food(models.Model):
    """A catalogue food; every amount is per 100 g (USDA FoodData Central, SR Legacy)."""

    class Category(models.TextChoices):
        FRUIT = "fruit", "Fruit"
        VEGETABLE = "vegetable", "Vegetables"
        GRAIN = "grain", "Grains and bread"
        LEGUME = "legume", "Legumes and soy"
        NUTS_SEEDS = "nuts_seeds", "Nuts and seeds"
        DAIRY_EGG = "dairy_egg", "Dairy and eggs"
        MEAT = "meat", "Meat and poultry"
        FISH = "fish", "Fish and seafood"
        BEVERAGE = "beverage", "Beverages"
        SNACK_SWEET = "snack_sweet", "Snacks and sweets"
        FAT_CONDIMENT = "fat_condiment", "Fats, oils and condiments"
        PREPARED = "prepared", "Prepared dishes"

    name = models.CharField(max_length=120, unique=True)
    category = models.CharField(max_length=16, choices=Category.choices)
    calories = models.FloatField(
        "kcal per 100 g", validators=validation.amount_validators("calories", PER_100G_BOUNDS)
    )
    protein_g = models.FloatField(
        "protein g per 100 g", validators=validation.amount_validators("protein_g", PER_100G_BOUNDS)
    )
    carbs_g = models.FloatField(
        "carbohydrate g per 100 g",
        validators=validation.amount_validators("carbs_g", PER_100G_BOUNDS),
    )
    fat_g = models.FloatField(
        "fat g per 100 g", validators=validation.amount_validators("fat_g", PER_100G_BOUNDS)
    )
    fiber_g = models.FloatField(
        "fiber g per 100 g", validators=validation.amount_validators("fiber_g", PER_100G_BOUNDS)
    )
    sugar_g = models.FloatField(
        "sugars g per 100 g", validators=validation.amount_validators("sugar_g", PER_100G_BOUNDS)
    )
    sodium_mg = models.FloatField(
        "sodium mg per 100 g",
        validators=validation.amount_validators("sodium_mg", PER_100G_BOUNDS),
    )

    objects = FoodQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def nutrients_for(self, grams: float) -> dict[str, float]:
        """The nutrients in `grams` of this food (per 100 g x grams / 100, to 0.1)."""
        return {
            field: validation.round_amount(getattr(self, field) * grams / 100)
            for field in NUTRIENT_FIELDS
        }


class NutritionLogQuerySet(models.QuerySet):
    """Days are the owner's local days (`healthtrack.core.days`): `for_user` reads the zone once and
    the queryset (and its clones) keep it for `on_days` and `daily_totals`."""

    zone: tzinfo = UTC

    def _clone(self):
        clone = super()._clone()
        clone.zone = self.zone
        return clone

    def for_user(self, user, *, tz: tzinfo | None = None) -> NutritionLogQuerySet:
        qs = self.filter(user=user)
        qs.zone = calendar.zone_of(user) if tz is None else tz
        return qs

    def on_days(self, start: date | None = None, end: date | None = None) -> NutritionLogQuerySet:
        """Entries logged on the owner's local days `start`..`end`, both inclusive (either may
        be open)."""
        qs = self
        if start is not None:
            qs = qs.filter(logged_at__gte=day_start(start, self.zone))
        if end is not None:
            qs = qs.filter(logged_at__lt=day_start(end + timedelta(days=1), self.zone))
        return qs

    def daily_totals(self) -> models.QuerySet:
        """One row per local day: `day`, `entries` and the sum of every amount (None when
        none)."""
        return (
            self.order_by()
            .annotate(day=TruncDate("logged_at", tzinfo=self.zone))
            .values("day")
            .annotate(entries=Count("id"), **{f: Sum(f) for f in AMOUNT_FIELDS})
            .order_by("day")
        )


def day_start(day: date, tz: tzinfo = UTC) -> datetime:
    return calendar.day_start(day, tz)


def daily_totals_of(user_id: int, start: date, end: date, zone: tzinfo) -> dict[date, dict]:
    """`NutritionLog.objects.for_user(user_id, tz=zone).on_days(start, end).daily_totals()`,
    keyed by day: the same statement (the day cut by the database's own expression for
    `TruncDate(..., tzinfo=zone)`, the same bounds and sums), written out instead of built as a
    QuerySet, whose building cost about three times the CPU of running it on every diary read
    (issue 15). `tests/nutrition/test_api_daily.py` holds the two equal."""
    using = router.db_for_read(NutritionLog)
    db = connections[using]
    ops = db.ops
    day, day_params = ops.datetime_cast_date_sql(
        _TOTALS_LOGGED_AT, (), timezone._get_timezone_name(zone)
    )
    bounds = [
        ops.adapt_datetimefield_value(day_start(start, zone)),
        ops.adapt_datetimefield_value(day_start(end + timedelta(days=1), zone)),
    ]
    # Planned once per connection on the primary (`prepared_cursor`).
    with prepared_cursor() if using == DEFAULT_DB_ALIAS else db.cursor() as cursor:
        cursor.execute(f"SELECT {day}, {_TOTALS_SQL}", [*day_params, user_id, *bounds])
        rows = cursor.fetchall()
    out = {}
    for row in rows:
        day_value = date.fromisoformat(row[0]) if isinstance(row[0], str) else row[0]
        out[day_value] = {
            "day": day_value,
            "entries": row[1],
            **dict(zip(AMOUNT_FIELDS, row[2:], strict=True)),
        }
    return out


def _amount_field(field: str, verbose_name: str) -> models.FloatField:
    return models.FloatField(
        verbose_name, null=True, blank=True, validators=validation.amount_validators(field)
    )


class NutritionLog(models.Model):
    """One diary entry: a food or drink, custom or from the catalogue (`food` + `grams`)."""

    class MealType(models.TextChoices):
        BREAKFAST = "breakfast", "Breakfast"
        LUNCH = "lunch", "Lunch"
        DINNER = "dinner", "Dinner"
        SNACK = "snack", "Snack"
        DRINK = "drink", "Drink"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="nutrition_logs"
    )
    meal_type = models.CharField(max_length=16, choices=MealType.choices)
    # Encrypted at rest: free text can say more about a person than the numbers do.
    description = EncryptedTextField(blank=True, default="")
    calories = _amount_field("calories", "kcal")
    protein_g = _amount_field("protein_g", "protein (g)")
    carbs_g = _amount_field("carbs_g", "carbohydrate (g)")
    fat_g = _amount_field("fat_g", "fat (g)")
    fiber_g = _amount_field("fiber_g", "fiber (g)")
    sugar_g = _amount_field("sugar_g", "sugars (g)")
    sodium_mg = _amount_field("sodium_mg", "sodium (mg)")
    water_ml = _amount_field("water_ml", "water (ml)")
    logged_at = models.DateTimeField()
    # A food that entries were computed from stays in the catalogue (entries name their source).
    food = models.ForeignKey(
        Food, on_delete=models.PROTECT, null=True, blank=True, related_name="logs"
    )
    grams = _amount_field("grams", "portion (g)")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = NutritionLogQuerySet.as_manager()

    class Meta:
        ordering = ["-logged_at", "-id"]
        indexes = [models.Index(fields=["user", "-logged_at"], name="nutrition_log_user_time")]
        # The database refuses what the validators refuse, for writers that skip full_clean().
        constraints = [
            models.CheckConstraint(
                condition=Q(calories__isnull=False) | Q(water_ml__isnull=False),
                name="nutrition_log_calories_or_water",
            ),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{f}__isnull": True})
                    | Q(**{f"{f}__gte": 0, f"{f}__lte": AMOUNT_BOUNDS[f]}),
                    name=f"nutrition_log_{f}_range",
                )
                for f in (*AMOUNT_FIELDS, "grams")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_meal_type_display()} at {self.logged_at:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        validation.clean_log(self)

    @property
    def day(self) -> date:
        """The owner's local day the entry counts towards (`healthtrack.core.days`)."""
        return calendar.day_of(self.logged_at, self.user)


# The statement of `daily_totals_of` after its day expression, grouped and ordered by that
# first column (the expression carries the zone as a parameter). Every column is a field's own.
_TOTALS_LOGGED_AT = f'"{NutritionLog._meta.db_table}"."logged_at"'
_TOTALS_SQL = (
    'COUNT("id"), '
    + ", ".join(f'SUM("{f}")' for f in AMOUNT_FIELDS)
    + f' FROM "{NutritionLog._meta.db_table}" WHERE "user_id" = %s AND "logged_at" >= %s'
    ' AND "logged_at" < %s GROUP BY 1 ORDER BY 1'
)


class NutritionTargets(models.Model):
    """A user's own daily targets; each one left empty is calculated (see nutrition.targets)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="nutrition_targets"
    )
    calories = models.PositiveIntegerField(
        "kcal per day",
        null=True,
        blank=True,
        validators=[MinValueValidator(500), MaxValueValidator(10_000)],
    )
    protein_g = models.FloatField(
        "protein g per day",
        null=True,
        blank=True,
        validators=[validation.validate_finite, MinValueValidator(1), MaxValueValidator(1_000)],
    )
    water_ml = models.PositiveIntegerField(
        "water ml per day",
        null=True,
        blank=True,
        validators=[MinValueValidator(250), MaxValueValidator(10_000)],
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "nutrition targets"

    def __str__(self) -> str:
        return f"Nutrition targets of user {self.user_id}"


class MealPhotoQuerySet(models.QuerySet):
    def readable_by(self, viewer) -> MealPhotoQuerySet:
        """The meal photos `viewer` may see: those of the diary entries they may read."""
        return access.readable(self.select_related("log"), viewer, owner_field="log__user")


class MealPhoto(models.Model):
    """The photo of a diary entry: a metadata-free re-encoding (`nutrition.photos`) in the
    private storage alias "meal_photos", and its thumbnail once the Celery task has made it.
    Names are random; nothing of the upload's name is kept. Files are removed on commit when
    the row goes, however it goes (the entry deleted, the account purged): see
    `nutrition.receivers`."""

    log = models.OneToOneField(NutritionLog, on_delete=models.CASCADE, related_name="photo")
    image_name = models.CharField(max_length=255)
    thumbnail_name = models.CharField(max_length=255, blank=True, default="")
    content_type = models.CharField(max_length=32)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MealPhotoQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Photo of diary entry {self.log_id}"

    @property
    def has_thumbnail(self) -> bool:
        return bool(self.thumbnail_name)


# Encrypted fields are excluded: auditlog would otherwise record their decrypted plaintext.
auditlog.register(NutritionLog, exclude_fields=["description"])
auditlog.register(NutritionTargets)
# No file contents are in the row: only random names, type and size.
auditlog.register(MealPhoto)
