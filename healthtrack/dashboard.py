"""The patient dashboard, assembled above the apps that feed it.

Each app that owns health data offers `<app>/dashboard.py: contribute(panels, *, user, days)`
(the panel types are in healthtrack.core.dashboard); this module calls them, named here in
INSTALLED_APPS order, so no app is found at run time and `accounts` imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

import goals.dashboard
import insights.dashboard
import metrics.dashboard
import nutrition.dashboard
from accounts import access
from accounts.members import page_owner
from healthtrack.core.dashboard import PERIODS, Panels, parse_period


def _contributors() -> list[Callable]:
    return [
        metrics.dashboard.contribute,
        nutrition.dashboard.contribute,
        goals.dashboard.contribute,
        insights.dashboard.contribute,
    ]


def dashboard_panels(*, user, days: int) -> Panels:
    panels = Panels()
    for contribute in _contributors():
        contribute(panels, user=user, days=days)
    return panels


@login_required
def dashboard_page(request: HttpRequest) -> HttpResponse:
    days = parse_period(request.GET.get("days"))
    # Yours, or `?member=<id>`'s when you may read their data (accounts.members); else 404.
    owner = page_owner(request)
    if not access.can_read(request.user, owner.pk):
        raise Http404
    panels = dashboard_panels(user=owner, days=days)
    return render(
        request,
        "dashboard/index.html",
        {"panels": panels, "days": days, "periods": PERIODS, "owner": owner},
    )
