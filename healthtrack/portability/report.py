"""The doctor-ready report: a printable HTML page for a chosen period with a summary table per
measurement type (from the daily rollups, through `metrics.summary.summary`), a chart per
type (inline SVG drawn on the server, so it prints and needs no script), nutrition averages,
alerts and goals.

Figures are stated for people, with the rules every page uses: `metrics.figures` (rounding,
units in words, sleep as h min, blood pressure as 128/82), `healthtrack.core.days` (today is in
progress: a period reaching today counts only its finished days) and `goals.progress`
(on track / behind). Chart axes span at least the type's clinically meaningful range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from healthtrack.core import days as calendar
from healthtrack.core.charts import axis_range
from healthtrack.portability.export import goals_model
from insights.models import HealthInsight
from metrics.figures import min_span, stated
from metrics.nights import nights
from metrics.registry import METRIC_TYPES, SUM
from metrics.summary import summary as metrics_summary
from nutrition.models import NutritionLog

DEFAULT_DAYS = 30
MAX_DAYS = 366
BP_TYPES = ("blood_pressure_systolic", "blood_pressure_diastolic")
BP_HALVES = tuple(zip(BP_TYPES, ("Systolic", "Diastolic"), strict=True))
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


def period(start: date | None, end: date | None, today: date | None = None) -> tuple[date, date]:
    """The report's days: `end` defaults to today, `start` to 30 days before `end`."""
    today = today or calendar.today()
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    return start, end


# --- charts ----------------------------------------------------------------------------------

WIDTH, HEIGHT = 640, 170
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 26
LEGEND = 16  # height of the legend row above the plot
LEGEND_CHAR, LEGEND_GAP = 7, 18  # a legend entry's width per character, space between entries


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:,.1f}"


def svg_chart(
    title: str,
    series: list[tuple[str, list[tuple[date, float]]]],
    start: date,
    end: date,
    *,
    bars: bool = False,
    span: float = 0.0,
) -> SafeString:
    """A chart of daily values as inline SVG: bars for daily totals, lines otherwise (one
    line per series, e.g. systolic and diastolic). The value axis covers at least `span`
    (`metrics.figures.min_span`), padded; several series get a legend above the plot, never
    over the lines."""
    values = [v for _, points in series for _, v in points]
    low, high = axis_range(values, from_zero=bars, min_span=span)
    top = TOP + (LEGEND if len(series) > 1 else 0)
    slots = (end - start).days + 1  # one slot per day, values at its centre
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - top - BOTTOM

    def x(day: date) -> float:
        return LEFT + ((day - start).days + 0.5) / slots * plot_w

    def y(value: float) -> float:
        return top + (high - value) / (high - low) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f'<line class="axis" x1="{LEFT}" y1="{top + plot_h}" x2="{WIDTH - RIGHT}" '
        f'y2="{top + plot_h}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{top + plot_h}"/>',
        f'<line class="grid" x1="{LEFT}" y1="{top + plot_h / 2:.1f}" x2="{WIDTH - RIGHT}" '
        f'y2="{top + plot_h / 2:.1f}"/>',
        f'<text class="label" x="{LEFT - 6}" y="{top + 4}" text-anchor="end">'
        f"{_number(high)}</text>",
        f'<text class="label" x="{LEFT - 6}" y="{top + plot_h}" text-anchor="end">'
        f"{_number(low)}</text>",
        f'<text class="label" x="{LEFT}" y="{HEIGHT - 6}">{start.isoformat()}</text>',
        f'<text class="label" x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" text-anchor="end">'
        f"{end.isoformat()}</text>",
    ]
    if len(series) > 1:
        left = LEFT
        for index, (name, _) in enumerate(series):
            parts.append(
                f'<text class="legend series-{index}" x="{left}" '
                f'y="{TOP + 8}">{escape(name)}</text>'
            )
            # Side by side, never over each other: ~7 units a character (11px bold) and a gap.
            left += len(name) * LEGEND_CHAR + LEGEND_GAP
    bar_width = max(plot_w / slots * 0.8, 1.0)
    for index, (name, points) in enumerate(series):
        css = f"series series-{index}"
        if bars:
            for day, value in points:
                bar_top = y(value)
                parts.append(
                    f'<rect class="{css}" x="{x(day) - bar_width / 2:.1f}" y="{bar_top:.1f}" '
                    f'width="{bar_width:.1f}" height="{top + plot_h - bar_top:.1f}">'
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
        summed = entry["aggregation"] == SUM
        per = " per night" if code == "sleep" else " per day"
        title = entry["name"] + (per if summed else "")
        points, unit = _series(entry), METRIC_TYPES[code].unit_label
        if code == "sleep":  # minutes read badly on an axis: hours
            points, unit = [(day, round(value / 60, 1)) for day, value in points], "h"
        svg = svg_chart(
            title, [(entry["name"], points)], start, end, bars=summed, span=min_span(code)
        )
        charts.append(Chart(title, unit, svg))
    # The chart's title says blood pressure: the legend names the halves.
    pressures = [(half, _series(metrics[c])) for c, half in BP_HALVES if c in metrics]
    if pressures:
        svg = svg_chart("Blood pressure", pressures, start, end, span=min_span("blood_pressure"))
        charts.insert(0, Chart("Blood pressure", "mmHg", svg))
    return charts


def _pair(systolic: float | None, diastolic: float | None) -> str:
    if systolic is None or diastolic is None:
        return "–"
    sys_text = stated(BP_TYPES[0], systolic).removesuffix(" mmHg")
    return f"{sys_text}/{stated(BP_TYPES[1], diastolic)}"


def _rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """The summary table, stated for people: units in words, sleep as h min, steps whole,
    blood pressure as one systolic/diastolic row (128/82 mmHg)."""
    rows = []
    for code, entry in metrics.items():
        if code in BP_TYPES:
            if code == BP_TYPES[0] and BP_TYPES[1] in metrics:
                sys_, dia = entry, metrics[BP_TYPES[1]]
                latest_s, latest_d = sys_["latest"], dia["latest"]
                rows.append(
                    {
                        "code": "blood_pressure",
                        "name": "Blood pressure (systolic/diastolic)",
                        "average": _pair(sys_["average"], dia["average"]),
                        "min": _pair(sys_["min"], dia["min"]),
                        "max": _pair(sys_["max"], dia["max"]),
                        "latest": _pair(
                            latest_s and latest_s["value"], latest_d and latest_d["value"]
                        ),
                        "days_with_data": sys_["days_with_data"],
                        "count": sys_["count"] + dia["count"],
                    }
                )
                continue
            if code == BP_TYPES[1] and BP_TYPES[0] in metrics:
                continue  # in the pair's row
        per = " (per night)" if code == "sleep" else " (per day)"
        name = entry["name"] + (per if entry["aggregation"] == SUM else "")
        rows.append(
            {
                "code": code,
                "name": name,
                "average": stated(code, entry["average"]),
                "min": stated(code, entry["min"]),
                "max": stated(code, entry["max"]),
                "latest": stated(code, entry["latest"]["value"]) if entry["latest"] else "–",
                "days_with_data": entry["days_with_data"],
                "count": entry["count"],
            }
        )
    return rows


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


def _goal_value(goal, name: str) -> str:
    """One cell of the goals table as people read it."""
    from goals.forms import format_amount
    from goals.measures import MEASURES
    from goals.progress import goal_status

    value = getattr(goal, name, None)
    measure = MEASURES.get(getattr(goal, "metric_type", ""))
    if name in ("target_value", "current_value", "baseline_value"):
        if measure is None:
            return "–" if value is None else f"{value:,g}"
        return format_amount(measure, value)
    if name == "unit":
        return ""  # stated with the values
    if name == "metric_type":
        return measure.name if measure is not None else str(value)
    if name == "progress_percent":
        return "–" if value is None else f"{min(value, 100):.0f} %"
    if name == "on_track":
        if goal.status != "active":
            return "–"
        return goal_status(
            on_track=value,
            progress_percent=goal.progress_percent,
            direction=goal.direction,
            target=goal.target_value,
        ).text
    field = goal._meta.get_field(name)
    if field.choices:
        return getattr(goal, f"get_{name}_display")()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def _goals(owner) -> tuple[list[str], list[list[Any]]]:
    """Column labels and rows of the owner's goals, every value stated for people (amounts
    with their unit, dates as the rest of the report writes them, on track in words)."""
    model = goals_model()
    if model is None:
        return [], []
    hidden = {"id", "created_at", "updated_at"}
    by_name = {f.name: f for f in model._meta.concrete_fields if not f.is_relation}
    fields = [by_name[name] for name in GOAL_COLUMNS if name in by_name] or [
        f for name, f in by_name.items() if name not in hidden
    ]
    fields = [f for f in fields if f.name != "unit"]
    labels = {"on_track": "on track", "metric_type": "measure"}
    rows = [
        [_goal_value(goal, f.name) for f in fields]
        for goal in model.objects.filter(user=owner).order_by("pk")
    ]
    return [labels.get(f.name, str(f.verbose_name)) for f in fields], rows


def _sleep_by_night(metrics: dict[str, Any], owner, first: date, last: date) -> None:
    """Sleep per night, keyed by the morning it ended (`metrics.nights`, as the dashboard's
    sleep card and the care program read it), instead of by the day a sample started."""
    per_night = nights(user_id=owner.pk, first=first, last=last)
    if not per_night:
        metrics.pop("sleep", None)
        return
    entry = metrics.get("sleep") or {
        "name": METRIC_TYPES["sleep"].name,
        "unit": METRIC_TYPES["sleep"].unit,
        "aggregation": SUM,
        "count": 0,
    }
    days_ = sorted(per_night)
    values = [per_night[day] for day in days_]
    entry.update(
        average=sum(values) / len(values),
        min=min(values),
        max=max(values),
        days_with_data=len(values),
        latest={"recorded_at": days_[-1], "value": per_night[days_[-1]]},
        series=[{"date": day, "value": per_night[day]} for day in days_],
    )
    metrics["sleep"] = entry


def report_context(*, owner, start: date, end: date) -> dict[str, Any]:
    # Today is in progress (healthtrack.core.days): a period reaching it counts only finished days.
    finished = calendar.finished_days(start, end, owner)
    metrics: dict[str, Any] = {}
    if finished is not None:
        first, last = finished
        summary = metrics_summary(user_id=owner.pk, days=(last - first).days + 1, today=last)
        metrics = summary["metrics"]
        _sleep_by_night(metrics, owner, first, last)
    alerts = (
        HealthInsight.objects.for_user(owner.pk)
        .alerts()
        .filter(
            created_at__gte=calendar.day_start(start, owner),
            created_at__lt=calendar.day_start(end + timedelta(days=1), owner),
        )
        .order_by("-created_at", "-id")
    )
    goal_columns, goal_rows = _goals(owner)
    return {
        "owner": owner,
        "age": owner.age_on(end),
        "start": start,
        "end": end,
        "generated_at": timezone.now(),
        "rows": _rows(metrics),
        "partial_today": end >= calendar.today(owner),
        "charts": _charts(metrics, start, end),
        "nutrition": _nutrition(owner, *finished) if finished is not None else None,
        "alerts": list(alerts),
        "goal_columns": goal_columns,
        "goal_rows": goal_rows,
        "goals_available": goals_model() is not None,
    }


def render_report(*, owner, start: date, end: date) -> str:
    return render_to_string(
        "portability/report.html", report_context(owner=owner, start=start, end=end)
    )
