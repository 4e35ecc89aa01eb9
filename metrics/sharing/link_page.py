"""The read-only page of a share link: `GET /share/<token>` asks for the access code, a correct
code (POST) shows exactly the grant's scope — the shared metric types' daily values over its
date window, as a chart and a table — and nothing else. An unknown, expired or revoked link is
a 404 page. Code attempts are rate-limited per IP and per link; each successful view is
logged (`accounts.sharing.share_grant_record_use`).

The page lives with the metrics (metrics.sharing), which may read accounts (sharing) and its
own rollups; accounts never imports metrics. The data is shown in the POST response, never
stored in a session or any cache: a reload asks again, and revoking a link ends access at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

from django import forms
from django.conf import settings
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from accounts import sharing
from healthtrack.core import days as calendar
from healthtrack.core.charts import Chart
from metrics import metric_charts
from metrics.models import DailyRollup
from metrics.registry import MetricType, get_metric_type
from metrics.series import shared_daily

# The chart spans at most this many days (the end of the window); the table lists every day.
MAX_CHART_DAYS = 366
DAILY_TITLES = {"sum": "Daily total", "average": "Daily average", "latest": "Last value of the day"}


def share_rate(group, request) -> str:
    return settings.SHARE_RATE_LIMIT


def share_token_key(group, request) -> str:
    """The link being tried (hashed: the token is a secret and must not name a cache key)."""
    token = (request.resolver_match.kwargs.get("token") if request.resolver_match else "") or ""
    return hashlib.sha256(token.encode()).hexdigest()


def share_ratelimited(*, method: str):
    """Limit a share view per client IP and per link (`SHARE_RATE_LIMIT`)."""

    def decorate(view):
        for name, key in (("ip", "ip"), ("token", share_token_key)):
            view = ratelimit(
                group=f"share:{name}", key=key, rate=share_rate, method=method, block=False
            )(view)
        return view

    return decorate


class AccessCodeForm(forms.Form):
    code = forms.CharField(
        label="Access code",
        max_length=40,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
    )


@dataclass(frozen=True)
class SharedMetric:
    metric_type: MetricType
    rows: list[DailyRollup]
    chart: Chart | None


def shared_metrics(scope: sharing.ShareScope, *, today: date | None = None) -> list[SharedMetric]:
    """The grant's metric types with their daily rollups in its window (and a chart each)."""
    today = today or calendar.today(scope.owner_id)
    by_type = shared_daily(
        owner_id=scope.owner_id,
        metric_types=scope.metric_types,
        date_from=scope.date_from,
        date_to=scope.date_to,
    )
    chart_end = min(scope.date_to, today)
    chart_start = max(scope.date_from, chart_end - timedelta(days=MAX_CHART_DAYS - 1))
    result = []
    for code, rows in by_type.items():
        chart = None
        mtype = get_metric_type(code)
        if chart_start <= chart_end:
            values = {row.day: row.value for row in rows}
            chart = metric_charts.metric_chart(
                code, values, chart_start, chart_end, title=DAILY_TITLES[mtype.aggregation]
            )
        result.append(SharedMetric(mtype, rows, chart))
    return result


def _private(response):
    """Not indexed. The URL holds the token: the site-wide `Referrer-Policy: same-origin`
    keeps it from other sites (`no-referrer` would make browsers send `Origin: null` with the
    form and fail Django's CSRF origin check)."""
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _unavailable(request):
    return _private(render(request, "share/unavailable.html", status=404))


@never_cache
@require_http_methods(["GET", "POST"])
@share_ratelimited(method="POST")
def share_page(request, token: str):
    if not sharing.share_link_is_active(token):
        return _unavailable(request)
    form = AccessCodeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if getattr(request, "limited", False):
            form = AccessCodeForm()
            response = render(
                request, "share/code.html", {"form": form, "rate_limited": True}, status=429
            )
            response["Retry-After"] = "60"
            return _private(response)
        if form.is_valid():
            grant = sharing.share_grant_for_link(token, form.cleaned_data["code"])
            if grant is not None:
                scope = sharing.share_grant_scope(grant)
                context = {"grant": grant, "scope": scope, "metrics": shared_metrics(scope)}
                sharing.share_grant_record_use(grant=grant, request=request)
                return _private(render(request, "share/data.html", context))
            if not sharing.share_link_is_active(token):  # expired or revoked meanwhile
                return _unavailable(request)
            form.add_error(
                "code", "That access code is not right. Check it with the person who shared it."
            )
        status = 400
    return _private(render(request, "share/code.html", {"form": form}, status=status))
