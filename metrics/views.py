"""Metrics pages: an index of the types, a page per type (chart + paginated table), add, edit
and delete a reading (blood pressure as one reading of two values), and the settings pages
that belong to measurements: devices, and sharing them with a clinician.

Thin views: records are scoped through `accounts.access` (someone else's reading is a 404),
forms collect input, `metrics.services` and `accounts` services write.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Case, Count, Max, Q, Sum, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import access, care, sharing
from accounts.charts import band_chart, bar_chart, line_chart
from accounts.dashboard import PERIODS, parse_period
from accounts.members import (
    display_name,
    member_query,
    member_redirect,
    page_owner,
    page_writer,
    with_member,
)
from accounts.models import CareTeam, ShareGrant
from accounts.once import pop_secret, stash_secret
from accounts.pages import form_status
from metrics import services
from metrics.dashboard import format_number, today_utc
from metrics.figures import min_span
from metrics.forms import (
    BP_DIASTOLIC,
    BP_SYSTOLIC,
    SHARE_CHOICES,
    BloodPressureForm,
    CareTeamAddForm,
    ReadingForm,
    ShareGrantForm,
    unit_label,
)
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


def _type_url(code: str, **query) -> str:
    url = reverse("metrics-type", args=[code])
    query = {k: v for k, v in query.items() if v}
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


def _period(code: str, mtype: MetricType | None, user, days: int):
    """The period's chart and its key figures (from the daily rollups, one query)."""
    today = today_utc(user)
    start = today - timedelta(days=days - 1)
    span = [start + timedelta(days=i) for i in range(days)]
    codes = [BP_SYSTOLIC, BP_DIASTOLIC] if mtype is None else [code]
    rows = DailyRollup.objects.filter(
        user_id=user.pk, metric_type__in=codes, day__gte=start, day__lte=today
    ).values_list("metric_type", "day", "value")
    series: dict[str, dict[date, float]] = {c: {} for c in codes}
    for row_code, day, value in rows:
        series[row_code][day] = value
    if mtype is None:
        systolic, diastolic = series[BP_SYSTOLIC], series[BP_DIASTOLIC]
        chart = band_chart(
            [(d, diastolic.get(d), systolic.get(d)) for d in span],
            title="Blood pressure, daily average",
            unit="mmHg",
            low_label="Diastolic",
            high_label="Systolic",
            decimals=0,
            min_span=min_span("blood_pressure"),
            as_pair=True,
        )
        figures = []
        if systolic and diastolic:
            figures = [
                ("Days with readings", f"{len(systolic)} of {days}"),
                ("Average", f"{_mean(systolic):.0f}/{_mean(diastolic):.0f} mmHg"),
                ("Highest systolic", f"{max(systolic.values()):.0f} mmHg"),
                ("Lowest diastolic", f"{min(diastolic.values()):.0f} mmHg"),
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
        figures = [
            ("Days with readings", f"{len(values)} of {days}"),
            (
                "Average per day" if mtype.is_summed else "Average",
                f"{format_number(_mean(values), decimals)} {unit}",
            ),
            ("Highest", f"{format_number(max(values.values()), decimals)} {unit}"),
            ("Lowest", f"{format_number(min(values.values()), decimals)} {unit}"),
            (
                f"Latest ({latest.day} {latest:%b})",
                f"{format_number(values[latest], decimals)} {unit}",
            ),
        ]
    return chart, figures


def _mean(values: dict[date, float]) -> float:
    return sum(values.values()) / len(values)


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


# --- settings: sharing with a clinician -----------------------------------------------------

NEW_SHARE_SESSION_KEY = "metrics:new_share_link"


def _own_grants(owner):
    # Grants are the owner's decisions: they (or a family manager acting for them) revoke them;
    # a read-only family member sees them.
    return ShareGrant.objects.filter(owner=owner).select_related("grantee")


def _own_care_teams(owner):
    return CareTeam.objects.active().filter(patient=owner).select_related("clinician")


def _whose(request: HttpRequest, owner) -> str:
    """ "your" on one's own page, "Milo's" when acting for a family member."""
    if owner.pk == request.user.pk:
        return "your"
    return f"{display_name(owner)}'s"


def _share_names(codes: list[str]) -> str:
    names = dict(SHARE_CHOICES)
    shown = []
    for code in codes:
        key = BLOOD_PRESSURE if code in (BP_SYSTOLIC, BP_DIASTOLIC) else code
        name = names.get(key, code)
        if name not in shown:
            shown.append(name)
    return ", ".join(shown)


@login_required
@never_cache
def settings_sharing(request: HttpRequest) -> HttpResponse:
    owner = page_owner(request, write=request.method == "POST")
    care_form = CareTeamAddForm(prefix="care")
    share_form = ShareGrantForm(prefix="share")
    if request.method == "POST" and "care-email" in request.POST:
        care_form = CareTeamAddForm(request.POST, prefix="care")
        if care_form.is_valid():
            try:
                membership = care.care_team_accept_clinician(
                    patient=owner,
                    clinician_email=care_form.cleaned_data["email"],
                    accepted_by=request.user,
                )
            except ValidationError as exc:
                care_form.add_error("email", exc.message_dict.get("email", exc.messages))
            else:
                messages.success(
                    request,
                    f"{membership.clinician.get_full_name() or membership.clinician.username} "
                    f"is now in {_whose(request, owner)} care team and can read "
                    f"{_whose(request, owner)} health data.",
                )
                return member_redirect(request, "settings-sharing")
    elif request.method == "POST":
        share_form = ShareGrantForm(request.POST, prefix="share")
        if share_form.is_valid():
            created = _share_create(owner, share_form)
            if created is not None:
                if created.token:
                    stash_secret(
                        request,
                        NEW_SHARE_SESSION_KEY,
                        {
                            "link": request.build_absolute_uri(created.link_path),
                            "code": created.code,
                        },
                    )
                    messages.success(request, "Share link created. Copy the link and code now.")
                else:
                    messages.success(request, f"Shared with {_whose(request, owner)} clinician.")
                return member_redirect(request, "settings-sharing")
    new_share = pop_secret(request, NEW_SHARE_SESSION_KEY) if request.method == "GET" else None
    grants = list(_own_grants(owner))
    for grant in grants:
        grant.shared_names = _share_names(grant.metric_types)
    return render(
        request,
        "settings/sharing.html",
        {
            "section": "sharing",
            "care_form": care_form,
            "share_form": share_form,
            "care_teams": _own_care_teams(owner),
            "grants": grants,
            "new_share": new_share,
        },
        status=form_status(care_form, share_form),
    )


def _share_create(owner, form: ShareGrantForm):
    clinician = None
    email = form.cleaned_data["clinician_email"]
    try:
        if email:
            clinician = care._clinician_by_email(email)
        return sharing.share_grant_create(
            owner=owner,
            metric_types=form.metric_type_codes(),
            date_from=form.cleaned_data["date_from"],
            date_to=form.cleaned_data["date_to"],
            expires_at=form.expires_at(),
            clinician=clinician,
            label=form.cleaned_data["label"],
        )
    except ValidationError as exc:
        form.add_service_errors(exc, {"email": "clinician_email"})
        return None


@login_required
@require_POST
def settings_care_team_end(request: HttpRequest, pk: int) -> HttpResponse:
    owner = page_owner(request, write=True)
    membership = get_object_or_404(_own_care_teams(owner), pk=pk)
    care.care_team_end(membership=membership, ended_by=request.user)
    name = membership.clinician.get_full_name() or membership.clinician.username
    messages.success(request, f"{name} is no longer in {_whose(request, owner)} care team.")
    return member_redirect(request, "settings-sharing")


@login_required
@require_POST
def settings_share_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    owner = page_owner(request, write=True)
    grant = get_object_or_404(_own_grants(owner), pk=pk)
    sharing.share_grant_revoke(grant=grant)
    messages.success(request, "Share revoked. It stops working at once.")
    return member_redirect(request, "settings-sharing")
