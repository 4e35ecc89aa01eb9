"""The goals app's part of the dashboard (see healthtrack.core.dashboard): a progress bar per active
goal with its on-track state in words, the steps card measured against an active steps
goal (one query, none when `goals.dashboard_goals.goals_for_dashboard` is cached), and the card of
the person's active care program: today's adherence as a ring with its per-target breakdown
and a strip of up to 90 days, one cell per day (two queries)."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse

from goals.care_programs.models import CareProgram, ProgramAdherence
from goals.care_programs.program_logs import day_points, recent_logs
from goals.dashboard_goals import goals_for_dashboard
from goals.forms import format_amount
from goals.measures import get_measure
from goals.progress import goal_status, so_far_percent
from goals.readings import today_figures
from healthtrack.core import days as calendar
from healthtrack.core.charts import ring_chart, strip_chart
from healthtrack.core.dashboard import Item, Panels, ProgramPanel
from metrics.figures import stated


def contribute(panels: Panels, *, user, days: int) -> None:
    goals = goals_for_dashboard(user.pk)
    href = reverse("goals")
    today_values = today_figures(user.pk, {g["metric_type"] for g in goals})
    for goal in goals:
        measure = get_measure(goal["metric_type"])
        today_value = today_values.get(goal["metric_type"])
        judged = goal_status(
            on_track=goal["on_track"],
            progress_percent=goal["progress_percent"],
            direction=goal["direction"],
            target=goal["target_value"],
            today_value=today_value,
        )
        how = "latest" if measure.is_latest else f"{goal['period_days']}-day average"
        target = format_amount(measure, goal["target_value"])
        if goal["current_value"] is None:
            text = f"Target {target}; no complete day of data yet"
        else:
            text = f"{format_amount(measure, goal['current_value'])} ({how}) of {target}"
        if today_value is not None:
            text += f" · {format_amount(measure, today_value)} so far today"
        panels.goals.append(
            Item(
                title=goal["title"],
                text=text,
                status=judged.status,
                status_text=judged.text,
                progress_percent=judged.percent,
                href=href,
            )
        )
    _steps_against_goal(panels, goals)
    _program_card(panels, user)


def _steps_against_goal(panels: Panels, goals: list[dict]) -> None:
    card = panels.cards.get("steps")
    goal = next((g for g in goals if g["metric_type"] == "steps"), None)
    if card is None or goal is None or "steps" not in card.values:
        return
    steps, target = card.values["steps"], goal["target_value"]
    card.detail = f"so far, of your {target:,.0f} a day goal"
    card.progress_percent = so_far_percent(
        today_value=steps, direction=goal["direction"], target=target
    )
    if steps >= target:
        card.status, card.status_text = "ok", "Goal reached today"


STRIP_DAYS = 90
#: How each target of a program's breakdown reads: key -> (label, unit, scale).
TARGET_WORDS = {
    "calories": ("Calories", "kcal", 1),
    "protein_g": ("Protein", "g", 1),
    "steps": ("Steps", "steps", 1),
    "exercise_minutes": ("Exercise", "min", 1),
    "minutes": ("Sleep", "h", 60),
    "strength_sessions": ("Strength sessions", "this week", 1),
}


def _amount(value: float, unit: str, scale: int) -> str:
    value = value / scale
    text = f"{value:,.1f}" if scale != 1 else f"{value:,.0f}"
    return f"{text} {unit}"


def _target_text(key: str, entry: dict) -> str:
    label, unit, scale = TARGET_WORDS.get(key, (key, "", 1))
    if key == "strength_sessions":
        return f"{entry.get('sessions_per_week', 0):g} a week"
    lo, hi = entry.get("min"), entry.get("max")
    if lo is not None and hi is not None:
        return f"{_amount(lo, '', scale).strip()}–{_amount(hi, unit, scale)}"
    if lo is not None:
        return f"at least {_amount(lo, unit, scale)}"
    return f"at most {_amount(hi, unit, scale)}"


def program_breakdown(breakdown: dict | None) -> list[tuple[str, str, str]]:
    """(target, "figure (target …)", "score" or "no data") per target of a day's breakdown."""
    rows = []
    for key, entry in (breakdown or {}).items():
        label, unit, scale = TARGET_WORDS.get(key, (key, "", 1))
        value = entry.get("value")
        if value is None:
            figure = "no data"
        elif key == "minutes":  # a night's sleep reads as on the sleep card: 6 h 41 min
            figure = stated("sleep", value)
        else:
            figure = _amount(value, unit, scale)
        score = "no data" if entry.get("score") is None else f"{entry['score']:.0f}"
        rows.append((label, f"{figure} (target {_target_text(key, entry)})", score))
    return rows


def _no_data_breakdown(config: dict) -> dict:
    """The program's targets, each without data (a day not scored yet)."""
    out: dict[str, dict] = {}
    for dimension, body in config.items():
        if dimension == "strength":
            out["strength_sessions"] = {**body, "value": None, "score": None}
        else:
            out.update(
                {key: {**bounds, "value": None, "score": None} for key, bounds in body.items()}
            )
    return out


def _program_card(panels: Panels, user) -> None:
    today = calendar.today(user)
    program = (
        CareProgram.objects.for_user(user)
        .active()
        .filter(start_date__lte=today)
        .select_related("created_by")
        .order_by("-start_date", "-id")
        .first()
    )
    if program is None:
        return
    first = program.start_date
    last = min(program.end_date, first + timedelta(days=STRIP_DAYS - 1))
    if today > last:  # a program longer than the strip: its latest 90 days
        last = min(program.end_date, today)
        first = max(program.start_date, last - timedelta(days=STRIP_DAYS - 1))
    rows = {
        row.day: row
        for row in ProgramAdherence.objects.filter(program=program, day__gte=first, day__lte=last)
    }
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    scores = {day: row.score for day, row in rows.items()}
    # The daily logs' points count in the day's score (goals.care_programs.program_logs).
    for day, points in day_points(program.pk, first, last).items():
        scores[day] = max(0, min(100, scores.get(day, 0) + points))
    strip = strip_chart(
        [(day, scores.get(day)) for day in days],
        title=f"Adherence, {first:%-d %b} to {last:%-d %b}",
        upcoming_from=today + timedelta(days=1),
        in_progress=today,
    )
    today_row = rows.get(today)
    breakdown = program_breakdown(
        today_row.breakdown if today_row else _no_data_breakdown(program.config)
    )
    # Today is in progress (healthtrack.core.days): its score is shown as "so far", never as a
    # finished day's (the strip leaves it out of its average).
    ring = ring_chart(
        scores.get(today),
        title="Today so far (in progress)",
        rows=[(label, f"{figure}: {score}") for label, figure, score in breakdown],
        empty_text="No data yet today: the score appears with the first reading or meal.",
    )
    total = (program.end_date - program.start_date).days + 1
    day_number = (min(today, program.end_date) - program.start_date).days + 1
    by = program.created_by
    detail = f"Day {day_number} of {total}"
    if program.phase:
        detail += f" · {program.phase}"
    if by is not None and by.pk != user.pk:
        detail += f" · set by {by.get_full_name() or by.get_username()}"
    panels.programs.append(
        ProgramPanel(
            title=program.title,
            detail=detail,
            ring=ring,
            breakdown=breakdown,
            strip=strip,
            logs=recent_logs(program),
        )
    )
