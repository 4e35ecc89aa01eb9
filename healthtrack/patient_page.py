"""The admin's patient page (`/admin/patients/<id>/`): open alerts and recommendations first,
with their handling forms and trail, then the profile (decrypted), the latest reading of each
metric type, a chart of every vital over 14/30/90 days (blood pressure as a band), care-program
adherence, goals, the nutrition summary and the clinician notes (with a box to write one).

It lives in the project package because it reads every app (accounts, metrics, goals,
insights); the apps themselves never import each other upwards. Who may open it is decided by
`accounts.access`: superusers, and admin clinicians caring for that patient; anyone else on the
admin gets 404. Each view is written to the access log. Never cached (admin views are
`never_cache`): alerts must show at once.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from django import forms
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldError
from django.db.models import Prefetch
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from accounts import access
from accounts.audit import record_access
from accounts.models import AccessLog
from goals.care_programs import program_logs
from goals.care_programs.models import CareProgram, ProgramAdherence
from healthtrack.core import days as calendar
from healthtrack.core.charts import Chart, bar_chart, line_chart
from insights import handling
from insights.handling import is_overdue
from insights.models import AlertAction, HealthInsight
from metrics import metric_charts
from metrics.figures import formatted
from metrics.latest import latest_per_type
from metrics.models import DailyRollup
from metrics.registry import SUM, get_metric_type
from nutrition.models import NutritionLog
from nutrition.targets import daily_targets

CHART_DAYS = 30
PERIODS = (14, 30, 90)
MAX_GOALS = 20
MAX_NOTES = 5
MAX_PENDING_LOGS = 10
MAX_HANDLED = 10
NUTRITION_DAYS = 7
SYSTOLIC, DIASTOLIC = "blood_pressure_systolic", "blood_pressure_diastolic"
#: The vitals charted after blood pressure, in this order: (title, unit, decimals, guides).
VITALS = {
    "weight": ("Weight", "kg", 1, ()),
    "blood_glucose": ("Blood glucose (daily mean)", "mg/dL", 0, ()),  # guides: _guides_for
    "oxygen_saturation": ("Oxygen saturation", "%", 0, ()),
    "heart_rate": ("Heart rate", "bpm", 0, ()),
    "resting_heart_rate": ("Resting heart rate", "bpm", 0, ()),
    "body_temperature": ("Body temperature", "°C", 1, ()),
    "respiratory_rate": ("Respiratory rate", "breaths/min", 0, ()),
    "sleep": ("Sleep per night", "h", 1, ()),
    "steps": ("Steps per day", "steps", 0, ()),
}


class NoteForm(forms.Form):
    """A clinician's note to the patient: it becomes one of the patient's insights."""

    title = forms.CharField(max_length=200, label="Subject")
    message = forms.CharField(
        max_length=4000, label="Note", widget=forms.Textarea(attrs={"rows": 3})
    )


def _patient_or_404(viewer, user_id: int):
    if not access.admin_can_view(viewer):
        raise Http404
    if not viewer.is_superuser and not access.in_care_team(viewer, user_id):
        raise Http404
    patient = get_user_model().objects.filter(pk=user_id).first()
    if patient is None:
        raise Http404
    return patient


def goal_model():
    """`goals.HealthGoal`, or None while the goals app does not have it (it lands later;
    read by name so this page works before and after)."""
    try:
        return apps.get_model("goals", "HealthGoal")
    except LookupError:
        return None


def _goals(user_id: int) -> list | None:
    """The patient's goals, or None while there is no goals model."""
    model = goal_model()
    if model is None:
        return None
    try:
        goals = model.objects.filter(user_id=user_id)
        # Active first, then the goals app's own order (priority, nearest target date).
        by_priority = getattr(goals, "by_priority", None)
        goals = by_priority() if by_priority else goals.order_by("-pk")
        return sorted(goals[:MAX_GOALS], key=lambda g: getattr(g, "status", "") != "active")
    except FieldError:
        return None


def _sleep(minutes: float) -> str:
    hours, mins = divmod(round(minutes), 60)
    return f"{hours} h {mins:02d} min"


def human_value(code: str, value: float) -> tuple[str, str]:
    """(figure, unit) of a reading for people: whole steps, sleep in hours and minutes,
    whole mmHg, bpm and mg/dL, one decimal where it matters (kg, °C)."""
    if code == "sleep":
        return _sleep(value), ""
    # Stated as every page states it (metrics.figures): whole steps, "steps".
    return formatted(code, value), get_metric_type(code).unit_label


def _readings(user_id: int) -> list[dict]:
    rows = []
    for metric in latest_per_type(user_id=user_id):
        mtype = get_metric_type(metric.metric_type)
        value, unit = human_value(metric.metric_type, metric.value)
        rows.append(
            {
                "name": mtype.name,
                "value": value,
                "unit": unit,
                "recorded_at": metric.recorded_at,
                "source": metric.device.name if metric.device else metric.source_app,
            }
        )
    return rows


def _guides_for(code: str) -> tuple:
    """Reference lines from the settings the rules use: the glucose target range (triage),
    the low-oxygen alert threshold, the sleep recommendation."""
    if code == "blood_glucose":
        rules = settings.TRIAGE_RULES
        return ((rules["glucose_range_low"], "Range"), (rules["glucose_range_high"], "Range"))
    if code == "oxygen_saturation":
        return ((settings.INSIGHTS_THRESHOLDS["spo2_min"], "Low"),)
    if code == "sleep":
        return ((settings.INSIGHTS_THRESHOLDS["sleep_hours_min"], "Target"),)
    return ()


def _vital_chart(code: str, values: dict[date, float], start: date, end: date) -> Chart:
    """One vital's daily values with the project's chart code (healthtrack.core.charts), in
    units for people: steps whole, sleep in hours."""
    title, unit, decimals, guides = VITALS[code]
    guides = guides or _guides_for(code)
    if code == "steps":
        values = {day: round(v) for day, v in values.items()}
    elif code == "sleep":
        values = {day: v / 60 for day, v in values.items()}
    points = metric_charts.fill_days(values, start, end)
    if get_metric_type(code).aggregation == SUM:
        return bar_chart(points, title=title, unit=unit, decimals=decimals, guides=guides)
    return line_chart(
        points,
        title=title,
        unit=unit,
        decimals=decimals,
        guides=guides,
        connect_gaps=code == "weight",
        empty_text="No data in this period.",
    )


def _bp_chart(rollups: dict[str, dict[date, DailyRollup]], start: date, end: date) -> Chart:
    """Bands of the readings' range and mean, per day up to a month and per week past it
    (`metrics.metric_charts.blood_pressure_chart`, as on the patient's own pages)."""
    halves = [
        {day: (r.value, r.min_value, r.max_value, r.count) for day, r in rollups.get(c, {}).items()}
        for c in (SYSTOLIC, DIASTOLIC)
    ]
    rules = settings.TRIAGE_RULES
    return metric_charts.blood_pressure_chart(
        *halves,
        start,
        end,
        title="Blood pressure",
        guides=[
            (rules["bp_stage2_systolic"], "Systolic"),
            (rules["bp_stage2_diastolic"], "Diastolic"),
        ],
    )


def _charts(user_id: int, today: date, days: int = CHART_DAYS) -> list[Chart]:
    """A chart of every vital the patient has data for in the window (one query)."""
    start = today - timedelta(days=days - 1)
    rollups: dict[str, dict[date, DailyRollup]] = defaultdict(dict)
    for row in DailyRollup.objects.filter(
        user_id=user_id,
        metric_type__in=[SYSTOLIC, DIASTOLIC, *VITALS],
        day__gte=start,
        day__lte=today,
    ).order_by("day"):
        rollups[row.metric_type][row.day] = row
    found = []
    if SYSTOLIC in rollups or DIASTOLIC in rollups:
        found.append(_bp_chart(rollups, start, today))
    for code in VITALS:
        if code in rollups:
            values = {day: row.value for day, row in rollups[code].items()}
            found.append(_vital_chart(code, values, start, today))
    return found


def _mean(scores: list[int]) -> float | None:
    return sum(scores) / len(scores) if scores else None


def _adherence(user_id: int, today: date) -> list[dict]:
    """Each active program: today's score so far (partial), and the averages of the scored
    days among the last 7 and 30 complete days. The scores are the ones
    goals.care_programs.programs stores (`ProgramAdherence`, as `adherence_between` reads them),
    read for every program at once."""
    programs = list(CareProgram.objects.for_user(user_id).active().order_by("start_date", "pk"))
    first = today - timedelta(days=30)
    scores: dict[int, dict[date, int]] = defaultdict(dict)
    for program_id, day, score in ProgramAdherence.objects.filter(
        program__in=programs, day__gte=first, day__lte=today
    ).values_list("program_id", "day", "score"):
        scores[program_id][day] = score
    week_start = today - timedelta(days=7)
    found = []
    for program in programs:
        days = scores[program.pk]
        past = {day: s for day, s in days.items() if day < today}
        found.append(
            {
                "program": program,
                "today": days.get(today),
                "week": _mean([s for day, s in past.items() if day >= week_start]),
                "month": _mean(list(past.values())),
            }
        )
    return found


def _nutrition(patient, today: date) -> dict:
    """The last 7 days' diary: days logged, average calories, protein and water on logged days,
    against the patient's daily targets."""
    start = today - timedelta(days=NUTRITION_DAYS - 1)
    days = list(NutritionLog.objects.for_user(patient).on_days(start, today).daily_totals())

    def mean(name: str) -> float | None:
        values = [float(d[name]) for d in days if d.get(name) is not None]
        return sum(values) / len(values) if values else None

    weight = (
        DailyRollup.objects.filter(user_id=patient.pk, metric_type="weight", day__lte=today)
        .order_by("-day")
        .values_list("value", flat=True)
        .first()
    )
    targets = daily_targets(user=patient, weight_kg=weight, on=today)
    rows = []
    for name, label, unit in (
        ("calories", "Energy", "kcal"),
        ("protein_g", "Protein", "g"),
        ("water_ml", "Water", "ml"),
    ):
        value, target = mean(name), targets.get(name)
        rows.append(
            {
                "label": label,
                "value": "–" if value is None else f"{round(value):,} {unit}",
                "target": "–" if target is None else f"{round(target):,} {unit}",
            }
        )
    return {"days_logged": len(days), "window": NUTRITION_DAYS, "rows": rows}


def _notes(user_id: int) -> list[HealthInsight]:
    return list(
        HealthInsight.objects.for_user(user_id)
        .filter(kind=HealthInsight.Kind.CLINICIAN_NOTE)
        .select_related("author")
        .newest_first()[:MAX_NOTES]
    )


def _alerts(patient, now) -> tuple[list, list]:
    """(open alerts with their handling form data, recently handled alerts), each with its
    handling trail."""
    base = (
        HealthInsight.objects.for_user(patient.pk)
        .alerts()
        .select_related("assigned_to")
        .prefetch_related(
            Prefetch(
                "handling",
                queryset=AlertAction.objects.select_related("escalated_to").order_by("-at", "-id"),
            )
        )
    )
    open_alerts = list(base.needing_attention(now).newest_first())
    for alert in open_alerts:
        alert.overdue = is_overdue(alert, now)
    open_ids = [a.pk for a in open_alerts]
    handled = list(base.exclude(pk__in=open_ids).newest_first()[:MAX_HANDLED])
    return open_alerts, handled


def _pending_logs(patient, viewer) -> list:
    """The patient's care-program logs waiting for `viewer` to verify
    (goals.care_programs.program_logs's queue: empty for anyone who may not verify them), oldest
    first."""
    if viewer is None:
        return []
    queue = program_logs.review_queue(viewer).filter(program__user_id=patient.pk)
    return list(queue[:MAX_PENDING_LOGS])


def _admin_list(model: str, user_id: int) -> str:
    return f"{reverse(f'admin:{model}_changelist')}?user__id__exact={user_id}"


def parse_days(raw) -> int:
    try:
        days = int(raw)
    except (TypeError, ValueError):
        return CHART_DAYS
    return days if days in PERIODS else CHART_DAYS


def patient_page_context(
    patient, *, viewer=None, days: int = CHART_DAYS, today: date | None = None
) -> dict:
    now = timezone.now()
    today = today or calendar.today(patient, now=now)  # the patient's local day
    insights = HealthInsight.objects.for_user(patient.pk)
    open_alerts, handled_alerts = _alerts(patient, now)
    can_write_notes = viewer is not None and access.in_care_team(viewer, patient.pk)
    return {
        "patient": patient,
        "age": patient.age_on(today),
        "open_alerts": open_alerts,
        "handled_alerts": handled_alerts,
        "alert_actions": AlertAction.Action.choices,
        "escalation_candidates": list(handling.escalation_candidates(patient.pk, viewer)),
        "overdue_hours": settings.ALERT_ACK_OVERDUE_HOURS,
        "recommendations": list(insights.recommendations().current().order_by("rank", "id")),
        "readings": _readings(patient.pk),
        "charts": _charts(patient.pk, today, days),
        "chart_days": days,
        "periods": PERIODS,
        "adherence": _adherence(patient.pk, today),
        "pending_logs": _pending_logs(patient, viewer),
        "nutrition": _nutrition(patient, today),
        "notes": _notes(patient.pk),
        "can_write_notes": can_write_notes,
        "note_form": NoteForm(),
        "goals": _goals(patient.pk),
        "links": {
            "profile": reverse("admin:accounts_user_change", args=[patient.pk]),
            "alerts": _admin_list("insights_healthalert", patient.pk),
            "metrics": _admin_list("metrics_healthmetric", patient.pk),
            "nutrition": _admin_list("nutrition_nutritionlog", patient.pk),
            "audit": reverse("admin:patient_audit", args=[patient.pk]),
            "note": reverse("admin:patient_note", args=[patient.pk]),
            # The log queue (goals/care_programs/log_admin.py), narrowed to this patient's pending
            # logs.
            "logs": f"{reverse('admin:goals_programlog_changelist')}"
            f"?status__exact=PENDING&q={patient.get_username()}",
        },
    }


def patient_page(request, user_id: int, *, admin_site):
    patient = _patient_or_404(request.user, user_id)
    context = {
        **admin_site.each_context(request),
        **patient_page_context(
            patient, viewer=request.user, days=parse_days(request.GET.get("days"))
        ),
        "title": f"Patient: {patient.get_full_name() or patient.get_username()}",
    }
    record_access(
        actor=request.user,
        owner_id=patient.pk,
        via=AccessLog.Via.ADMIN,
        request=request,
        obj=patient,
    )
    return TemplateResponse(request, "admin/patient_page.html", context)
