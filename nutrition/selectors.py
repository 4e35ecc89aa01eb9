"""Reads the nutrition app needs from elsewhere, without importing higher or sibling apps."""

from __future__ import annotations

from django.apps import apps


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
