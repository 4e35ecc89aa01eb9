"""Reads: the catalogue search, and what the nutrition app needs from elsewhere (without
importing higher or sibling apps)."""

from __future__ import annotations

from django.apps import apps
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from accounts import access
from nutrition.models import Food, MealPhoto


def latest_weight_kg(user) -> float | None:
    """The user's latest weight (kg) from the metrics app, or None.

    The metrics app is looked up lazily by name (it must not be imported from here); while it has
    no `HealthMetric` model installed this answers None.
    """
    try:
        metric_model = apps.get_model("metrics", "HealthMetric")
    except LookupError:
        return None
    value = (
        metric_model.objects.filter(user=user, metric_type="weight")
        .order_by("-recorded_at")
        .values_list("value", flat=True)
        .first()
    )
    return float(value) if value is not None else None


def food_search(text: str, *, category: str | None = None) -> QuerySet[Food]:
    """Catalogue foods matching `text`: every word (up to 8) appears in the name, any case;
    names starting with the first word first, then by name. Empty text: every food by name.
    The API's `GET /foods?search=` and the diary page's search both use it."""
    foods = Food.objects.all()
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


def readable_meal_photos(viewer) -> QuerySet:
    """The meal photos `viewer` may see: those of the diary entries they may read."""
    return access.readable(MealPhoto.objects.select_related("log"), viewer, owner_field="log__user")
