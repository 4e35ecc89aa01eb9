"""Error pages: under `/api/` a URL that matches no route answers like the API does (JSON,
`{"detail": "Not found."}`), not with the HTML page meant for people."""

from __future__ import annotations

from django.http import Http404, JsonResponse
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
