"""The verification queue page: the pending care-program logs of the people the viewer may
review (members they manage as a family manager; a care-team clinician's patients too, though
clinicians also have the admin's queue). Verify or reject each with a note."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from goals.care_programs import program_logs
from healthtrack.core.pages import refused

QUEUE_SIZE = 100


@login_required
@require_GET
def log_queue(request: HttpRequest) -> HttpResponse:
    logs = list(program_logs.review_queue(request.user)[:QUEUE_SIZE])
    rows = [
        {
            "log": log,
            "person": log.program.user.get_full_name() or log.program.user.get_username(),
            "payload": ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in log.payload.items()),
        }
        for log in logs
    ]
    return render(request, "goals/log_queue.html", {"rows": rows})


@login_required
@require_POST
def log_review(request: HttpRequest, pk: int) -> HttpResponse:
    log = get_object_or_404(program_logs.readable_logs(request.user), pk=pk)
    if not program_logs.can_review(request.user, log.program.user_id):
        raise Http404
    action = request.POST.get("action")
    if action not in ("verify", "reject"):
        return refused(request, message="Choose verify or reject.", back="/programs/logs/queue/")
    write = getattr(program_logs, f"program_log_{action}")
    try:
        write(log=log, reviewer=request.user, note=request.POST.get("note", ""))
    except ValidationError as exc:
        text = " ".join(m for ms in exc.message_dict.values() for m in ms)
        return refused(request, message=text, back="/programs/logs/queue/")
    messages.success(request, f"Log {'verified' if action == 'verify' else 'rejected'}.")
    return redirect("program-log-queue")
