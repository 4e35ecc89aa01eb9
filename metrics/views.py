"""Metrics pages: an index of the types, a page per type (chart + paginated table), add, edit
and delete a reading (blood pressure as one reading of two values), and the devices settings
page. (Sharing measurements with a clinician: metrics.sharing.)

Thin views: records are scoped through `accounts.access` (someone else's reading is a 404),
forms collect input, `metrics.services` and `accounts` services write.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Case, Count, Max, Q, Sum, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from accounts import access
from accounts.members import (
    member_query,
    member_redirect,
    page_owner,
    page_writer,
    with_member,
)
from healthtrack.core.charts import bar_chart, line_chart
from healthtrack.core.dashboard import PERIODS, parse_period
from healthtrack.core.pages import form_status
from metrics import averages, services
from metrics.dashboard import format_number, today_utc
from metrics.figures import min_span
from metrics.forms import (
    BP_DIASTOLIC,
    BP_SYSTOLIC,
    BloodPressureForm,
    ReadingForm,
    unit_label,
)
from metrics.metric_charts import blood_pressure_chart, blood_pressure_rollups
from metrics.models import DailyRollup, Device, HealthMetric
from metrics.registry import METRIC_TYPES, MetricType, get_metric_type

BLOOD_PRESSURE = "blood_pressure"
PAGE_SIZE = 20
CATEGORIES = (
    ("activity", "Activity"),
    ("vitals", "Heart and vitals"),
    ("body", "Body"),
    ("sleep", "Sleep"),
)


# --- helpers --------------------------------------------------------------------------------


def _own_metrics(request: HttpRequest, owner):
    """The readings of `owner` (the signed-in user, or the `?member=` they act for) that the
    signed-in user may change (accounts.access); anyone else's are 404."""
    return access.writable(HealthMetric.objects.all(), request.user).filter(user=owner)


def _type_or_404(code: str) -> MetricType | None:
    """The registry type for `code`; None for the blood-pressure pair; 404 otherwise."""
    if code == BLOOD_PRESSURE:
        return None
    if code not in METRIC_TYPES or code in (BP_SYSTOLIC, BP_DIASTOLIC):
        raise Http404
    return get_metric_type(code)


def _title(mtype: MetricType | None) -> str:
    return "Blood pressure" if mtype is None else mtype.name


def _decimals(mtype: MetricType) -> int:
    return 0 if mtype.unit in ("count", "bpm", "mmHg", "min", "kcal", "m") else 1


def _display(mtype: MetricType, value: float) -> str:
    return format_number(value, _decimals(mtype))


def _period(code: str, mtype: MetricType | None, user, days: int):
    """The period's chart and its key figures (from the daily rollups, one query)."""
    today = today_utc(user)
    start = today - timedelta(days=days - 1)
    span = [start + timedelta(days=i) for i in range(days)]
    codes = [BP_SYSTOLIC, BP_DIASTOLIC] if mtype is None else [code]
    rows = list(
        DailyRollup.objects.filter(
            user_id=user.pk, metric_type__in=codes, day__gte=start, day__lte=today
        ).values_list("metric_type", "day", "value", "min_value", "max_value", "count")
    )
    series: dict[str, dict[date, float]] = {c: {} for c in codes}
    for row_code, day, value, *_rest in rows:
        series[row_code][day] = value
    if mtype is None:
        systolic, diastolic = series[BP_SYSTOLIC], series[BP_DIASTOLIC]
        # Bands of the readings' range per day, per week past a month: never a barcode.
        chart = blood_pressure_chart(*blood_pressure_rollups(rows), start, today)
        figures = []
        if systolic and diastolic:
            figures = [("Days with readings", f"{len(systolic)} of {days}")]
            done_s, done_d = _finished(systolic, today), _finished(diastolic, today)
            if done_s and done_d:
                average = f"{format_number(_mean(done_s))}/{format_number(_mean(done_d))}"
                figures.append((AVERAGE_LABEL, f"{average} mmHg"))
            # Of the readings, as the chart's bands and summary state them.
            highest = max(r[4] for r in rows if r[0] == BP_SYSTOLIC)
            lowest = min(r[3] for r in rows if r[0] == BP_DIASTOLIC)
            figures += [
                ("Highest systolic", f"{format_number(highest)} mmHg"),
                ("Lowest diastolic", f"{format_number(lowest)} mmHg"),
            ]
        return chart, figures
    values = series[code]
    unit = unit_label(mtype, mtype.unit)
    if code == "sleep":  # minutes read badly on an axis: hours
        values = {d: v / 60 for d, v in values.items()}
        unit = "h"
        chart = bar_chart(
            [(d, round(values[d], 1) if d in values else None) for d in span],
            title="Sleep per day",
            unit=unit,
            decimals=1,
        )
        decimals = 1
    else:
        how = {"sum": "per day", "average": "daily average", "latest": "last of each day"}
        title = f"{mtype.name}, {how[mtype.aggregation]}"
        points = [(d, values.get(d)) for d in span]
        decimals = _decimals(mtype)
        if mtype.is_summed:
            chart = bar_chart(points, title=title, unit=unit, decimals=decimals)
        else:
            chart = line_chart(
                points,
                title=title,
                unit=unit,
                decimals=decimals,
                connect_gaps=mtype.aggregation == "latest",
                min_span=min_span(code),
            )
    figures = []
    if values:
        latest = max(values)
        done = _finished(values, today)
        # A summed type's today is a partial total: never a day's high or low, shown so far.
        judged = done if mtype.is_summed else values
        figures = [("Days with readings", f"{len(values)} of {days}")]
        if done:
            figures.append((AVERAGE_LABEL, f"{format_number(_mean(done), decimals)} {unit}"))
        if judged:
            figures += [
                ("Highest", f"{format_number(max(judged.values()), decimals)} {unit}"),
                ("Lowest", f"{format_number(min(judged.values()), decimals)} {unit}"),
            ]
        if mtype.is_summed and today in values:
            figures.append(("Today so far", f"{format_number(values[today], decimals)} {unit}"))
        else:
            figures.append(
                (
                    f"Latest ({latest.day} {latest:%b})",
                    f"{format_number(values[latest], decimals)} {unit}",
                )
            )
    return chart, figures


# The period's average is of finished days (metrics.averages): today is in progress.
AVERAGE_LABEL = "Average per day (finished days)"


def _finished(values: dict[date, float], today: date) -> dict[date, float]:
    """The days of `values` before today: today is partial (healthtrack.core.days)."""
    return {d: v for d, v in values.items() if d < today}


def _mean(values: dict[date, float]) -> float:
    return averages.average_of_days(values)


def _about(mtype: MetricType | None) -> str:
    if mtype is None:
        return (
            "Systolic over diastolic, in mmHg. Each reading is one pair of values; a day's "
            "figure is the average of its readings."
        )
    about = {
        "sum": "A day's figure is the total of its readings; when two devices count the same "
        "time, only the better one is counted.",
        "average": "A day's figure is the average of its readings.",
        "latest": "A day's figure is its last reading.",
    }[mtype.aggregation]
    units = [unit_label(mtype, u) for u in mtype.units]
    if len(units) > 1:
        about += f" You can enter it in {', '.join(units[:-1])} or {units[-1]}."
    return about


def _sources(user) -> dict[int, str]:
    return dict(Device.objects.filter(user=user).values_list("pk", "name"))


def _source_label(device_id: int | None, source_app: str, devices: dict[int, str]) -> str:
    if device_id is not None:
        return devices.get(device_id, "A device")
    return source_app or "Entered by you"


# --- index and type pages -------------------------------------------------------------------


@login_required
def metrics_index(request: HttpRequest) -> HttpResponse:
    user = page_owner(request)
    latest = {
        row["metric_type"]: row
        for row in DailyRollup.objects.filter(user_id=user.pk)
        .values("metric_type")
        .annotate(last_day=Max("day"), readings=Sum("count"))
    }
    last_values = {}
    if latest:
        lookup = Q()
        for code, row in latest.items():
            lookup |= Q(metric_type=code, day=row["last_day"])
        last_values = {
            (code, day): value
            for code, day, value in DailyRollup.objects.filter(lookup, user_id=user.pk).values_list(
                "metric_type", "day", "value"
            )
        }
    groups = []
    for category, heading in CATEGORIES:
        entries = []
        for mtype in METRIC_TYPES.values():
            if mtype.category != category or mtype.code == BP_DIASTOLIC:
                continue
            code = BLOOD_PRESSURE if mtype.code == BP_SYSTOLIC else mtype.code
            row = latest.get(mtype.code)
            entry = {"code": code, "name": _title(None if code == BLOOD_PRESSURE else mtype)}
            if row is not None:
                entry["last_day"] = row["last_day"]
                entry["readings"] = row["readings"]
                value = last_values.get((mtype.code, row["last_day"]))
                if code == BLOOD_PRESSURE:
                    dia = latest.get(BP_DIASTOLIC)
                    low = dia and last_values.get((BP_DIASTOLIC, dia["last_day"]))
                    entry["value"] = f"{value:.0f}/{low:.0f}" if low else f"{value:.0f}"
                    entry["unit"] = "mmHg"
                elif code == "sleep":
                    entry["value"] = format_number(value / 60, 1)
                    entry["unit"] = "h"
                else:
                    entry["value"] = _display(mtype, value)
                    entry["unit"] = unit_label(mtype, mtype.unit)
                entry["how"] = {"sum": "total", "average": "average", "latest": "latest"}[
                    mtype.aggregation
                ]
            entries.append(entry)
        entries.sort(key=lambda e: ("value" not in e, e["name"]))
        groups.append((heading, entries))
    return render(request, "metrics/index.html", {"groups": groups, "has_data": bool(latest)})


@login_required
def metric_type_page(request: HttpRequest, code: str) -> HttpResponse:
    if code in (BP_SYSTOLIC, BP_DIASTOLIC):
        return redirect("metrics-type", BLOOD_PRESSURE)
    mtype = _type_or_404(code)
    user = page_owner(request)
    days = parse_period(request.GET.get("days"))
    devices = _sources(user)
    if mtype is None:
        readings = (
            HealthMetric.objects.for_user(user)
            .of_type(BP_SYSTOLIC, BP_DIASTOLIC)
            .values("recorded_at", "device_id", "source_app")
            .annotate(
                systolic=Max(Case(When(metric_type=BP_SYSTOLIC, then="value"))),
                diastolic=Max(Case(When(metric_type=BP_DIASTOLIC, then="value"))),
                systolic_id=Max(Case(When(metric_type=BP_SYSTOLIC, then="id"))),
                diastolic_id=Max(Case(When(metric_type=BP_DIASTOLIC, then="id"))),
                rows=Count("id"),
            )
            .order_by("-recorded_at", "-systolic_id")
        )
    else:
        readings = (
            HealthMetric.objects.for_user(user)
            .of_type(code)
            .newest_first()
            .only("id", "value", "unit", "recorded_at", "end_at", "device_id", "source_app")
        )
    page = Paginator(readings, PAGE_SIZE).get_page(request.GET.get("page"))
    chart, figures = _period(code, mtype, user, days)
    title = _title(mtype)
    unit = "mmHg" if mtype is None else unit_label(mtype, mtype.unit)
    rows = []
    for reading in page.object_list:
        if mtype is None:
            sys_value, dia_value = reading["systolic"], reading["diastolic"]
            rows.append(
                {
                    "pk": reading["systolic_id"] or reading["diastolic_id"],
                    "recorded_at": reading["recorded_at"],
                    "value": "/".join(
                        "–" if v is None else f"{v:.0f}" for v in (sys_value, dia_value)
                    ),
                    "source": _source_label(reading["device_id"], reading["source_app"], devices),
                }
            )
        else:
            rows.append(
                {
                    "pk": reading.pk,
                    "recorded_at": reading.recorded_at,
                    "end_at": reading.end_at,
                    "value": _display(mtype, reading.value),
                    "source": _source_label(reading.device_id, reading.source_app, devices),
                }
            )
    context = {
        "code": code,
        "mtype": mtype,
        "title": title,
        "unit": unit,
        "chart": chart,
        "figures": figures,
        "about": _about(mtype),
        "column": title if unit.lower() == title.lower() else f"{title} ({unit})",
        "page": page,
        "rows": rows,
        "days": days,
        "periods": PERIODS,
        "page_query": member_query(request, f"days={days}"),
        "add_url": with_member(request, reverse("metrics-add", args=[code])),
    }
    return render(request, "metrics/type.html", context)


# --- add, edit, delete ----------------------------------------------------------------------


def _bp_pair(
    request: HttpRequest, owner, pk: int
) -> tuple[HealthMetric | None, HealthMetric | None]:
    """`owner`'s systolic and diastolic measurements of the reading that `pk` is part of
    (the same instant and source); 404 when `pk` is not one of their blood-pressure rows."""
    own = _own_metrics(request, owner)
    metric = get_object_or_404(own.of_type(BP_SYSTOLIC, BP_DIASTOLIC), pk=pk)
    partner_code = BP_DIASTOLIC if metric.metric_type == BP_SYSTOLIC else BP_SYSTOLIC
    partner = (
        own.of_type(partner_code)
        .filter(
            recorded_at=metric.recorded_at,
            device_id=metric.device_id,
            source_app=metric.source_app,
        )
        .order_by("id")
        .first()
    )
    if metric.metric_type == BP_SYSTOLIC:
        return metric, partner
    return partner, metric


@login_required
def metric_add(request: HttpRequest, code: str) -> HttpResponse:
    mtype = _type_or_404(code)
    owner = page_writer(request)
    if mtype is None:
        form = BloodPressureForm(request.POST or None)
        if request.method == "POST" and form.is_valid() and form.save(user=owner):
            messages.success(request, "Blood pressure reading added.")
            return member_redirect(request, "metrics-type", code)
    else:
        form = ReadingForm(request.POST or None, metric_type=mtype)
        if request.method == "POST" and form.is_valid() and form.save(user=owner):
            messages.success(request, f"{mtype.name} reading added.")
            return member_redirect(request, "metrics-type", code)
    return render(
        request,
        "metrics/form.html",
        {"form": form, "code": code, "title": _title(mtype), "mtype": mtype, "editing": False},
        status=form_status(form),
    )


@login_required
def metric_edit(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    mtype = _type_or_404(code)
    owner = page_owner(request, write=True)
    if mtype is None:
        systolic, diastolic = _bp_pair(request, owner, pk)
        if request.method == "POST":
            form = BloodPressureForm(request.POST)
            if form.is_valid() and form.save(user=owner, systolic=systolic, diastolic=diastolic):
                messages.success(request, "Blood pressure reading changed.")
                return member_redirect(request, "metrics-type", code)
        else:
            form = BloodPressureForm.for_pair(systolic, diastolic)
    else:
        metric = get_object_or_404(_own_metrics(request, owner).of_type(code), pk=pk)
        if request.method == "POST":
            form = ReadingForm(request.POST, metric_type=mtype)
            if form.is_valid() and form.save(user=owner, metric=metric):
                messages.success(request, f"{mtype.name} reading changed.")
                return member_redirect(request, "metrics-type", code)
        else:
            form = ReadingForm.for_metric(metric)
    return render(
        request,
        "metrics/form.html",
        {
            "form": form,
            "code": code,
            "pk": pk,
            "title": _title(mtype),
            "mtype": mtype,
            "editing": True,
        },
        status=form_status(form),
    )


@login_required
def metric_delete(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    mtype = _type_or_404(code)
    owner = page_owner(request, write=True)
    if mtype is None:
        metrics = [m for m in _bp_pair(request, owner, pk) if m is not None]
    else:
        metrics = [get_object_or_404(_own_metrics(request, owner).of_type(code), pk=pk)]
    if request.method == "POST":
        with transaction.atomic():
            for metric in metrics:
                services.metric_delete(metric=metric)
        messages.success(request, f"{_title(mtype)} reading deleted.")
        return member_redirect(request, "metrics-type", code)
    first = metrics[0]
    if mtype is None:
        by_code = {m.metric_type: m.value for m in metrics}
        value = "/".join(
            "–" if by_code.get(c) is None else f"{by_code[c]:.0f}"
            for c in (BP_SYSTOLIC, BP_DIASTOLIC)
        )
        unit = "mmHg"
    else:
        value, unit = _display(mtype, first.value), unit_label(mtype, mtype.unit)
    return render(
        request,
        "metrics/confirm_delete.html",
        {
            "code": code,
            "pk": pk,
            "title": _title(mtype),
            "value": value,
            "unit": unit,
            "recorded_at": first.recorded_at,
        },
    )


# --- settings: devices ----------------------------------------------------------------------


@login_required
def settings_devices(request: HttpRequest) -> HttpResponse:
    owner = page_owner(request)
    devices = (
        access.readable(Device.objects.all(), request.user)
        .filter(user=owner)
        .annotate(readings=Count("metrics"))
        .order_by("-priority", "name")
    )
    return render(request, "settings/devices.html", {"devices": devices, "section": "devices"})
