"""Goals pages: the list with progress and on-track state, create (pick a goal type, then the
target), edit, abandon.

Thin views: goals are scoped through `accounts.access` (someone else's goal is a 404); the
form collects input and `goals.services` validates (`goals.validation`) and writes.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from accounts.members import member_redirect, page_owner, page_writable, page_writer
from goals import services
from goals.forms import GOAL_TYPE_HELP, GoalForm, format_amount
from goals.measures import GOAL_TYPES
from goals.models import HealthGoal
from goals.progress import goal_status
from goals.readings import today_figures
from healthtrack.core.pages import form_status


def _own_goals(request: HttpRequest):
    return page_writable(request, HealthGoal.objects.all())


def goal_view(goal: HealthGoal, today_value: float | None = None) -> dict:
    """What the pages show of a goal, in words and figures (`goals.progress.goal_status`, as
    the dashboard; `today_value`: today's figure so far, for daily totals)."""
    measure = goal.measure
    active = goal.status == HealthGoal.Status.ACTIVE
    judged = goal_status(
        on_track=goal.on_track,
        progress_percent=goal.progress_percent,
        direction=goal.direction,
        target=goal.target_value,
        today_value=today_value if active else None,
    )
    track = (judged.status, judged.text)
    how = "latest reading" if measure.is_latest else f"{goal.period_days}-day average"
    return {
        "goal": goal,
        "percent": judged.percent,
        "so_far": judged.so_far,
        "today": format_amount(measure, today_value) if today_value is not None else None,
        "current": format_amount(measure, goal.current_value),
        "target": format_amount(measure, goal.target_value),
        "baseline": format_amount(measure, goal.baseline_value)
        if goal.baseline_value is not None
        else None,
        "how": how,
        # "of the way from where you started" only means something for a goal to reach.
        "reach": goal.direction in (HealthGoal.Direction.INCREASE, HealthGoal.Direction.DECREASE),
        "track_status": track[0],
        "track_text": track[1],
    }


@login_required
def goals_index(request: HttpRequest) -> HttpResponse:
    user = page_owner(request)
    goals = list(HealthGoal.objects.for_user(user).by_priority())
    live = [g for g in goals if g.status == HealthGoal.Status.ACTIVE]
    today = today_figures(user.pk, {g.metric_type for g in live})
    active = [goal_view(g, today.get(g.metric_type)) for g in live]
    done = [goal_view(g) for g in goals if g.status != HealthGoal.Status.ACTIVE]
    return render(request, "goals/index.html", {"active": active, "done": done})


@login_required
def goal_new(request: HttpRequest) -> HttpResponse:
    page_owner(request, write=True)
    types = [
        {"value": value, "label": label, "help": GOAL_TYPE_HELP.get(value, "")}
        for value, label in HealthGoal.GoalType.choices
    ]
    return render(request, "goals/new.html", {"types": types})


@login_required
def goal_create(request: HttpRequest, goal_type: str) -> HttpResponse:
    if goal_type not in GOAL_TYPES:
        raise Http404
    owner = page_writer(request)
    form = GoalForm(request.POST or None, goal_type=goal_type)
    if request.method == "POST" and form.is_valid():
        try:
            goal = services.goal_create(user=owner, goal_type=goal_type, **form.service_fields())
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Goal “{goal.title}” set. Its progress is below.")
            return member_redirect(request, "goals")
    return render(
        request,
        "goals/form.html",
        {"form": form, "goal_type": dict(HealthGoal.GoalType.choices)[goal_type], "editing": False},
        status=form_status(form),
    )


@login_required
def goal_edit(request: HttpRequest, pk: int) -> HttpResponse:
    goal = get_object_or_404(_own_goals(request), pk=pk)
    if request.method == "POST":
        form = GoalForm(request.POST, goal_type=goal.goal_type)
        if form.is_valid():
            try:
                goal = services.goal_update(goal=goal, **form.service_fields())
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, f"Goal “{goal.title}” saved.")
                return member_redirect(request, "goals")
    else:
        form = GoalForm.for_goal(goal)
    return render(
        request,
        "goals/form.html",
        {"form": form, "goal": goal, "goal_type": goal.get_goal_type_display(), "editing": True},
        status=form_status(form),
    )


@login_required
@require_POST
def goal_abandon(request: HttpRequest, pk: int) -> HttpResponse:
    goal = get_object_or_404(_own_goals(request), pk=pk)
    goal = services.goal_abandon(goal=goal)
    messages.success(request, f"Goal “{goal.title}” abandoned. It stays in your history.")
    return member_redirect(request, "goals")
