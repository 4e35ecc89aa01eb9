"""Charts of a metric type's daily values, drawn with the project's SVG charts
(`healthtrack.core.charts`): bars for summed types (steps per day), a line for averaged and
latest-value ones. Used by the admin patient page and the share pages."""

from __future__ import annotations

from datetime import date, timedelta

from healthtrack.core import charts
from metrics.figures import min_span
from metrics.registry import SUM, get_metric_type


def fill_days(values: dict[date, float], start: date, end: date) -> list[tuple[date, float | None]]:
    """One point per day start..end (inclusive), None where `values` has no entry."""
    return [
        (start + timedelta(days=i), values.get(start + timedelta(days=i)))
        for i in range((end - start).days + 1)
    ]


def metric_chart(
    metric_type: str, values: dict[date, float], start: date, end: date, *, title: str = ""
) -> charts.Chart:
    mtype = get_metric_type(metric_type)
    points = fill_days(values, start, end)
    title = title or mtype.name
    if mtype.aggregation == SUM:
        return charts.bar_chart(
            points, title=title, unit=mtype.unit_label, empty_text="No data in this period."
        )
    return charts.line_chart(
        points,
        title=title,
        unit=mtype.unit_label,
        empty_text="No data in this period.",
        min_span=min_span(metric_type),
    )


def format_value(value: float | None) -> str:
    """A reading for people: thousands grouped, at most one decimal."""
    if value is None:
        return "–"
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}"
