"""Errors answered before a view runs: under `/api/` a URL that matches no route answers like
the API does (JSON, `{"detail": "Not found."}`), not with the HTML page meant for people; a
path id beyond any row is 404; a form body that is not UTF-8 is 400."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.views import defaults


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


# The largest id a database row can have (a signed 64-bit integer): a path id above it names
# nothing, and SQLite cannot even compare it (OverflowError: a 500 before this).
MAX_ID = 2**63 - 1


class OutOfRangeIdMiddleware:
    """A URL whose `<int:...>` part is beyond any row's id is 404, before the view runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        for value in (*view_args, *view_kwargs.values()):
            if isinstance(value, int) and not -MAX_ID <= value <= MAX_ID:
                raise Http404
        return None


FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def _is_utf8_form(body: bytes) -> bool:
    try:
        text = body.decode("ascii")  # a urlencoded body is ASCII; bytes above are raw, not UTF-8
    except UnicodeDecodeError:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True  # raw UTF-8 that a lenient client did not percent-encode
    for pair in text.split("&"):
        for part in pair.split("=", 1):
            try:
                unquote_to_bytes(part.replace("+", " ")).decode("utf-8")
            except UnicodeDecodeError:
                return False
    return True


class Utf8FormMiddleware:
    """A form body that is not UTF-8 is refused with 400 naming the problem. (Django would
    decode it with replacement characters, and the garbled text would be saved.)"""

    message = "The form data is not valid UTF-8."

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in ("POST", "PUT", "PATCH") and request.content_type == FORM_CONTENT_TYPE:
            try:
                body = request.body
            except RequestDataTooBig:
                body = b""  # the view answers that one
            if not _is_utf8_form(body):
                if request.path.startswith("/api/"):
                    return JsonResponse({"detail": self.message}, status=400)
                return HttpResponseBadRequest(self.message, content_type="text/plain")
        return self.get_response(request)
