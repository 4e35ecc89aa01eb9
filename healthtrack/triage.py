"""The clinician's triage list: every patient of their care team, ranked by rules, each with
the reasons as plain phrases ("14-day average blood pressure 146/92 mmHg").

The rules and their weights (thresholds in `settings.TRIAGE_RULES`, sources named there):

| reason | weight |
|---|---|
| open alert, per alert: high / medium / low severity | 100 / 50 / 20 |
| an open alert nobody acknowledged past ALERT_ACK_OVERDUE_HOURS | 40 |
| an alert escalated to this clinician | 40 |
| 14-day average blood pressure >= 140/90 (stage 2) / >= 130/80 (stage 1) | 60 / 30 |
| any glucose reading below 54 mg/dL in 14 days | 70 |
| glucose time in range (70-180 mg/dL) below 70 % over 14 days | 40 |
| weight change of more than 2 kg in 7 days | 35 |
| resting heart rate rising faster than 0.5 bpm a day over 30 days | 25 |
| care-program adherence below 50 over the last 7 complete days | 20 |
| no data for 48 hours | 15 |

A patient's rank is the sum of their reasons' weights, highest first; ties by name. Patients
with nothing flagged are listed last. The whole list is a fixed number of queries, whatever the
number of patients (one per source table, each over the care team at once).

Lives in the project package because it reads every app.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Avg, Count, Max, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from accounts.models import CareTeam, User
from goals.care_programs.models import CareProgram, ProgramAdherence
from healthtrack.core import days as calendar
from insights.handling import is_overdue
from insights.labels import insight_type_label
from insights.models import HealthInsight
from metrics.models import DailyRollup, HealthMetric
from metrics.validation import plausible_blood_pressure

SYSTOLIC, DIASTOLIC = "blood_pressure_systolic", "blood_pressure_diastolic"
GLUCOSE, RESTING_HR, WEIGHT = "blood_glucose", "resting_heart_rate", "weight"
SEVERITY_WEIGHT = {"high": 100, "medium": 50, "low": 20}
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}

#: The filter's choices: reason group -> label.
REASON_GROUPS = {
    "alerts": "Open alerts",
    "overdue": "Overdue alerts",
    "escalated": "Escalated to me",
    "blood_pressure": "Blood pressure",
    "glucose": "Glucose",
    "resting_heart_rate": "Resting heart rate",
    "weight": "Weight change",
    "adherence": "Program adherence",
    "no_data": "No recent data",
}
NO_PROGRAM = "__none__"


@dataclass(frozen=True)
class Reason:
    group: str
    text: str
    weight: int


@dataclass
class OpenAlert:
    pk: int
    label: str
    title: str
    severity: str
    status: str
    created_at: datetime
    overdue: bool
    assigned_to_id: int | None


@dataclass
class TriageRow:
    patient: User
    reasons: list[Reason] = field(default_factory=list)
    alerts: list[OpenAlert] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)
    last_sync: datetime | None = None

    @property
    def score(self) -> int:
        return sum(r.weight for r in self.reasons)

    @property
    def name(self) -> str:
        return self.patient.get_full_name() or self.patient.get_username()

    @property
    def url(self) -> str:
        return reverse("admin:patient_page", args=[self.patient.pk])

    @property
    def groups(self) -> set[str]:
        return {r.group for r in self.reasons}

    @property
    def overdue_count(self) -> int:
        return sum(a.overdue for a in self.alerts)


def _num(value: float) -> str:
    return f"{round(value):.0f}" if abs(value) >= 10 else f"{round(value, 1):g}"


def _rules() -> dict:
    return settings.TRIAGE_RULES


def care_patient_ids(clinician) -> QuerySet:
    """The patients of `clinician`'s active care teams (as a subquery)."""
    return (
        CareTeam.objects.active()
        .filter(clinician=clinician, patient__deleted_at__isnull=True)
        .values("patient_id")
    )


# --- one query per source -------------------------------------------------------------------


def _alerts(ids, now: datetime) -> dict[int, list[OpenAlert]]:
    rows = (
        HealthInsight.objects.needing_attention(now)
        .filter(user_id__in=ids)
        .only(
            "pk",
            "user_id",
            "insight_type",
            "title",
            "severity",
            "alert_status",
            "snoozed_until",
            "created_at",
            "assigned_to_id",
        )
        .order_by("-created_at", "-id")
    )
    found: dict[int, list[OpenAlert]] = defaultdict(list)
    for alert in rows:
        found[alert.user_id].append(
            OpenAlert(
                pk=alert.pk,
                label=insight_type_label(alert.insight_type),
                title=alert.title,
                severity=alert.severity,
                status=alert.get_alert_status_display(),
                created_at=alert.created_at,
                overdue=is_overdue(alert, now),
                assigned_to_id=alert.assigned_to_id,
            )
        )
    for alerts in found.values():
        alerts.sort(key=lambda a: (SEVERITY_ORDER.get(a.severity, 3), -a.created_at.timestamp()))
    return found


def _bp_averages(ids, today: date, tz) -> dict[int, dict[str, tuple[float, int]]]:
    """(mean of every reading, number of readings) per patient and BP type over the window's
    local days (zone `tz`), from the raw readings in one query, leaving out what
    `metrics.validation` would refuse today (a swapped pair stored before the rule, 80/120,
    never flags a patient)."""
    days = _rules()["bp_window_days"]
    start = calendar.day_start(today - timedelta(days=days - 1), tz)
    end = calendar.day_start(today + timedelta(days=1), tz)
    rows = HealthMetric.objects.filter(
        user_id__in=ids,
        metric_type__in=[SYSTOLIC, DIASTOLIC],
        recorded_at__gte=start,
        recorded_at__lt=end,
    ).values_list("user_id", "metric_type", "recorded_at", "device_id", "source_app", "value")
    per_patient: dict[int, list[tuple]] = defaultdict(list)
    for user_id, *reading in rows:
        per_patient[user_id].append(reading)
    found: dict[int, dict[str, tuple[float, int]]] = defaultdict(dict)
    for user_id, readings in per_patient.items():
        sums: dict[str, list[float]] = {}
        for code, value in plausible_blood_pressure(readings):
            total = sums.setdefault(code, [0.0, 0])
            total[0] += value
            total[1] += 1
        for code, (total, count) in sums.items():
            found[user_id][code] = (total / count, count)
    return found


def _glucose(ids, now: datetime) -> dict[int, dict]:
    r = _rules()
    rows = (
        HealthMetric.objects.filter(
            user_id__in=ids,
            metric_type=GLUCOSE,
            recorded_at__gt=now - timedelta(days=r["glucose_window_days"]),
            recorded_at__lte=now,
        )
        .values("user_id")
        .annotate(
            readings=Count("pk"),
            in_range=Count(
                "pk",
                filter=Q(value__gte=r["glucose_range_low"], value__lte=r["glucose_range_high"]),
            ),
            very_low=Count("pk", filter=Q(value__lt=r["glucose_very_low"])),
        )
        .order_by()
    )
    return {row["user_id"]: row for row in rows}


def _daily(ids, metric_type: str, first: date, last: date) -> dict[int, list[tuple[date, float]]]:
    rows = (
        DailyRollup.objects.filter(
            user_id__in=ids, metric_type=metric_type, day__gte=first, day__lte=last
        )
        .order_by("user_id", "day")
        .values_list("user_id", "day", "value")
    )
    found: dict[int, list[tuple[date, float]]] = defaultdict(list)
    for user_id, day, value in rows:
        found[user_id].append((day, value))
    return found


def _programs(ids) -> dict[int, list[str]]:
    rows = (
        CareProgram.objects.active()
        .filter(user_id__in=ids)
        .order_by("title")
        .values_list("user_id", "title")
    )
    found: dict[int, list[str]] = defaultdict(list)
    for user_id, title in rows:
        found[user_id].append(title)
    return found


def _adherence(ids, today: date) -> dict[int, list[tuple[str, float, int]]]:
    """(program title, average score, days scored) of each active program over the complete
    days of the window (today is partial and left out)."""
    days = _rules()["adherence_window_days"]
    rows = (
        ProgramAdherence.objects.filter(
            program__user_id__in=ids,
            program__status=CareProgram.Status.ACTIVE,
            day__gte=today - timedelta(days=days),
            day__lt=today,
        )
        .values("program_id", "program__user_id", "program__title")
        .annotate(average=Avg("score"), days=Count("pk"))
        .order_by()
    )
    found: dict[int, list[tuple[str, float, int]]] = defaultdict(list)
    for row in rows:
        found[row["program__user_id"]].append((row["program__title"], row["average"], row["days"]))
    return found


def _last_sync(ids) -> dict[int, datetime]:
    rows = (
        HealthMetric.objects.filter(user_id__in=ids)
        .values("user_id")
        .annotate(last=Max("created_at"))
        .order_by()
    )
    return {row["user_id"]: row["last"] for row in rows}


# --- the rules, one patient at a time (no queries) ------------------------------------------


def alert_reasons(alerts: list[OpenAlert], viewer_id: int) -> list[Reason]:
    if not alerts:
        return []
    hours = settings.ALERT_ACK_OVERDUE_HOURS
    count = len(alerts)
    labels = ", ".join(dict.fromkeys(a.label for a in alerts))
    reasons = [
        Reason(
            "alerts",
            f"{count} open alert{'s' if count != 1 else ''}: {labels}",
            sum(SEVERITY_WEIGHT.get(a.severity, 20) for a in alerts),
        )
    ]
    overdue = sum(a.overdue for a in alerts)
    if overdue:
        reasons.append(
            Reason(
                "overdue",
                f"{overdue} alert{'s' if overdue != 1 else ''} unacknowledged over {hours} h",
                40,
            )
        )
    if any(a.assigned_to_id == viewer_id for a in alerts):
        reasons.append(Reason("escalated", "Alert escalated to you", 40))
    return reasons


def bp_reason(averages: dict[str, tuple[float, int]]) -> Reason | None:
    r = _rules()
    systolic = averages.get(SYSTOLIC)
    diastolic = averages.get(DIASTOLIC)
    systolic = systolic if systolic and systolic[1] >= r["bp_min_readings"] else None
    diastolic = diastolic if diastolic and diastolic[1] >= r["bp_min_readings"] else None
    if systolic is None and diastolic is None:
        return None
    sys_v = systolic[0] if systolic else None
    dia_v = diastolic[0] if diastolic else None
    reading = f"{_num(sys_v) if sys_v is not None else '–'}/" + (
        _num(dia_v) if dia_v is not None else "–"
    )
    days = r["bp_window_days"]

    def over(sys_limit: float, dia_limit: float) -> bool:
        return (sys_v is not None and sys_v >= sys_limit) or (
            dia_v is not None and dia_v >= dia_limit
        )

    for stage, weight in (("stage2", 60), ("stage1", 30)):
        sys_limit, dia_limit = r[f"bp_{stage}_systolic"], r[f"bp_{stage}_diastolic"]
        if over(sys_limit, dia_limit):
            return Reason(
                "blood_pressure",
                f"{days}-day average blood pressure {reading} mmHg "
                f"(at or above {_num(sys_limit)}/{_num(dia_limit)})",
                weight,
            )
    return None


def glucose_reasons(row: dict | None) -> list[Reason]:
    r = _rules()
    if not row or row["readings"] < r["glucose_min_readings"]:
        return []
    reasons = []
    days = r["glucose_window_days"]
    if row["very_low"]:
        n = row["very_low"]
        reasons.append(
            Reason(
                "glucose",
                f"{n} glucose reading{'s' if n != 1 else ''} below "
                f"{_num(r['glucose_very_low'])} mg/dL in {days} days",
                70,
            )
        )
    tir = 100 * row["in_range"] / row["readings"]
    if tir < r["glucose_tir_min_pct"]:
        reasons.append(
            Reason(
                "glucose",
                f"Glucose in range ({_num(r['glucose_range_low'])}–"
                f"{_num(r['glucose_range_high'])} mg/dL) {tir:.0f} % of {row['readings']} "
                f"readings over {days} days",
                40,
            )
        )
    return reasons


def slope_per_day(points: list[tuple[date, float]]) -> float | None:
    """Least-squares slope of value against day, or None with fewer than two days."""
    if len(points) < 2:
        return None
    xs = [(day - points[0][0]).days for day, _ in points]
    ys = [value for _, value in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def rhr_reason(points: list[tuple[date, float]]) -> Reason | None:
    r = _rules()
    if len(points) < r["rhr_min_days"]:
        return None
    slope = slope_per_day(points)
    if slope is None or slope <= r["rhr_slope_bpm_per_day"]:
        return None
    return Reason(
        "resting_heart_rate",
        f"Resting heart rate rising {slope:.1f} bpm a day over {r['rhr_window_days']} days",
        25,
    )


def weight_reason(points: list[tuple[date, float]]) -> Reason | None:
    r = _rules()
    if len(points) < 2:
        return None
    change = points[-1][1] - points[0][1]
    if abs(change) <= r["weight_change_kg"]:
        return None
    direction = "up" if change > 0 else "down"
    span = (points[-1][0] - points[0][0]).days
    return Reason(
        "weight",
        f"Weight {direction} {abs(change):.1f} kg in {span} day{'s' if span != 1 else ''}",
        35,
    )


def adherence_reasons(programs: list[tuple[str, float, int]]) -> list[Reason]:
    r = _rules()
    return [
        Reason(
            "adherence",
            f"{title}: adherence {average:.0f} out of 100 over the last "
            f"{r['adherence_window_days']} days",
            20,
        )
        for title, average, _days in programs
        if average < r["adherence_min"]
    ]


def no_data_reason(last: datetime | None, now: datetime) -> Reason | None:
    hours = _rules()["no_data_hours"]
    if last is None:
        return Reason("no_data", "No data yet", 15)
    silent = now - last
    if silent < timedelta(hours=hours):
        return None
    if silent.days >= 2:
        text = f"No data for {silent.days} days"
    else:
        text = f"No data for {int(silent.total_seconds() // 3600)} hours"
    return Reason("no_data", text, 15)


# --- the list --------------------------------------------------------------------------------


def triage_rows(
    clinician,
    *,
    now: datetime | None = None,
    reason: str | None = None,
    program: str | None = None,
) -> list[TriageRow]:
    """The care team of `clinician`, ranked; optionally only rows with a reason of group
    `reason`, or on an active program titled `program` (NO_PROGRAM: on none)."""
    now = now or timezone.now()
    r = _rules()
    ids = care_patient_ids(clinician)
    patients = list(User.objects.filter(pk__in=ids).order_by("last_name", "first_name", "username"))
    alerts = _alerts(ids, now)
    glucose = _glucose(ids, now)
    programs = _programs(ids)
    # Day windows are each patient's local days (healthtrack.core.days): one set of reads per
    # distinct "today" and zone among them (one when they share a zone, at most a few otherwise).
    by_today: dict[tuple[date, str], list[int]] = defaultdict(list)
    for patient in patients:
        tz = calendar.zone_of(patient)
        by_today[(calendar.today(tz, now=now), calendar.zone_name(tz))].append(patient.pk)
    bp: dict = {}
    rhr: dict = {}
    weight: dict = {}
    adherence: dict = {}
    for (today, zone), group in by_today.items():
        bp.update(_bp_averages(group, today, calendar.zone_named(zone)))
        rhr.update(
            _daily(group, RESTING_HR, today - timedelta(days=r["rhr_window_days"] - 1), today)
        )
        weight.update(_daily(group, WEIGHT, today - timedelta(days=r["weight_window_days"]), today))
        adherence.update(_adherence(group, today))
    last_sync = _last_sync(ids)

    rows = []
    for patient in patients:
        pk = patient.pk
        row = TriageRow(
            patient=patient,
            alerts=alerts.get(pk, []),
            programs=programs.get(pk, []),
            last_sync=last_sync.get(pk),
        )
        row.reasons += alert_reasons(row.alerts, clinician.pk)
        row.reasons += [x for x in [bp_reason(bp.get(pk, {}))] if x]
        row.reasons += glucose_reasons(glucose.get(pk))
        row.reasons += [x for x in [weight_reason(weight.get(pk, []))] if x]
        row.reasons += [x for x in [rhr_reason(rhr.get(pk, []))] if x]
        row.reasons += adherence_reasons(adherence.get(pk, []))
        row.reasons += [x for x in [no_data_reason(row.last_sync, now)] if x]
        row.reasons.sort(key=lambda x: -x.weight)
        rows.append(row)

    if reason:
        rows = [row for row in rows if reason in row.groups]
    if program == NO_PROGRAM:
        rows = [row for row in rows if not row.programs]
    elif program:
        rows = [row for row in rows if program in row.programs]
    rows.sort(key=lambda row: (-row.score, row.name.lower(), row.patient.pk))
    return rows


def program_choices(clinician) -> list[str]:
    """Titles of the active programs of `clinician`'s patients, for the filter."""
    return list(
        CareProgram.objects.active()
        .filter(user_id__in=care_patient_ids(clinician))
        .order_by("title")
        .values_list("title", flat=True)
        .distinct()
    )
