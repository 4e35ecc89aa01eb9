"""Insights pages: the history of recommendations, alerts and clinicians' notes with their
read and acknowledged state, the acknowledge and mark-read actions, and the dashboard's quick
log (water, a workout, a snack) with the advice line that follows it.

Thin views: insights are scoped through `accounts.access` (someone else's is a 404); writes
go through `insights.services`, `metrics.services` and `nutrition.services`.
"""

from __future__ import annotations

from datetime import UTC

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.members import (
    member_query,
    member_redirect,
    page_owner,
    page_writable,
    page_writer,
    with_member,
)
from healthtrack.core.pages import refused
from insights import services
from insights.forms import QuickFoodForm, QuickGymForm, QuickWaterForm
from insights.models import HealthInsight
from nutrition.forms import likely_meal

PAGE_SIZE = 20
KINDS = (
    ("", "All"),
    (HealthInsight.Kind.RECOMMENDATION, "Recommendations"),
    (HealthInsight.Kind.ALERT, "Alerts"),
    (HealthInsight.Kind.CLINICIAN_NOTE, "Notes from your care team"),
)


def _own_insights(request: HttpRequest):
    """The insights the signed-in user may mark (a family manager may, a read-only role not)."""
    return page_writable(request, HealthInsight.objects.all())


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return member_redirect(request, default)


@login_required
def insights_index(request: HttpRequest) -> HttpResponse:
    user = page_owner(request)
    services.recommendations_refresh_if_stale(user=user)
    kind = request.GET.get("kind", "")
    if kind not in dict(KINDS):
        kind = ""
    insights = HealthInsight.objects.for_user(user.pk).select_related("author").newest_first()
    if kind:
        insights = insights.filter(kind=kind)
    page = Paginator(insights, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "insights/index.html",
        {
            "page": page,
            "kind": kind,
            "kinds": KINDS,
            "page_query": member_query(request, f"kind={kind}" if kind else ""),
        },
    )


@login_required
@require_POST
def insight_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    insight = get_object_or_404(_own_insights(request), pk=pk)
    services.insight_mark(insight=insight, acknowledged=True)
    messages.success(request, f"Acknowledged: “{insight.title}”. You can find it under Insights.")
    return _back(request, reverse("insights"))


@login_required
@require_POST
def insight_read(request: HttpRequest, pk: int) -> HttpResponse:
    insight = get_object_or_404(_own_insights(request), pk=pk)
    services.insight_mark(insight=insight, read=True)
    messages.success(request, f"Marked as read: “{insight.title}”.")
    return _back(request, reverse("insights"))


# --- quick log ------------------------------------------------------------------------------


QUICK_FORMS = {"water": QuickWaterForm, "gym": QuickGymForm, "food": QuickFoodForm}


def _quick(kind: str, user, data: dict) -> tuple[str, services.QuickAdvice]:
    """Log through the quick-log service of `kind`; (what was logged, its advice)."""
    now = timezone.now().astimezone(UTC)
    if kind == "water":
        result = services.quick_water_log(
            user=user, litres=data["amount_ml"] / 1000, at=now, now=now
        )
        return f"{data['amount_ml']:,.0f} ml of water logged.", result
    if kind == "gym":
        activity = data["activity"] or "Workout"
        result = services.quick_exercise_log(
            user=user, activity=activity, minutes=data["minutes"], ended_at=now
        )
        return f"{activity} of {data['minutes']} minutes logged.", result
    result = services.quick_food_log(
        user=user,
        meal=likely_meal(now.time()),
        food_text=data["food"],
        at=now,
        calories=data["calories"],
    )
    name = result.entry.get("food") or data["food"]
    return f"{name} logged ({result.entry['calories'] or 0:,.0f} kcal).", result


@login_required
@require_POST
def quick_log(request: HttpRequest, kind: str) -> HttpResponse:
    """Log water, a workout or a snack in one step from the dashboard (insights.services'
    quick logs), then show what was logged and the advice line about it there."""
    form_class = QUICK_FORMS.get(kind)
    if form_class is None:
        raise Http404
    owner = page_writer(request)
    form = form_class(request.POST)
    back = with_member(request, reverse("dashboard"))
    if not form.is_valid():
        return refused(request, message=form.error_text(), back=back)
    try:
        done, result = _quick(kind, owner, form.cleaned_data)
    except ValidationError as exc:
        return refused(request, message=" ".join(exc.messages), back=back)
    messages.success(request, done)
    messages.info(request, result.message, extra_tags="advice")
    return member_redirect(request, "dashboard")
