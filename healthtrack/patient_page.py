"""The admin's patient page (`/admin/patients/<id>/`): open alerts and recommendations first,
then the profile (decrypted), the latest reading of each metric type, a 30-day chart from the
daily rollups, and goals (when the goals app has its model).

It lives in the project package because it reads every app (accounts, metrics, goals,
insights); the apps themselves never import each other upwards. Who may open it is decided by
`accounts.access`: superusers, and admin clinicians caring for that patient; anyone else on the
admin gets 404. Each view is written to the access log. Never cached (admin views are
`never_cache`): alerts must show at once.
"""

from __future__ import annotations

from datetime import UTC, date, timedelta

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldError
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from accounts import access
from accounts.audit import record_access
from accounts.charts import Chart
from accounts.models import AccessLog
from insights.models import HealthInsight
from metrics import charts, selectors
from metrics.figures import formatted
from metrics.registry import get_metric_type

CHART_DAYS = 30
MAX_GOALS = 20


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


def _readings(user_id: int) -> list[dict]:
    rows = []
    for metric in selectors.latest_per_type(user_id=user_id):
        mtype = get_metric_type(metric.metric_type)
        rows.append(
            {
                "name": mtype.name,
                # Stated as every page states it (metrics.figures): whole steps, "steps".
                "value": formatted(metric.metric_type, metric.value),
                "unit": mtype.unit_label,
                "recorded_at": metric.recorded_at,
                "source": metric.device.name if metric.device else metric.source_app,
            }
        )
    return rows


def _charts(user_id: int, today: date) -> list[Chart]:
    start = today - timedelta(days=CHART_DAYS - 1)
    return [
        charts.metric_chart(
            code,
            selectors.daily_series(user_id=user_id, metric_type=code, start=start, end=today),
            start,
            today,
            title=title,
        )
        for code, title in (
            ("steps", "Steps per day"),
            ("resting_heart_rate", "Resting heart rate"),
        )
    ]


def _admin_list(model: str, user_id: int) -> str:
    return f"{reverse(f'admin:{model}_changelist')}?user__id__exact={user_id}"


def patient_page_context(patient, *, today: date | None = None) -> dict:
    today = today or timezone.now().astimezone(UTC).date()
    insights = HealthInsight.objects.for_user(patient.pk)
    return {
        "patient": patient,
        "age": patient.age_on(today),
        "open_alerts": list(insights.unreviewed().newest_first()),
        "recommendations": list(insights.recommendations().current().order_by("rank", "id")),
        "readings": _readings(patient.pk),
        "charts": _charts(patient.pk, today),
        "chart_days": CHART_DAYS,
        "goals": _goals(patient.pk),
        "links": {
            "profile": reverse("admin:accounts_user_change", args=[patient.pk]),
            "alerts": _admin_list("insights_healthalert", patient.pk),
            "metrics": _admin_list("metrics_healthmetric", patient.pk),
            "nutrition": _admin_list("nutrition_nutritionlog", patient.pk),
        },
    }


def patient_page(request, user_id: int, *, admin_site):
    patient = _patient_or_404(request.user, user_id)
    context = {
        **admin_site.each_context(request),
        **patient_page_context(patient),
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
