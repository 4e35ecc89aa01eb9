"""Daily charts as server-rendered inline SVG (no script, no CDN, no `style` attributes, so
they pass a strict Content-Security-Policy). Used by the admin patient page and the share
pages.

    chart = daily_chart(points, kind="bar", title="Steps per day", unit="count")
    {{ chart }}   # in a template: a <figure> with the <svg>

`points` is one `(day, value)` pair per day, oldest first; `None` is a day without data (a gap
in a line, no bar). Marks carry a `<title>` (the tooltip) with the day and value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import count
from typing import Literal

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from metrics.registry import SUM, get_metric_type

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 30
_ids = count(1)


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def fill_days(values: dict[date, float], start: date, end: date) -> list[tuple[date, float | None]]:
    """One point per day start..end (inclusive), None where `values` has no entry."""
    return [(day, values.get(day)) for day in days_between(start, end)]


def format_value(value: float | None) -> str:
    if value is None:
        return "–"
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def _n(number: float) -> str:
    return f"{number:.1f}"


def _nice_step(span: float, ticks: int = 4) -> float:
    raw = span / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _scale(values: list[float], *, from_zero: bool) -> tuple[float, float, list[float]]:
    low, high = min(values), max(values)
    if from_zero:
        low = min(low, 0.0)
    if high == low:
        high, low = high + 1, (low if from_zero else low - 1)
    step = _nice_step(high - low)
    low = math.floor(low / step) * step
    high = math.ceil(high / step) * step
    ticks = [low + i * step for i in range(round((high - low) / step) + 1)]
    return low, high, ticks


@dataclass(frozen=True)
class Chart:
    svg: SafeString
    title: str

    def __str__(self) -> str:
        return self.svg

    def __html__(self) -> str:
        return self.svg


def daily_chart(
    points: Sequence[tuple[date, float | None]],
    *,
    kind: Literal["bar", "line"],
    title: str,
    unit: str = "",
) -> Chart:
    """A bar or line chart of daily values (see the module docstring)."""
    uid = f"chart-{next(_ids)}"
    values = [v for _, v in points if v is not None]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts: list[str] = []
    if not values:
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="middle" class="chart-empty">No data in this '
                "period</text>",
                WIDTH // 2,
                HEIGHT // 2,
            )
        )
        desc = f"{title}: no data in this period."
    else:
        low, high, ticks = _scale(values, from_zero=kind == "bar")

        def y(value: float) -> float:
            return TOP + plot_h * (1 - (value - low) / (high - low))

        slot = plot_w / max(len(points), 1)

        def x(index: int) -> float:
            return LEFT + slot * (index + 0.5)

        for tick in ticks:
            parts.append(
                format_html(
                    '<line x1="{}" x2="{}" y1="{}" y2="{}" class="chart-grid"/>'
                    '<text x="{}" y="{}" text-anchor="end" class="chart-tick">{}</text>',
                    LEFT,
                    WIDTH - RIGHT,
                    _n(y(tick)),
                    _n(y(tick)),
                    LEFT - 6,
                    _n(y(tick) + 4),
                    format_value(tick),
                )
            )
        for index in sorted({0, len(points) // 2, len(points) - 1}):
            parts.append(
                format_html(
                    '<text x="{}" y="{}" text-anchor="middle" class="chart-tick">{}</text>',
                    _n(x(index)),
                    HEIGHT - 8,
                    points[index][0].strftime("%d %b"),
                )
            )
        if kind == "bar":
            width = max(slot * 0.7, 1)
            base = y(max(low, 0.0))
            for index, (day, value) in enumerate(points):
                if value is None:
                    continue
                top = y(value)
                parts.append(
                    format_html(
                        '<rect x="{}" y="{}" width="{}" height="{}" '
                        'class="chart-bar"><title>{}: {} {}</title></rect>',
                        _n(x(index) - width / 2),
                        _n(min(top, base)),
                        _n(width),
                        _n(max(abs(base - top), 0.5)),
                        day.isoformat(),
                        format_value(value),
                        unit,
                    )
                )
        else:
            runs: list[list[str]] = [[]]
            for index, (_, value) in enumerate(points):
                if value is None:
                    runs.append([])
                else:
                    runs[-1].append(f"{x(index):.1f},{y(value):.1f}")
            for run in runs:
                if len(run) > 1:
                    parts.append(
                        format_html('<polyline points="{}" class="chart-line"/>', " ".join(run))
                    )
            for index, (day, value) in enumerate(points):
                if value is None:
                    continue
                parts.append(
                    format_html(
                        '<circle cx="{}" cy="{}" r="3" class="chart-dot">'
                        "<title>{}: {} {}</title></circle>",
                        _n(x(index)),
                        _n(y(value)),
                        day.isoformat(),
                        format_value(value),
                        unit,
                    )
                )
        desc = (
            f"{title}: {len(values)} of {len(points)} days with data, from "
            f"{format_value(min(values))} to {format_value(max(values))} {unit}."
        ).replace(" .", ".")
    svg = format_html(
        '<figure class="chart"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" '
        'role="img" aria-labelledby="{}-t {}-d" class="chart-svg"><title id="{}-t">{}</title>'
        '<desc id="{}-d">{}</desc>{}</svg><figcaption>{}</figcaption></figure>',
        WIDTH,
        HEIGHT,
        uid,
        uid,
        uid,
        title,
        uid,
        desc,
        mark_safe("".join(parts)),  # noqa: S308 (every part is built with format_html)
        desc,
    )
    return Chart(svg=svg, title=title)


def metric_chart(
    metric_type: str, values: dict[date, float], start: date, end: date, *, title: str = ""
) -> Chart:
    """The chart for a metric type's daily values: bars for summed types (steps per day),
    a line for averaged and latest-value ones."""
    mtype = get_metric_type(metric_type)
    return daily_chart(
        fill_days(values, start, end),
        kind="bar" if mtype.aggregation == SUM else "line",
        title=title or mtype.name,
        unit=mtype.unit,
    )
