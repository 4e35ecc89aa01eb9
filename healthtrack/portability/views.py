"""The "Your data" settings page: export everything, a doctor's report, imports with their
progress. The work is done by the same services and endpoints as the API."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from accounts import access
from accounts.members import member_redirect, page_owner
from healthtrack.core import days as calendar
from healthtrack.core.pages import form_status
from healthtrack.portability import services
from healthtrack.portability.forms import ImportForm, ReportForm
from healthtrack.portability.models import ImportJob
from healthtrack.portability.uploads import LimitedUploadHandler, max_upload_bytes

# While an import runs the page reloads itself this often (a meta refresh: no script).
REFRESH_SECONDS = 3


@csrf_exempt
def data_page(request: HttpRequest) -> HttpResponse:
    # The size limit's upload handler must be in place before anything reads the body, so
    # the CSRF check (which reads it) runs after, in `_data_page`.
    if request.method == "POST":
        request.upload_limiter = LimitedUploadHandler(request, max_upload_bytes())
        request.upload_handlers.insert(0, request.upload_limiter)
    return _data_page(request)


@login_required
@never_cache
@csrf_protect
def _data_page(request: HttpRequest) -> HttpResponse:
    # Yours, or `?member=`'s: export and import for those who may write for them, the report
    # for anyone who may read them (as on the API).
    owner = page_owner(request, write=request.method == "POST")
    may_write = access.can_write(request.user, owner.pk)
    form = ImportForm(request.POST, request.FILES) if request.method == "POST" else ImportForm()
    if request.method == "POST" and form.is_valid():
        try:
            job = services.import_job_create(
                user=owner,
                upload=form.cleaned_data["file"],
                kind=form.cleaned_data["kind"] or None,
            )
        except ValidationError as exc:
            for message in exc.message_dict.get("kind", exc.messages):
                form.add_error("kind", message)
        else:
            messages.success(request, f"Import {job.pk} started; its progress is shown below.")
            return member_redirect(request, "settings-data")
    elif getattr(getattr(request, "upload_limiter", None), "exceeded", False):
        form.errors.clear()
        form.add_error(
            "file",
            f"The file is larger than the upload limit of {settings.IMPORT_MAX_UPLOAD_MB} MB.",
        )
    jobs = list(ImportJob.objects.filter(user=owner).order_by("-created_at", "-id")[:20])
    if not may_write:
        jobs = []
    today = calendar.today(owner)  # the owner's local day (healthtrack.core.days)
    context = {
        "section": "data",
        "form": form,
        "jobs": jobs,
        "report_form": ReportForm(initial={"start": today - timedelta(days=29), "end": today}),
        "refresh": REFRESH_SECONDS if any(not job.is_finished for job in jobs) else None,
        "max_mb": settings.IMPORT_MAX_UPLOAD_MB,
    }
    return render(request, "portability/data.html", context, status=form_status(form))
