"""The metrics app's part of the dashboard (see healthtrack.core.dashboard): today's cards for
steps, sleep, resting heart rate, weight and blood pressure, and the period charts, all read from
the rollups in a fixed number of queries (one for every chart's daily values, one for the nights'
sleep, two for the latest weight and blood pressure), whatever the period.

Judgements (a goal to reach, a reading out of range) are added by the apps that own them:
goals fills in the steps goal, insights the status of a reading.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.urls import reverse

from healthtrack.core import days as calendar
from healthtrack.core.charts import bar_chart, line_chart
from healthtrack.core.dashboard import Card, Panels
from metrics.figures import min_span, round_half_up
from metrics.latest import latest_blood_pressure, latest_value
from metrics.metric_charts import blood_pressure_chart, blood_pressure_rollups
from metrics.models import DailyRollup
from metrics.nights import nights

BP_SYSTOLIC, BP_DIASTOLIC = "blood_pressure_systolic", "blood_pressure_diastolic"
CHART_TYPES = ("steps", "resting_heart_rate", "heart_rate", "weight", BP_SYSTOLIC, BP_DIASTOLIC)


def today_utc(user=None) -> date:
    """Today in `user`'s zone (the name is kept for its callers: days are local now)."""
    return calendar.today(user)


def day_label(day: date, today: date) -> str:
    return calendar.day_label(day, today)


def format_number(value: float, decimals: int = 0) -> str:
    """`value` with the shared rounding rule (half away from zero, as `metrics.figures`)."""
    return f"{round_half_up(value, decimals):,.{decimals}f}"


def format_minutes(minutes: float) -> str:
    hours, rest = divmod(round(minutes), 60)
    return f"{hours} h {rest:02d} min" if hours else f"{rest} min"


def metric_url(code: str) -> str:
    return reverse("metrics-type", args=[code])


def contribute(panels: Panels, *, user, days: int) -> None:
    tz = calendar.zone_of(user)
    today = calendar.today(tz)
    start = today - timedelta(days=days - 1)
    series: dict[str, dict[date, float]] = {code: {} for code in CHART_TYPES}
    rows = list(
        DailyRollup.objects.filter(
            user_id=user.pk, metric_type__in=CHART_TYPES, day__gte=start, day__lte=today
        ).values_list("metric_type", "day", "value", "min_value", "max_value", "count")
    )
    for code, day, value, *_rest in rows:
        series[code][day] = value
    span = [start + timedelta(days=i) for i in range(days)]

    def points(code: str) -> list[tuple[date, float | None]]:
        return [(day, series[code].get(day)) for day in span]

    sleep_series = _sleep_series(user, start, today, tz)
    _steps_card(panels, series["steps"], today)
    _sleep_card(panels, sleep_series, today)
    _resting_heart_rate_card(panels, series["resting_heart_rate"], today)
    _weight_and_blood_pressure_cards(panels, user, today, tz)

    heart_code = "resting_heart_rate" if series["resting_heart_rate"] else "heart_rate"
    heart_title = "Resting heart rate" if heart_code == "resting_heart_rate" else "Heart rate"
    panels.charts += [
        bar_chart(points("steps"), title="Steps", unit="steps", decimals=0),
        line_chart(
            points(heart_code),
            title=heart_title,
            unit="bpm",
            decimals=0,
            min_span=min_span(heart_code),
        ),
        line_chart(
            points("weight"),
            title="Weight",
            unit="kg",
            decimals=1,
            connect_gaps=True,
            min_span=min_span("weight"),
        ),
        # Bands of the readings' range per day, per week past a month: never a barcode.
        blood_pressure_chart(*blood_pressure_rollups(rows), start, today, title="Blood pressure"),
        bar_chart(
            [(day, _hours(sleep_series.get(day))) for day in span],
            title="Sleep",
            unit="h",
            decimals=1,
        ),
    ]


def _hours(minutes: float | None) -> float | None:
    return None if minutes is None else round(minutes / 60, 1)


def _sleep_series(user, start: date, today: date, tz) -> dict[date, float]:
    """Sleep per night, keyed by the morning it ended (`metrics.nights`, "last night")."""
    return nights(user_id=user.pk, first=start, last=today, tz=tz)


def _steps_card(panels: Panels, steps: dict[date, float], today: date) -> None:
    value = steps.get(today)
    if value is None:
        return
    panels.cards["steps"] = Card(
        label="Steps today",
        value=format_number(value),
        unit="steps",
        href=metric_url("steps"),
        values={"steps": value},
    )


def _sleep_card(panels: Panels, nights: dict[date, float], today: date) -> None:
    minutes = nights.get(today)
    if minutes is None:
        return
    panels.cards["sleep"] = Card(
        label="Last night's sleep",
        value=format_minutes(minutes),
        detail="Since yesterday noon",
        href=metric_url("sleep"),
    )


def _resting_heart_rate_card(panels: Panels, resting: dict[date, float], today: date) -> None:
    if not resting:
        return
    day = max(resting)
    panels.cards["resting_heart_rate"] = Card(
        label="Resting heart rate",
        value=format_number(resting[day]),
        unit="bpm",
        detail=f"Measured {day_label(day, today)}",
        href=metric_url("resting_heart_rate"),
        values={"bpm": resting[day]},
    )


def _weight_and_blood_pressure_cards(panels: Panels, user, today: date, tz) -> None:
    weight = latest_value(user_id=user.pk, metric_type="weight")
    if weight is not None:
        at, value = weight
        panels.cards["weight"] = Card(
            label="Latest weight",
            value=format_number(value, 1),
            unit="kg",
            detail=f"Weighed {day_label(calendar.day_of(at, tz), today)}",
            href=metric_url("weight"),
            values={"kg": value},
        )
    # The newest plausible pair from one source (metrics.latest): a reading is a pair.
    latest = latest_blood_pressure(user_id=user.pk)
    if latest is not None:
        at, systolic, diastolic = latest
        panels.cards["blood_pressure"] = Card(
            label="Latest blood pressure",
            value=f"{format_number(systolic)}/{format_number(diastolic)}",
            unit="mmHg",
            detail=f"Measured {day_label(calendar.day_of(at, tz), today)}",
            href=reverse("metrics-type", args=["blood_pressure"]),
            values={"systolic": systolic, "diastolic": diastolic},
        )
