"""The nutrition app's part of the dashboard (see healthtrack.core.dashboard): today's calories and
water against the daily targets, in two or three queries (today's totals, the user's own
targets, and the latest weight unless the weight card holds it)."""

from __future__ import annotations

from django.db.models import Sum
from django.urls import reverse

from healthtrack.core import days as calendar
from healthtrack.core.dashboard import Card, Panels
from nutrition.models import NutritionLog
from nutrition.targets import daily_targets, latest_weight_kg


def contribute(panels: Panels, *, user, days: int) -> None:
    today = calendar.today(user)
    totals = (
        NutritionLog.objects.for_user(user)
        .on_days(today, today)
        .aggregate(calories=Sum("calories"), water_ml=Sum("water_ml"))
    )
    # The weight card (metrics, filled first) already holds the latest weight.
    weight = panels.cards.get("weight")
    weight_kg = weight.values.get("kg") if weight is not None else None
    if weight_kg is None:
        weight_kg = latest_weight_kg(user)
    targets = daily_targets(user=user, weight_kg=weight_kg, on=today)
    href = reverse("nutrition")
    # A card only for what was logged today: an empty slot says "No reading yet".
    if totals["calories"] is not None:
        _calories_card(panels, totals["calories"], targets["calories"], href)
    if totals["water_ml"] is not None:
        _water_card(panels, totals["water_ml"], targets["water_ml"], href)


def _calories_card(panels: Panels, calories: float, target: float | None, href: str) -> None:
    if target:
        percent = round(100 * calories / target)
        detail = f"of {target:,.0f} kcal target ({percent}%)"
    else:
        percent = None
        detail = "No target yet: it needs your birth date, sex, height and weight"
    panels.cards["calories"] = Card(
        label="Calories today",
        value=f"{calories:,.0f}",
        unit="kcal",
        detail=detail,
        progress_percent=min(100, percent) if percent is not None else None,
        href=href,
    )


def _water_card(panels: Panels, water: float, water_target: float | None, href: str) -> None:
    water_percent = round(100 * water / water_target) if water_target else None
    panels.cards["water"] = Card(
        label="Water today",
        value=f"{water:,.0f}",
        unit="ml",
        detail=f"of {water_target:,.0f} ml target ({water_percent}%)" if water_target else "",
        progress_percent=min(100, water_percent) if water_percent is not None else None,
        status="ok" if water_target and water >= water_target else "",
        status_text="Target reached" if water_target and water >= water_target else "",
        href=href,
    )
