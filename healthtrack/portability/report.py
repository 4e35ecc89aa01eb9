"""The doctor-ready report: a printable HTML page for a chosen period with a summary table per
measurement type (from the daily rollups, through `metrics.selectors.summary`), a chart per
type (inline SVG drawn on the server, so it prints and needs no script), nutrition averages,
alerts and goals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from healthtrack.portability.export import goals_model
from insights.models import HealthInsight
from metrics import selectors
from metrics.registry import SUM
from metrics.rollups import day_start
from nutrition.models import NutritionLog

DEFAULT_DAYS = 30
MAX_DAYS = 366
BP_TYPES = ("blood_pressure_systolic", "blood_pressure_diastolic")
# The goal fields the report shows, where the goals app has them (else all of them).
GOAL_COLUMNS = [
    "title",
    "metric_type",
    "direction",
    "target_value",
    "unit",
    "current_value",
    "progress_percent",
    "on_track",
    "status",
    "start_date",
    "target_date",
]
# Shown without decimals in the summary table.
WHOLE_UNITS = {"count", "m", "kcal"}


def period(start: date | None, end: date | None, today: date | None = None) -> tuple[date, date]:
    """The report's days: `end` defaults to today, `start` to 30 days before `end`."""
    today = today or timezone.now().date()
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    return start, end


# --- charts ----------------------------------------------------------------------------------

WIDTH, HEIGHT = 640, 170
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 26


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def svg_chart(
    title: str,
    series: list[tuple[str, list[tuple[date, float]]]],
    start: date,
    end: date,
    *,
    bars: bool = False,
) -> SafeString:
    """A chart of daily values as inline SVG: bars for daily totals, lines otherwise (one
    line per series, e.g. systolic and diastolic)."""
    values = [v for _, points in series for _, v in points]
    low, high = (0.0 if bars else min(values)), max(values)
    if high - low < 1e-9:
        low, high = low - 1, high + 1
    slots = (end - start).days + 1  # one slot per day, values at its centre
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: date) -> float:
        return LEFT + ((day - start).days + 0.5) / slots * plot_w

    def y(value: float) -> float:
        return TOP + (high - value) / (high - low) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" '
        f'y2="{TOP + plot_h}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}"/>',
        f'<line class="grid" x1="{LEFT}" y1="{TOP + plot_h / 2:.1f}" x2="{WIDTH - RIGHT}" '
        f'y2="{TOP + plot_h / 2:.1f}"/>',
        f'<text class="label" x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">'
        f"{_number(high)}</text>",
        f'<text class="label" x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end">'
        f"{_number(low)}</text>",
        f'<text class="label" x="{LEFT}" y="{HEIGHT - 6}">{start.isoformat()}</text>',
        f'<text class="label" x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" text-anchor="end">'
        f"{end.isoformat()}</text>",
    ]
    if len(series) > 1:
        for index, (name, _) in enumerate(series):
            parts.append(
                f'<text class="legend series-{index}" x="{WIDTH - RIGHT}" '
                f'y="{TOP + 10 + 13 * index}" text-anchor="end">{escape(name)}</text>'
            )
    bar_width = max(plot_w / slots * 0.8, 1.0)
    for index, (name, points) in enumerate(series):
        css = f"series series-{index}"
        if bars:
            for day, value in points:
                top = y(value)
                parts.append(
                    f'<rect class="{css}" x="{x(day) - bar_width / 2:.1f}" y="{top:.1f}" '
                    f'width="{bar_width:.1f}" height="{TOP + plot_h - top:.1f}">'
                    f"<title>{day.isoformat()}: {_number(value)}</title></rect>"
                )
            continue
        coordinates = " ".join(f"{x(day):.1f},{y(value):.1f}" for day, value in points)
        parts.append(f'<polyline class="{css}" fill="none" points="{coordinates}">')
        parts.append(f"<title>{escape(name)}</title></polyline>")
        for day, value in points:
            parts.append(
                f'<circle class="{css}" cx="{x(day):.1f}" cy="{y(value):.1f}" r="2.5">'
                f"<title>{day.isoformat()}: {_number(value)}</title></circle>"
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped above


# --- the report ------------------------------------------------------------------------------


@dataclass
class Chart:
    title: str
    unit: str
    svg: SafeString


def _series(entry: dict[str, Any]) -> list[tuple[date, float]]:
    return [(point["date"], point["value"]) for point in entry["series"]]


def _charts(metrics: dict[str, Any], start: date, end: date) -> list[Chart]:
    charts = []
    for code, entry in metrics.items():
        if code in BP_TYPES:
            continue
        title = entry["name"] + (" per day" if entry["aggregation"] == SUM else "")
        svg = svg_chart(
            title, [(entry["name"], _series(entry))], start, end, bars=entry["aggregation"] == SUM
        )
        charts.append(Chart(title, entry["unit"], svg))
    pressures = [(metrics[c]["name"], _series(metrics[c])) for c in BP_TYPES if c in metrics]
    if pressures:
        charts.insert(
            0, Chart("Blood pressure", "mmHg", svg_chart("Blood pressure", pressures, start, end))
        )
    return charts


def _nutrition(owner, start: date, end: date) -> dict[str, Any] | None:
    days = list(NutritionLog.objects.for_user(owner).on_days(start, end).daily_totals())
    if not days:
        return None

    def average(field: str) -> float | None:
        values = [d[field] for d in days if d[field] is not None]
        return sum(values) / len(values) if values else None

    return {
        "days": len(days),
        "calories": average("calories"),
        "protein_g": average("protein_g"),
        "water_ml": average("water_ml"),
    }


def _goals(owner) -> tuple[list[str], list[list[Any]]]:
    """Column labels and rows of the owner's goals (any shape the goals app gives them)."""
    model = goals_model()
    if model is None:
        return [], []
    hidden = {"id", "created_at", "updated_at"}
    by_name = {f.name: f for f in model._meta.concrete_fields if not f.is_relation}
    fields = [by_name[name] for name in GOAL_COLUMNS if name in by_name] or [
        f for name, f in by_name.items() if name not in hidden
    ]
    rows = [
        [
            getattr(goal, f"get_{f.name}_display")() if f.choices else getattr(goal, f.name)
            for f in fields
        ]
        for goal in model.objects.filter(user=owner).order_by("pk")
    ]
    return [str(f.verbose_name) for f in fields], rows


def report_context(*, owner, start: date, end: date) -> dict[str, Any]:
    summary = selectors.summary(user_id=owner.pk, days=(end - start).days + 1, today=end)
    metrics = summary["metrics"]
    alerts = (
        HealthInsight.objects.for_user(owner.pk)
        .alerts()
        .filter(created_at__gte=day_start(start), created_at__lt=day_start(end + timedelta(days=1)))
        .order_by("-created_at", "-id")
    )
    goal_columns, goal_rows = _goals(owner)
    return {
        "owner": owner,
        "age": owner.age_on(end),
        "start": start,
        "end": end,
        "generated_at": timezone.now(),
        "rows": [
            {"code": code, "decimals": 0 if entry["unit"] in WHOLE_UNITS else 1, **entry}
            for code, entry in metrics.items()
        ],
        "charts": _charts(metrics, start, end),
        "nutrition": _nutrition(owner, start, end),
        "alerts": list(alerts),
        "goal_columns": goal_columns,
        "goal_rows": goal_rows,
        "goals_available": goals_model() is not None,
    }


def render_report(*, owner, start: date, end: date) -> str:
    return render_to_string(
        "portability/report.html", report_context(owner=owner, start=start, end=end)
    )
