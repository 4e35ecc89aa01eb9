"""The clinician's workspace in the admin (wired in healthtrack/admin_site.py):

- the triage list, the admin index of an admin clinician (healthtrack.triage);
- one alert's page: its details, its handling trail and the form to acknowledge, snooze,
  resolve or escalate it (insights.handling);
- the note box of the patient page (insights.services.clinician_note_create);
- the audit trail of one patient: who read their data, what changed, the alert decisions.

Who may open what is decided by `accounts.access`: superusers, and admin clinicians for the
patients of their care team; anyone else on the admin gets 404. Every page about a patient is
written to the access log as a read by the viewer.
"""

from __future__ import annotations

from datetime import UTC, datetime

from auditlog.models import LogEntry
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from accounts import access
from accounts.audit import record_access
from accounts.models import AccessLog, CareTeam, User
from goals.care_programs.models import CareProgram
from goals.models import HealthGoal
from healthtrack import triage
from healthtrack.patient_page import NoteForm, _patient_or_404
from insights import handling, services
from insights.models import AlertAction, HealthInsight
from nutrition.models import NutritionLog, NutritionTargets

AUDIT_ROWS = 100


# --- the triage list ---------------------------------------------------------------------------


def triage_index(request, *, admin_site):
    reason = request.GET.get("reason") or None
    if reason not in triage.REASON_GROUPS:
        reason = None
    program = request.GET.get("program") or None
    rows = triage.triage_rows(request.user, reason=reason, program=program)
    context = {
        **admin_site.each_context(request),
        "title": "Triage: who needs you today",
        "rows": rows,
        "reasons": triage.REASON_GROUPS,
        "reason": reason or "",
        "programs": triage.program_choices(request.user),
        "program": program or "",
        "no_program": triage.NO_PROGRAM,
        "overdue_hours": settings.ALERT_ACK_OVERDUE_HOURS,
        "filtered": bool(reason or program),
    }
    return TemplateResponse(request, "admin/triage.html", context)


# --- one alert ---------------------------------------------------------------------------------


class AlertHandleForm(forms.Form):
    action = forms.ChoiceField(choices=AlertAction.Action.choices)
    note = forms.CharField(
        required=False, max_length=handling.NOTE_MAX_LENGTH, widget=forms.Textarea
    )
    snooze_until = forms.DateTimeField(
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help_text="UTC, for snooze.",
    )
    escalate_to = forms.ModelChoiceField(queryset=User.objects.none(), required=False)

    def __init__(self, *args, candidates=None, **kwargs):
        super().__init__(*args, **kwargs)
        if candidates is not None:
            self.fields["escalate_to"].queryset = candidates


def _alert_or_404(viewer, alert_id: int) -> HealthInsight:
    if not 0 < alert_id <= access.MAX_ID:
        raise Http404
    alert = (
        HealthInsight.objects.alerts()
        .filter(pk=alert_id)
        .select_related("user", "assigned_to", "reviewed_by")
        .first()
    )
    if alert is None or not access.admin_can_read(viewer, alert.user_id):
        raise Http404
    return alert


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def alert_page(request, alert_id: int, *, admin_site):
    """GET: the alert, its trail and the handling form. POST: handle it, then back to
    `next` (the triage list or the patient page) or to this page."""
    alert = _alert_or_404(request.user, alert_id)
    candidates = handling.escalation_candidates(alert.user_id, request.user)
    status = 200
    if request.method == "POST":
        form = AlertHandleForm(request.POST, candidates=candidates)
        if form.is_valid():
            data = form.cleaned_data
            until = data["snooze_until"]
            if until is not None and timezone.is_naive(until):
                until = until.replace(tzinfo=UTC)  # the form says UTC
            try:
                handling.alert_handle(
                    alert=alert,
                    actor=request.user,
                    action=data["action"],
                    note=data["note"],
                    snooze_until=until,
                    escalate_to=data["escalate_to"],
                )
            except PermissionDenied as exc:
                raise Http404 from exc
            except ValidationError as exc:
                for fld, errors in exc.message_dict.items():
                    form.add_error(fld if fld in form.fields else None, errors)
            else:
                label = AlertAction.Action(data["action"]).label.lower()
                messages.success(request, f"Alert {label}: {alert.title}.")
                here = reverse("admin:alert_page", args=[alert.pk])
                return HttpResponseRedirect(_safe_next(request, here))
        status = 400
    else:
        form = AlertHandleForm(candidates=candidates)
    record_access(
        actor=request.user,
        owner_id=alert.user_id,
        via=AccessLog.Via.ADMIN,
        request=request,
        obj=alert,
    )
    context = {
        **admin_site.each_context(request),
        "title": f"Alert: {alert.title}",
        "alert": alert,
        "patient": alert.user,
        "overdue": handling.is_overdue(alert),
        "trail": alert.handling.select_related("escalated_to").order_by("-at", "-id"),
        "form": form,
        "is_resolved": alert.alert_status == HealthInsight.AlertStatus.RESOLVED,
        "escalation_candidates": list(candidates),
        "alert_actions": AlertAction.Action.choices,
    }
    return TemplateResponse(request, "admin/alert_page.html", context, status=status)


# --- notes ---------------------------------------------------------------------------------------


def patient_note(request, user_id: int, *, admin_site):
    """POST only: a care-team clinician's note for the patient (one of their insights)."""
    patient = _patient_or_404(request.user, user_id)
    if request.method != "POST":
        return HttpResponseRedirect(reverse("admin:patient_page", args=[patient.pk]))
    if not access.in_care_team(request.user, patient.pk):
        raise PermissionDenied  # superusers read the page; notes are the care team's
    form = NoteForm(request.POST)
    page = reverse("admin:patient_page", args=[patient.pk])
    if not form.is_valid():
        messages.error(request, "Write a subject and a note.")
        return HttpResponseRedirect(page)
    services.clinician_note_create(
        author=request.user,
        patient=patient,
        title=form.cleaned_data["title"],
        message=form.cleaned_data["message"],
    )
    messages.success(request, "Note saved: the patient sees it with their insights.")
    return HttpResponseRedirect(f"{page}#notes-h")


# --- the audit trail of one patient ------------------------------------------------------------


def _change_history(patient) -> list[LogEntry]:
    """auditlog rows about the patient's own records (profile, care team, alerts and notes,
    goals, programs, diary, targets), newest first. Measurements are left out: a device sync
    writes thousands."""

    def about(model, owner_field: str = "user") -> Q:
        ids = model.objects.filter(**{owner_field: patient}).values("pk")
        return Q(content_type=ContentType.objects.get_for_model(model), object_id__in=ids)

    query = Q(content_type=ContentType.objects.get_for_model(User), object_id=patient.pk)
    for model, owner in (
        (CareTeam, "patient"),
        (HealthInsight, "user"),
        (HealthGoal, "user"),
        (CareProgram, "user"),
        (NutritionLog, "user"),
        (NutritionTargets, "user"),
    ):
        query |= about(model, owner)
    alert_ids = HealthInsight.objects.filter(user=patient).values("pk")
    actions = AlertAction.objects.filter(alert_id__in=alert_ids).values("pk")
    query |= Q(content_type=ContentType.objects.get_for_model(AlertAction), object_id__in=actions)
    return list(
        LogEntry.objects.filter(query)
        .select_related("actor", "content_type")
        .order_by("-timestamp", "-pk")[:AUDIT_ROWS]
    )


def patient_audit(request, user_id: int, *, admin_site):
    """Read-only: the patient's access log, change history and alert decisions. The view
    itself is logged as a read by the viewer."""
    patient = _patient_or_404(request.user, user_id)
    reads = list(AccessLog.objects.filter(owner=patient).order_by("-at", "-id")[:AUDIT_ROWS])
    decisions = list(
        AlertAction.objects.filter(alert__user=patient)
        .select_related("alert", "escalated_to")
        .order_by("-at", "-id")[:AUDIT_ROWS]
    )
    changes = _change_history(patient)
    record_access(
        actor=request.user,
        owner_id=patient.pk,
        via=AccessLog.Via.ADMIN,
        request=request,
        endpoint=f"GET {request.path}",
    )
    context = {
        **admin_site.each_context(request),
        "title": f"Audit trail: {patient.get_full_name() or patient.get_username()}",
        "patient": patient,
        "reads": reads,
        "decisions": decisions,
        "changes": changes,
        "limit": AUDIT_ROWS,
        "now": datetime.now(UTC),
    }
    return TemplateResponse(request, "admin/patient_audit.html", context)
