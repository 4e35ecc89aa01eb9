"""Server-rendered, accessible SVG charts: bars, lines and a band (low–high range per point).

    chart = bar_chart([(date(2026, 3, 1), 8432), (date(2026, 3, 2), None), ...],
                      title="Steps", unit="steps", guides=[(10000, "Goal")])
    {{ chart }}                      # in a template: the whole <figure>

Each chart is a `<figure>` holding an inline `<svg role="img">` (with `<title>`, `<desc>`, axis
tick labels, the unit as the axis title and a `<title>` tooltip on every mark), a one-sentence
summary in the caption, and the data as a `<table>` inside `<details>` (the text alternative).
`None` values are gaps: no bar, a break in the line. With no value at all the figure is an
empty state saying so. No inline style and no script, so the strict CSP holds; colours come
from `static/css/app.css` (`.chart-*` classes).
"""

from __future__ import annotations

import hashlib
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify

Label = date | datetime | str
Number = int | float

WIDTH, HEIGHT = 480, 220
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 52, 12, 32, 28
PLOT_W = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
PLOT_H = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
MAX_X_LABELS = 7
MAX_MARKERS = 31  # a line with more points than this marks only its latest one


@dataclass(frozen=True)
class Chart:
    """A rendered chart. `str(chart)` / `{{ chart }}` gives the whole `<figure>`."""

    kind: str
    title: str
    summary: str
    svg: SafeString = field(repr=False)
    table: SafeString = field(repr=False)
    is_empty: bool = False

    def __html__(self) -> SafeString:
        if self.is_empty:
            return format_html(
                '<figure class="chart chart-type-{} chart-empty">'
                '<figcaption class="chart-title">{}</figcaption>'
                '<p class="chart-summary">{}</p></figure>',
                self.kind,
                self.title,
                self.summary,
            )
        return format_html(
            '<figure class="chart chart-type-{}"><figcaption class="chart-title">{}</figcaption>'
            '{}<p class="chart-summary">{}</p><details class="chart-data">'
            "<summary>Show the data as a table</summary>{}</details></figure>",
            self.kind,
            self.title,
            self.svg,
            self.summary,
            self.table,
        )

    def __str__(self) -> str:
        return str(self.__html__())


# --- public API -----------------------------------------------------------------------------


def bar_chart(
    points: Sequence[tuple[Label, Number | None]],
    *,
    title: str,
    unit: str = "",
    guides: Sequence[tuple[Number, str]] = (),
    decimals: int | None = None,
    empty_text: str = "No data for this period yet.",
) -> Chart:
    """One bar per point, from zero. `guides`: reference lines such as a daily goal."""
    series = _Series.of(points, decimals)
    if series.empty:
        return _empty("bar", title, empty_text)
    scale = _Scale.fit([0, *series.present, *(g for g, _ in guides)], from_zero=True)
    step = PLOT_W / series.n
    bar_w = max(1.0, step * 0.7)
    marks = []
    for i, (label, value) in enumerate(series.points):
        if value is None:
            continue
        x = MARGIN_LEFT + i * step + (step - bar_w) / 2
        top, bottom = sorted((scale.y(value), scale.y(0)))  # a negative value hangs below 0
        marks.append(
            _html(
                '<rect class="chart-bar" x="{}" y="{}" width="{}" height="{}">'
                "<title>{}: {}</title></rect>",
                _n(x),
                _n(top),
                _n(bar_w),
                _n(bottom - top),
                _label(label),
                series.fmt(value, unit),
            )
        )
    summary = series.summary(unit, guides)
    return _chart("bar", title, unit, series, scale, marks, guides, summary)


def line_chart(
    points: Sequence[tuple[Label, Number | None]],
    *,
    title: str,
    unit: str = "",
    guides: Sequence[tuple[Number, str]] = (),
    decimals: int | None = None,
    empty_text: str = "No data for this period yet.",
    connect_gaps: bool = False,
    min_span: float = 0.0,
) -> Chart:
    """A line through the points; a `None` breaks it, unless `connect_gaps` (for values
    measured now and then, such as weight, where a day without a reading is no break). Each
    point gets a marker (with a tooltip) up to MAX_MARKERS points; past that only the latest
    one does."""
    series = _Series.of(points, decimals)
    if series.empty:
        return _empty("line", title, empty_text)
    scale = _Scale.fit([*series.present, *(g for g, _ in guides)], min_span=min_span)
    marks = []
    runs = [_indexed(series.points)] if connect_gaps else _runs(series.points)
    for run in runs:
        if len(run) < 2:
            continue  # a lone point is drawn by its marker only
        coords = " ".join(f"{_n(_x(i, series.n))},{_n(scale.y(v))}" for i, _label_, v in run)
        marks.append(format_html('<polyline class="chart-line" points="{}"/>', coords))
    indexed = _indexed(series.points)
    if series.n > MAX_MARKERS:
        indexed = indexed[-1:]  # a long line stays readable; the latest value is marked
    for i, label, value in indexed:
        marks.append(
            _html(
                '<circle class="chart-point" cx="{}" cy="{}" r="3"><title>{}: {}</title></circle>',
                _n(_x(i, series.n)),
                _n(scale.y(value)),
                _label(label),
                series.fmt(value, unit),
            )
        )
    summary = series.summary(unit, guides)
    return _chart("line", title, unit, series, scale, marks, guides, summary)


def band_chart(
    points: Sequence[tuple[Label, Number | None, Number | None]],
    *,
    title: str,
    unit: str = "",
    low_label: str = "Low",
    high_label: str = "High",
    guides: Sequence[tuple[Number, str]] = (),
    decimals: int | None = None,
    empty_text: str = "No data for this period yet.",
    min_span: float = 0.0,
    as_pair: bool = False,
) -> Chart:
    """A vertical range from low to high per point (e.g. diastolic to systolic pressure).
    `as_pair`: the texts state a point as "high/low unit" (blood pressure's 128/82 mmHg)."""
    pairs = []
    for label, low, high in points:
        low, high = _num(low), _num(high)
        if low is None or high is None:
            pairs.append((label, None, None))
        else:
            pairs.append((label, min(low, high), max(low, high)))  # a range, whichever came first
    lows = _Series.of([(lb, lo) for lb, lo, _ in pairs], decimals)
    highs = _Series.of([(lb, hi) for lb, _, hi in pairs], decimals)
    if lows.empty:
        return _empty("band", title, empty_text)
    decimals = max(lows.decimals, highs.decimals)
    lows.decimals = highs.decimals = decimals
    scale = _Scale.fit([*lows.present, *highs.present, *(g for g, _ in guides)], min_span=min_span)
    step = PLOT_W / lows.n

    def reading(low: float, high: float) -> str:
        if as_pair:
            return f"{highs.fmt(high)}/{lows.fmt(low, unit)}"
        return f"{lows.fmt(low)}–{highs.fmt(high, unit)}"

    cap = max(2.0, min(10.0, step * 0.5))
    marks = []
    for i, (label, low, high) in enumerate(pairs):
        if low is None:
            continue
        x = _x(i, lows.n)
        y_top, y_bottom = scale.y(high), scale.y(low)
        marks.append(
            _html(
                '<g class="chart-range"><title>{}: {} {} to {} {}</title>'
                '<line x1="{}" y1="{}" x2="{}" y2="{}"/>'
                '<line class="chart-cap" x1="{}" y1="{}" x2="{}" y2="{}"/>'
                '<line class="chart-cap" x1="{}" y1="{}" x2="{}" y2="{}"/></g>',
                _label(label),
                low_label.lower(),
                lows.fmt(low, unit),
                high_label.lower(),
                highs.fmt(high, unit),
                _n(x),
                _n(y_top),
                _n(x),
                _n(y_bottom),
                _n(x - cap / 2),
                _n(y_top),
                _n(x + cap / 2),
                _n(y_top),
                _n(x - cap / 2),
                _n(y_bottom),
                _n(x + cap / 2),
                _n(y_bottom),
            )
        )
    last = next((p for p in reversed(pairs) if p[1] is not None), None)
    hi_i = max(range(len(pairs)), key=lambda k: -math.inf if pairs[k][2] is None else pairs[k][2])
    lo_i = min(range(len(pairs)), key=lambda k: math.inf if pairs[k][1] is None else pairs[k][1])
    summary = (
        f"{lows.span_text()} "
        f"Latest: {reading(last[1], last[2])} ({_label(last[0])}). "
        f"Highest {high_label.lower()}: {highs.fmt(pairs[hi_i][2], unit)} "
        f"({_label(pairs[hi_i][0])}). "
        f"Lowest {low_label.lower()}: {lows.fmt(pairs[lo_i][1], unit)} "
        f"({_label(pairs[lo_i][0])})."
    )
    table = _table(
        title,
        [
            "Date",
            f"{low_label} ({unit})" if unit else low_label,
            f"{high_label} ({unit})" if unit else high_label,
        ],
        [(_label(lb), lows.fmt(lo), highs.fmt(hi)) for lb, lo, hi in pairs],
    )
    return _chart("band", title, unit, lows, scale, marks, guides, summary, table=table)


# --- scores: a ring for one day, a strip of days -------------------------------------------

RING_SIZE, RING_RADIUS, RING_STROKE = 120, 48, 12
STRIP_W, STRIP_H = WIDTH, 36


def score_level(score: Number | None) -> str:
    """The colour class of a 0-100 score: "good" (80+), "fair" (50-79), "low" (under 50), or
    "none" without a score (no data is not 0). The words in tooltips and tables say it too."""
    if score is None:
        return "none"
    if score >= 80:
        return "good"
    if score >= 50:
        return "fair"
    return "low"


def ring_chart(
    score: Number | None,
    *,
    title: str,
    rows: Sequence[tuple[str, str]] = (),
    empty_text: str = "No data yet today.",
) -> Chart:
    """One 0-100 score as a ring filled to the score, the number in the middle. `rows` are
    the (label, text) lines behind it (e.g. each target and its score), listed in the table.
    Without a score (no data) the figure says `empty_text`: never a ring at 0."""
    value = _num(score)
    if value is None:
        return _empty("ring", title, empty_text)
    value = max(0.0, min(100.0, value))
    circumference = 2 * math.pi * RING_RADIUS
    filled = circumference * value / 100
    centre = RING_SIZE / 2
    level = score_level(value)
    summary = f"{value:.0f} out of 100."
    chart_id = _chart_id("ring", title, [(title, value)])
    svg = format_html(
        '<svg class="chart-svg chart-ring" viewBox="0 0 {s} {s}" role="img" '
        'aria-labelledby="{i}-t {i}-d" focusable="false"><title id="{i}-t">{t}</title>'
        '<desc id="{i}-d">{d}</desc>'
        '<circle class="chart-ring-track" cx="{c}" cy="{c}" r="{r}" stroke-width="{w}"/>'
        '<circle class="chart-ring-value chart-score-{lv}" cx="{c}" cy="{c}" r="{r}" '
        'stroke-width="{w}" stroke-dasharray="{f} {rest}" transform="rotate(-90 {c} {c})"/>'
        '<text class="chart-ring-text" x="{c}" y="{c}" text-anchor="middle" '
        'dominant-baseline="central">{v}</text></svg>',
        s=RING_SIZE,
        i=chart_id,
        t=title,
        d=summary,
        c=_n(centre),
        r=RING_RADIUS,
        w=RING_STROKE,
        lv=level,
        f=_n(filled),
        rest=_n(circumference - filled),
        v=f"{value:.0f}",
    )
    table = _table(title, ["Part", "Figure"], [("Score", f"{value:.0f}"), *rows])
    return Chart(kind="ring", title=title, summary=summary, svg=svg, table=table)


def strip_chart(
    points: Sequence[tuple[Label, Number | None]],
    *,
    title: str,
    upcoming_from: date | None = None,
    in_progress: date | None = None,
    empty_text: str = "No days to show yet.",
) -> Chart:
    """One cell per day coloured by its 0-100 score (`score_level`); a day without a score is
    a "no data" cell, distinct from a score of 0; days from `upcoming_from` on are "upcoming"
    (not yet lived); the `in_progress` day (today, `healthtrack.core.days`) is a partial cell, its
    score "so far", left out of the count and the average. Each cell has a tooltip; the table
    lists every day."""
    if not points:
        return _empty("strip", title, empty_text)
    n = len(points)
    step = STRIP_W / n
    cells, rows = [], []
    scored = []
    past = 0
    for i, (label, raw) in enumerate(points):
        value = _num(raw)
        upcoming = upcoming_from is not None and isinstance(label, date) and label >= upcoming_from
        partial = in_progress is not None and label == in_progress and not upcoming
        past += not upcoming and not partial
        if upcoming:
            level, text = "upcoming", "upcoming"
        elif partial:
            level = "partial"
            text = "in progress" if value is None else f"in progress, {value:.0f} so far"
        elif value is None:
            level, text = "none", "no data"
        else:
            level, text = score_level(value), f"{value:.0f}"
            scored.append(value)
        cells.append(
            _html(
                '<rect class="chart-cell chart-score-{}" x="{}" y="0" width="{}" height="{}">'
                "<title>{}: {}</title></rect>",
                level,
                _n(i * step + 0.5),
                _n(max(step - 1, 0.5)),
                STRIP_H,
                _label(label),
                text,
            )
        )
        rows.append((_label(label), text))
    if scored:
        summary = (
            f"{len(scored)} of {past} days so far have a score; "
            f"average {sum(scored) / len(scored):.0f} out of 100."
        )
    else:
        summary = (
            "The one day so far has no data yet."
            if past == 1
            else f"None of the {past} days so far has data yet."
        )
    if in_progress is not None and any(label == in_progress for label, _ in points):
        summary += " Today is in progress: it is scored once it is over."
    chart_id = _chart_id("strip", title, points)
    svg = format_html(
        '<svg class="chart-svg chart-strip" viewBox="0 0 {} {}" role="img" '
        'aria-labelledby="{}-t {}-d" focusable="false" preserveAspectRatio="none">'
        '<title id="{}-t">{}</title><desc id="{}-d">{}</desc>{}</svg>',
        STRIP_W,
        STRIP_H,
        chart_id,
        chart_id,
        chart_id,
        title,
        chart_id,
        summary,
        mark_safe("".join(cells)),  # noqa: S308 - every cell went through _html
    )
    table = _table(title, ["Date", "Score"], rows)
    return Chart(kind="strip", title=title, summary=summary, svg=svg, table=table)


# --- internals ------------------------------------------------------------------------------


def _html(template: str, *args) -> str:
    """`format_html` for the many small pieces of a chart (marks, ticks, table cells): the
    same escaping (`html.escape` of each argument), without its per-call overhead, which
    counted on a 90-day dashboard. The pieces are marked safe once, when joined."""
    return template.format(*(html.escape(str(arg)) for arg in args))


def _fixed(value: float, decimals: int = 0) -> str:
    """`value` with `decimals` places, thousands grouped, halves rounded away from zero: the
    rule every figure is stated with (`metrics.figures`), where format() rounds 82.5 to 82."""
    quantum = Decimal(1).scaleb(-decimals)
    rounded = Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP)
    return f"{rounded + 0:,.{decimals}f}"


def _num(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass
class _Series:
    points: list[tuple[Label, float | None]]
    decimals: int

    @classmethod
    def of(cls, points, decimals: int | None) -> _Series:
        clean = [(label, _num(value)) for label, value in points]
        if decimals is None:
            present = [v for _, v in clean if v is not None]
            decimals = 0 if all(float(v).is_integer() for v in present) else 1
        return cls(clean, decimals)

    @property
    def n(self) -> int:
        return len(self.points)

    @property
    def present(self) -> list[float]:
        return [v for _, v in self.points if v is not None]

    @property
    def empty(self) -> bool:
        return not self.present

    def fmt(self, value: float | None, unit: str = "") -> str:
        if value is None:
            return "no data"
        text = _fixed(value, self.decimals)
        return f"{text} {unit}" if unit else text

    @property
    def by_day(self) -> bool:
        return all(
            isinstance(label, date) and not isinstance(label, datetime) for label, _ in self.points
        )

    def count_text(self, count: int) -> str:
        if self.by_day:
            return f"{count} day" if count == 1 else f"{count} days"
        return f"{count} value" if count == 1 else f"{count} values"

    def span_text(self) -> str:
        first, last = _label(self.points[0][0]), _label(self.points[-1][0])
        span = first if first == last else f"{first} to {last}"
        return f"{span}: {self.count_text(len(self.present))} with data."

    def summary(self, unit: str, guides: Sequence[tuple[Number, str]]) -> str:
        indexed = [(label, v) for label, v in self.points if v is not None]
        low = min(indexed, key=lambda p: p[1])
        high = max(indexed, key=lambda p: p[1])
        latest = indexed[-1]
        parts = [
            self.span_text(),
            f"Latest: {self.fmt(latest[1], unit)} ({_label(latest[0])}).",
        ]
        if len(indexed) > 1:
            parts.append(f"Lowest: {self.fmt(low[1], unit)} ({_label(low[0])}).")
            parts.append(f"Highest: {self.fmt(high[1], unit)} ({_label(high[0])}).")
        for value, name in guides:
            reached = sum(1 for _, v in indexed if v >= value)
            parts.append(
                f"{name} {self.fmt(float(value), unit)}: reached on {reached} of "
                f"{self.count_text(len(indexed))}."
            )
        return " ".join(parts)


@dataclass(frozen=True)
class _Scale:
    low: float
    high: float
    step: float
    ticks: tuple[float, ...]

    @classmethod
    def fit(
        cls, values: Sequence[float], *, from_zero: bool = False, min_span: float = 0.0
    ) -> _Scale:
        lo, hi = axis_range(values, from_zero=from_zero, min_span=min_span)
        step = _nice_step((hi - lo) / 4)
        first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
        # Ticks as whole multiples of the step, so 71.1 stays 71.1 and not 71.10000000000001.
        ticks = tuple(k * step for k in range(first, last + 1))
        return cls(ticks[0], ticks[-1], step, ticks)

    def y(self, value: float) -> float:
        return MARGIN_TOP + PLOT_H * (1 - (value - self.low) / (self.high - self.low))


def axis_range(
    values: Sequence[float], *, from_zero: bool = False, min_span: float = 0.0
) -> tuple[float, float]:
    """The value range an axis shows for `values`: at least `min_span` wide (a clinically
    meaningful span, e.g. 2 °C for temperature, so 36.4-36.8 °C does not look like a fever
    swing), centred on the data, never below zero for data that is not, and padded by a tenth
    of the span each side so no point sits on the frame."""
    lo, hi = min(values), max(values)
    if from_zero:
        lo = min(lo, 0.0)
    if hi - lo < min_span:
        centre = (lo + hi) / 2
        lo, hi = centre - min_span / 2, centre + min_span / 2
    if hi - lo < 1e-9 * max(1.0, abs(hi)):  # one value (or nearly): give it some room
        pad = max(abs(hi) * 0.1, 1.0)
        lo, hi = (lo if from_zero else lo - pad), hi + pad
    elif not from_zero:
        pad = (hi - lo) * 0.1
        lo, hi = lo - pad, hi + pad
    if min(values) >= 0 and lo < 0:
        lo, hi = 0.0, hi - lo
    return lo, hi


def _nice_step(raw: float) -> float:
    exponent = math.floor(math.log10(raw))
    fraction = raw / 10**exponent
    for nice in (1, 2, 5, 10):
        if fraction <= nice:
            return nice * 10**exponent
    return 10 ** (exponent + 1)


def _x(i: int, n: int) -> float:
    return MARGIN_LEFT + (i + 0.5) * PLOT_W / n


def _n(value: float) -> str:
    """Coordinates with one decimal and no trailing zeros: compact, stable output."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _indexed(points):
    return [(i, label, v) for i, (label, v) in enumerate(points) if v is not None]


def _runs(points):
    """Consecutive stretches without a gap, each as [(i, label, value), ...]."""
    runs, current = [], []
    for i, (label, value) in enumerate(points):
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((i, label, value))
    if current:
        runs.append(current)
    return runs


def _label(label: Label) -> str:
    if isinstance(label, datetime):
        return f"{label.day} {label:%b %H:%M}"
    if isinstance(label, date):
        return f"{label.day} {label:%b}"
    return str(label)


def _tick_text(value: float, scale: _Scale) -> str:
    """Every tick of one axis in the same form: `5k 10k 15k`, `69.4 69.6`, `60 80 100`."""
    if max(abs(scale.low), abs(scale.high)) >= 10_000 and scale.step >= 100:
        decimals = 0 if scale.step % 1000 == 0 else 1
        return f"{value / 1000:,.{decimals}f}k" if value else "0"
    decimals = max(0, -math.floor(math.log10(scale.step) + 1e-9))
    return f"{value:,.{decimals}f}"


def _chart_id(kind: str, title: str, points) -> str:
    digest = hashlib.sha1(repr(points).encode(), usedforsecurity=False).hexdigest()[:6]
    return f"chart-{kind}-{slugify(title) or 'x'}-{digest}"


def _axes(series: _Series, scale: _Scale, unit: str) -> list[SafeString]:
    parts = []
    for tick in scale.ticks:
        y = scale.y(tick)
        parts.append(
            _html(
                '<line class="chart-grid" x1="{}" y1="{}" x2="{}" y2="{}"/>'
                '<text class="chart-tick chart-tick-y" x="{}" y="{}">{}</text>',
                MARGIN_LEFT,
                _n(y),
                WIDTH - MARGIN_RIGHT,
                _n(y),
                MARGIN_LEFT - 6,
                _n(y + 4),
                _tick_text(tick, scale),
            )
        )
    base = HEIGHT - MARGIN_BOTTOM
    parts.append(
        format_html(
            '<line class="chart-axis" x1="{}" y1="{}" x2="{}" y2="{}"/>',
            MARGIN_LEFT,
            base,
            WIDTH - MARGIN_RIGHT,
            base,
        )
    )
    every = max(1, math.ceil((series.n - 1) / (MAX_X_LABELS - 1)))
    for i, (label, _v) in enumerate(series.points):
        # Counted from the end so the latest point is always labelled.
        if (series.n - 1 - i) % every:
            continue
        # Every other label is dropped on a phone, where the text is drawn larger (app.css).
        alternate = " chart-tick-x-alt" if ((series.n - 1 - i) // every) % 2 else ""
        parts.append(
            _html(
                '<text class="chart-tick chart-tick-x{}" x="{}" y="{}">{}</text>',
                alternate,
                _n(_x(i, series.n)),
                base + 18,
                _label(label),
            )
        )
    if unit:
        parts.append(
            format_html('<text class="chart-axis-title" x="{}" y="{}">{}</text>', 4, 14, unit)
        )
    return parts


def _guides(scale: _Scale, guides) -> list[SafeString]:
    """Reference lines, drawn over the marks; their labels carry a halo (see app.css)."""
    return [
        format_html(
            '<g class="chart-guide"><line x1="{}" y1="{}" x2="{}" y2="{}"/>'
            '<text x="{}" y="{}">{} {}</text></g>',
            MARGIN_LEFT,
            _n(scale.y(float(value))),
            WIDTH - MARGIN_RIGHT,
            _n(scale.y(float(value))),
            WIDTH - MARGIN_RIGHT - 2,
            _n(scale.y(float(value)) - 5),
            name,
            _tick_text(float(value), scale),
        )
        for value, name in guides
    ]


def _table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> SafeString:
    head = "".join(_html('<th scope="col">{}</th>', h) for h in headers)
    body = "".join(
        "<tr>"
        + _html('<th scope="row">{}</th>', row[0])
        + "".join(_html("<td>{}</td>", cell) for cell in row[1:])
        + "</tr>"
        for row in rows
    )
    return mark_safe(  # noqa: S308 - every piece above went through _html
        f'<table class="table table-compact"><caption class="visually-hidden">{escape(title)}'
        f"</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _chart(kind, title, unit, series, scale, marks, guides, summary, table=None) -> Chart:
    chart_id = _chart_id(kind, title, series.points)
    svg = format_html(
        '<svg class="chart-svg" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-t {}-d" '
        'focusable="false"><title id="{}-t">{}</title><desc id="{}-d">{}</desc>{}{}{}</svg>',
        WIDTH,
        HEIGHT,
        chart_id,
        chart_id,
        chart_id,
        title,
        chart_id,
        summary,
        mark_safe("".join(str(p) for p in _axes(series, scale, unit))),  # noqa: S308
        mark_safe("".join(str(m) for m in marks)),  # noqa: S308
        mark_safe("".join(str(g) for g in _guides(scale, guides))),  # noqa: S308
    )
    if table is None:
        header = f"{title} ({unit})" if unit and unit.lower() != title.lower() else title
        table = _table(
            title, ["Date", header], [(_label(lb), series.fmt(v)) for lb, v in series.points]
        )
    return Chart(kind=kind, title=title, summary=summary, svg=svg, table=table)


def _empty(kind: str, title: str, text: str) -> Chart:
    return Chart(
        kind=kind,
        title=title,
        summary=text,
        svg=SafeString(""),
        table=SafeString(""),
        is_empty=True,
    )


# --- blood pressure: a band per day plus the mean lines -------------------------------------


def bp_band_svg(
    days: Sequence[
        tuple[
            Label,
            Number | None,
            Number | None,
            Number | None,
            Number | None,
            Number | None,
            Number | None,
        ]
    ],
    *,
    title: str = "Blood pressure",
    unit: str = "mmHg",
    guides: Sequence[tuple[Number, str]] = (),
    empty_text: str = "No blood pressure readings in this period.",
    min_span: float = 0.0,
    per: str = "day",
) -> Chart:
    """Blood pressure per day: the range of the day's systolic readings and of its diastolic
    readings as two bands (lowest to highest), and a line through each day's mean systolic and
    mean diastolic. `days`: (label, systolic low, systolic high, diastolic low, diastolic high,
    systolic mean, diastolic mean); a day without readings is all None (a gap). Values are
    shown as whole mmHg. `per="week"`: each point is a week labelled by its first day (a long
    period stays readable: 13 bands, not 90 thin ones); the texts say so. `min_span`: the
    narrowest value axis (`metrics.figures.min_span`)."""
    weekly = per == "week"
    every = "weekly" if weekly else "daily"

    def name(label: Label) -> str:
        return f"Week from {_label(label)}" if weekly else _label(label)

    rows = []
    for label, s_lo, s_hi, d_lo, d_hi, s_mean, d_mean in days:
        s_lo, s_hi, d_lo, d_hi = _num(s_lo), _num(s_hi), _num(d_lo), _num(d_hi)
        s_mean, d_mean = _num(s_mean), _num(d_mean)
        if s_lo is not None and s_hi is not None:
            s_lo, s_hi = min(s_lo, s_hi), max(s_lo, s_hi)
        if d_lo is not None and d_hi is not None:
            d_lo, d_hi = min(d_lo, d_hi), max(d_lo, d_hi)
        rows.append((label, s_lo, s_hi, d_lo, d_hi, s_mean, d_mean))
    systolic = _Series.of([(row[0], row[5]) for row in rows], 0)
    diastolic = _Series.of([(row[0], row[6]) for row in rows], 0)
    if systolic.empty and diastolic.empty:
        return _empty("bp-band", title, empty_text)
    values = [v for row in rows for v in row[1:] if v is not None]
    scale = _Scale.fit([*values, *(g for g, _ in guides)], min_span=min_span)
    n = len(rows)
    band_w = max(2.0, min(14.0, PLOT_W / n * 0.6))
    marks = []
    for i, (label, s_lo, s_hi, d_lo, d_hi, s_mean, d_mean) in enumerate(rows):
        x = _x(i, n) - band_w / 2
        for kind, lo, hi, mean in (
            ("systolic", s_lo, s_hi, s_mean),
            ("diastolic", d_lo, d_hi, d_mean),
        ):
            if lo is None or hi is None:
                continue
            top, bottom = scale.y(hi), scale.y(lo)
            height = max(bottom - top, 2.0)  # one reading: still a visible mark
            marks.append(
                _html(
                    '<rect class="chart-band chart-band-{}" x="{}" y="{}" width="{}" '
                    'height="{}"><title>{}: {} {} to {} {}{}</title></rect>',
                    kind,
                    _n(x),
                    _n(top - (height - (bottom - top)) / 2),
                    _n(band_w),
                    _n(height),
                    name(label),
                    kind,
                    _fixed(lo),
                    _fixed(hi),
                    unit,
                    "" if mean is None else f", mean {_fixed(mean)} {unit}",
                )
            )
    for kind, series in (("systolic", systolic), ("diastolic", diastolic)):
        for run in _runs(series.points):
            if len(run) < 2:
                continue
            coords = " ".join(f"{_n(_x(i, n))},{_n(scale.y(v))}" for i, _lb, v in run)
            marks.append(
                format_html(
                    '<polyline class="chart-line chart-mean-{}" points="{}"/>', kind, coords
                )
            )
        indexed = _indexed(series.points)
        if len(indexed) > MAX_MARKERS:
            indexed = indexed[-1:]
        for i, label, value in indexed:
            marks.append(
                _html(
                    '<circle class="chart-point chart-mean-{}" cx="{}" cy="{}" r="2.5">'
                    "<title>{}: mean {} {} {}</title></circle>",
                    kind,
                    _n(_x(i, n)),
                    _n(scale.y(value)),
                    name(label),
                    kind,
                    _fixed(value),
                    unit,
                )
            )
    with_data = [row for row in rows if row[5] is not None or row[6] is not None]
    last = with_data[-1]

    def pair(s: float | None, d: float | None) -> str:
        return f"{'–' if s is None else _fixed(s)}/{'–' if d is None else _fixed(d)}"

    s_means = [row[5] for row in with_data if row[5] is not None]
    d_means = [row[6] for row in with_data if row[6] is not None]
    overall = pair(
        sum(s_means) / len(s_means) if s_means else None,
        sum(d_means) / len(d_means) if d_means else None,
    )
    highest = max((row for row in rows if row[2] is not None), key=lambda r: r[2], default=None)
    span_text = systolic.span_text()
    if weekly:
        weeks = len(with_data)
        span_text = (
            f"Weeks from {_label(rows[0][0])} to {_label(rows[-1][0])}: "
            f"{weeks} week{'' if weeks == 1 else 's'} with data."
        )

    def when(label: Label) -> str:
        return f"week from {_label(label)}" if weekly else _label(label)

    summary = (
        f"{span_text} Latest {every} mean: {pair(last[5], last[6])} {unit} ({when(last[0])}). "
        f"Mean of the {every} means: {overall} {unit}."
    )
    if highest is not None:
        summary += f" Highest systolic: {_fixed(highest[2])} {unit} ({when(highest[0])})."

    def span(lo: float | None, hi: float | None) -> str:
        if lo is None or hi is None:
            return "no data"
        return _fixed(lo) if _fixed(lo) == _fixed(hi) else f"{_fixed(lo)}–{_fixed(hi)}"

    table = _table(
        title,
        [
            "Week from" if weekly else "Date",
            f"Systolic ({unit})",
            f"Diastolic ({unit})",
            f"{every.capitalize()} mean ({unit})",
        ],
        [
            (
                _label(label),
                span(s_lo, s_hi),
                span(d_lo, d_hi),
                "no data" if s_mean is None and d_mean is None else pair(s_mean, d_mean),
            )
            for label, s_lo, s_hi, d_lo, d_hi, s_mean, d_mean in rows
        ],
    )
    return _chart("bp-band", title, unit, systolic, scale, marks, guides, summary, table=table)
