"""The insights app's part of the dashboard (see healthtrack.core.dashboard): the top 5 current
recommendations with their reasoning and an acknowledge button, active alerts (unacknowledged,
from the last 30 days; never cached), the judgement on the blood-pressure and resting heart
rate cards (the same thresholds as the alert and recommendation rules), and the quick-log
actions. One query."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from healthtrack.core.dashboard import Item, Panels, QuickAction, QuickInput
from insights.models import HealthInsight
from insights.rules import thresholds
from insights.services import recommendations_refresh_if_stale

TOP_RECOMMENDATIONS = 5
ALERT_DAYS = 30
SEVERITY_STATUS = {"high": "alert", "medium": "warning", "low": "neutral"}
SEVERITY_TEXT = {"high": "High priority", "medium": "Medium priority", "low": "Low priority"}


def contribute(panels: Panels, *, user, days: int) -> None:
    dashboard = reverse("dashboard")
    # Recommendations whose inputs changed are recomputed before they are shown again.
    recommendations_refresh_if_stale(user=user)
    # One query for both: the current unacknowledged recommendations and the recent
    # unacknowledged alerts (few rows: at most 5 current recommendations exist).
    rows = (
        HealthInsight.objects.for_user(user.pk)
        .filter(acknowledged_at__isnull=True)
        .filter(
            Q(kind=HealthInsight.Kind.RECOMMENDATION, superseded_at__isnull=True)
            | Q(
                kind=HealthInsight.Kind.ALERT,
                created_at__gte=timezone.now() - timedelta(days=ALERT_DAYS),
            )
        )
        .order_by("rank", "-created_at", "-id")
    )
    recommendations = [r for r in rows if r.kind == HealthInsight.Kind.RECOMMENDATION]
    alerts = sorted(
        (r for r in rows if r.kind == HealthInsight.Kind.ALERT),
        key=lambda r: (r.created_at, r.pk),
        reverse=True,
    )
    for rec in recommendations[:TOP_RECOMMENDATIONS]:
        panels.recommendations.append(
            Item(
                title=rec.title,
                text=rec.message,
                status=SEVERITY_STATUS.get(rec.severity, "neutral"),
                status_text=SEVERITY_TEXT.get(rec.severity, ""),
                action_url=reverse("insights-acknowledge", args=[rec.pk]),
                action_label="Got it",
                href=dashboard,
            )
        )
    for alert in alerts:
        panels.alerts.append(
            Item(
                title=alert.title,
                text=alert.message,
                status="alert" if alert.severity == "high" else "warning",
                href=reverse("insights") + "?kind=alert",
                action_url=reverse("insights-acknowledge", args=[alert.pk]),
                action_label="I have seen this",
            )
        )
    _judge_cards(panels)
    _quick_actions(panels)


def _judge_cards(panels: Panels) -> None:
    limits = thresholds()
    bp = panels.cards.get("blood_pressure")
    if bp is not None and {"systolic", "diastolic"} <= bp.values.keys():
        systolic, diastolic = bp.values["systolic"], bp.values["diastolic"]
        if systolic >= limits["bp_crisis_systolic"] or diastolic >= limits["bp_crisis_diastolic"]:
            bp.status, bp.status_text = "alert", "Very high"
        elif systolic >= limits["bp_high_systolic"] or diastolic >= limits["bp_high_diastolic"]:
            bp.status, bp.status_text = "warning", "High"
        else:
            bp.status, bp.status_text = "ok", "In range"
    rhr = panels.cards.get("resting_heart_rate")
    if rhr is not None and "bpm" in rhr.values:
        if rhr.values["bpm"] > limits["resting_hr_max"]:
            rhr.status, rhr.status_text = "warning", "Above usual range"
        else:
            rhr.status, rhr.status_text = "ok", "In range"


def _quick_actions(panels: Panels) -> None:
    water = reverse("quick-log", args=["water"])
    panels.quick_actions += [
        QuickAction("Water", "+250 ml", water, hidden={"amount_ml": "250"}),
        QuickAction("Water", "+500 ml", water, hidden={"amount_ml": "500"}),
        QuickAction(
            "Workout",
            "Log workout",
            reverse("quick-log", args=["gym"]),
            input=QuickInput("minutes", "Minutes", "30", "min", "1", "1440"),
            hidden={"activity": "Workout"},
        ),
        QuickAction(
            "Snack",
            "Log",
            reverse("quick-log", args=["food"]),
            input=QuickInput("food", "What did you eat?", "", "", kind="text"),
            help_text="A food from the catalogue, e.g. “apple”. For a whole meal, use the "
            "Nutrition diary.",
        ),
    ]
