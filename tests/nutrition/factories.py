from __future__ import annotations

from datetime import UTC, datetime

import factory

from nutrition.models import Food, NutritionLog, NutritionTargets
from tests.accounts.factories import UserFactory


class FoodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Food

    name = factory.Sequence(lambda n: f"Test food {n}")
    category = Food.Category.PREPARED
    calories = 200.0
    protein_g = 10.0
    carbs_g = 20.0
    fat_g = 8.0
    fiber_g = 2.0
    sugar_g = 5.0
    sodium_mg = 300.0


class NutritionLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NutritionLog

    user = factory.SubFactory(UserFactory)
    meal_type = NutritionLog.MealType.LUNCH
    description = "Soup and bread"
    calories = 500.0
    protein_g = 20.0
    logged_at = factory.LazyFunction(lambda: datetime(2026, 3, 10, 12, 0, tzinfo=UTC))


class NutritionTargetsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NutritionTargets

    user = factory.SubFactory(UserFactory)
