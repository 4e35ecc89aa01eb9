"""The goals app's part of the dashboard (see accounts.dashboard): a progress bar per active
goal with its on-track state in words, and the steps card measured against an active steps
goal. One query, none when `goals.selectors.goals_for_dashboard` is cached."""

from __future__ import annotations

from django.urls import reverse

from accounts.dashboard import Item, Panels
from goals.forms import format_amount
from goals.measures import get_measure
from goals.selectors import goals_for_dashboard


def contribute(panels: Panels, *, user, days: int) -> None:
    goals = goals_for_dashboard(user.pk)
    href = reverse("goals")
    for goal in goals:
        measure = get_measure(goal["metric_type"])
        if goal["on_track"] is None:
            status, status_text = "neutral", "Not enough data yet"
        elif goal["on_track"]:
            status, status_text = "ok", "On track"
        else:
            status, status_text = "warning", "Behind"
        how = "latest" if measure.is_latest else f"{goal['period_days']}-day average"
        target = format_amount(measure, goal["target_value"])
        if goal["current_value"] is None:
            text = f"Target {target}; no complete day of data yet"
        else:
            text = f"{format_amount(measure, goal['current_value'])} ({how}) of {target}"
        panels.goals.append(
            Item(
                title=goal["title"],
                text=text,
                status=status,
                status_text=status_text,
                progress_percent=round(goal["progress_percent"]),
                href=href,
            )
        )
    _steps_against_goal(panels, goals)


def _steps_against_goal(panels: Panels, goals: list[dict]) -> None:
    card = panels.cards.get("steps")
    goal = next((g for g in goals if g["metric_type"] == "steps"), None)
    if card is None or goal is None or "steps" not in card.values:
        return
    steps, target = card.values["steps"], goal["target_value"]
    card.detail = f"of your {target:,.0f} a day goal"
    card.progress_percent = min(100, round(100 * steps / target))
    if steps >= target:
        card.status, card.status_text = "ok", "Goal reached today"
