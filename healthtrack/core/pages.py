"""Status of a form page: a refused submission is bad input, so it is answered 400.

Every page that shows a submitted form again with its errors (the typed values kept, nothing
written) passes ``status=form_status(form, ...)`` to ``render``; a valid submission redirects."""

from __future__ import annotations

from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def form_status(*forms: BaseForm | None) -> int:
    """400 if any of `forms` was submitted and refused, else 200."""
    refused = any(form is not None and form.is_bound and form.errors for form in forms)
    return 400 if refused else 200


class FormStatusMixin:
    """For Django's class-based form views (login, password reset): a refused form is 400."""

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = form_status(form)
        return response


def refused(request: HttpRequest, *, message: str, back: str) -> HttpResponse:
    """A one-button form (water buttons, quick logs, photo upload) that was refused: a 400 page
    saying what was wrong and linking back to where the form was, nothing written."""
    return render(request, "refused.html", {"message": message, "back": back}, status=400)
