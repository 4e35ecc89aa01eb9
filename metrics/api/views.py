"""Thin API views: scope through `accounts.access`, validate, call one service or read."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, generics, status
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import access, audit
from accounts.api import readcache
from healthtrack.core import days as calendar
from healthtrack.core.api.errors import exception_handler as accounts_exception_handler
from healthtrack.core.api.filtering import FilterBackend
from healthtrack.core.api.idempotency import (
    MAX_KEY_LENGTH,
    IdempotencyKeyReused,
    idempotency_key,
    idempotent,
)
from healthtrack.core.api.strict import NoBodyMixin, refuse_unknown_fields
from metrics import period_rollups, services
from metrics.api import serializers as s
from metrics.api.filters import HealthMetricFilter
from metrics.models import Device, HealthMetric
from metrics.registry import METRIC_TYPES, get_metric_type
from metrics.series import aggregates
from metrics.summary import payload as summary_payload
from metrics.summary import summary
from metrics.summary_cache import rendered_summary
from metrics.validation import FIELDS

READ_METHODS = ("GET", "HEAD", "OPTIONS")

# --- error handling and documentation ------------------------------------------------------


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body is larger than the configured limit."
    default_code = "payload_too_large"


def metrics_exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    return accounts_exception_handler(exc, context)


def _detail(description: str) -> OpenApiResponse:
    return OpenApiResponse(s.DetailErrorSerializer, description=description)


FIELD_ERRORS = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description='Invalid input: `{"field": ["message", ...]}` per invalid field, or '
    '`{"detail": "..."}` for a malformed body.',
    examples=[
        OpenApiExample(
            "field errors",
            value={
                "value": ["Outside the plausible range for heart_rate: 20 to 250 bpm."],
                "recorded_at": [
                    "Give a timezone (for example Z or +02:00); naive times are refused."
                ],
            },
            response_only=True,
        )
    ],
)
ERRORS_READ = {
    401: _detail("Not authenticated (JWT bearer token or session)."),
    404: _detail("Not found, or not yours: another person's data is always 404."),
    429: _detail("Rate limit exceeded; see the Retry-After header."),
}
ERRORS_WRITE = {
    400: FIELD_ERRORS,
    **ERRORS_READ,
    413: _detail("Request body over the configured size."),
    415: _detail("Content-Type is not application/json."),
}


class MetricsAPIView(APIView):
    def get_exception_handler(self):
        return metrics_exception_handler


class MetricPagination(CursorPagination):
    """Newest first; `limit` up to 1000; `next`/`previous` are opaque cursor links."""

    ordering = ("-recorded_at", "-id")
    page_size = 100
    page_size_query_param = "limit"
    page_size_query_description = "Results per page, 1 to 1000 (default 100)."
    max_page_size = 1000

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise exceptions.ValidationError({"limit": ["Must be an integer from 1 to 1000."]})
        return size


# --- metric types --------------------------------------------------------------------------


class MetricTypeListView(MetricsAPIView):
    """The metric-type registry: codes, canonical units, accepted units with conversions,
    aggregation, category, plausible range and LOINC codes. Public."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: s.MetricTypeSerializer(many=True), 429: ERRORS_READ[429]})
    def get(self, request):
        return Response(s.MetricTypeSerializer(METRIC_TYPES.values(), many=True).data)


# --- measurements --------------------------------------------------------------------------


def _version_key(request, owner_id: int) -> str:
    """The version token guarding an answer at this URL: the owner's data version, which
    every write to their measurements replaces (`metrics.services.invalidate_summary_cache`),
    or, when the URL names exactly one registry type (`metric_type`: a list of that type, its
    aggregates), the version of that type's data, which only writes of that type (or writes
    that do not name their types) replace: a steps reading leaves a heart-rate page servable."""
    codes = request.GET.getlist("metric_type")
    if len(codes) == 1 and codes[0] in METRIC_TYPES:
        return services.type_version_key(owner_id, codes[0])
    return services.summary_version_key(owner_id)


def _list_entry(request, name: str, viewer_id: int, owner_id: int) -> readcache.Entry | None:
    """The cached page `viewer_id` reads of `owner_id`'s measurements at this URL, guarded by
    the owner's data version (`_version_key`: of the one type the page is filtered to, if so)."""
    return readcache.Entry.of_page(
        request,
        name,
        viewer_id=viewer_id,
        owner_id=owner_id,
        version_key=_version_key(request, owner_id),
        ttl=LIST_CACHE_TTL,
    )


# Bounds how long a page could outlive a change that bypassed the version (none is known).
LIST_CACHE_TTL = 300


class _MetricListMixin(readcache.ReadPrefetchMixin):
    """A page of a person's measurements, newest first. Whoever may read all of the owner's
    data (themself, their family, their care team) gets it from the rendered bytes kept per
    viewer, owner, URL and the owner's data version when current; access is checked and reads
    by others audited on every request, hit or miss. A share grant's holder (some types over
    a window) is always answered from the database."""

    pagination_class = MetricPagination
    filter_backends = [FilterBackend]
    filterset_class = HealthMetricFilter
    serializer_class = s.HealthMetricSerializer
    cache_name = "metrics_list"

    def get_exception_handler(self):
        return metrics_exception_handler

    def owner(self):
        if not hasattr(self, "_owner"):
            self._owner, self._whole = self.find_owner()
        return self._owner

    def find_owner(self) -> tuple[object, bool]:
        """(whose list this is, whether the viewer may read all of it), or 404."""
        raise NotImplementedError

    def whole_access(self) -> bool:
        """The viewer may read all of the owner's measurements (not through a grant only)."""
        self.owner()
        return self._whole

    def guessed_owner_id(self, request, viewer_id: int) -> int | None:
        """Whose list the URL names, before authentication (None: the view works it out)."""
        raise NotImplementedError

    def read_entry_guess(self, request, viewer_id):
        owner_id = self.guessed_owner_id(request, viewer_id)
        if owner_id is None:
            return None
        return self.list_entry(request, viewer_id, owner_id)

    def page_entry(self, request, viewer_id: int, owner_id: int) -> readcache.Entry | None:
        return _list_entry(request, self.cache_name, viewer_id, owner_id)

    def list(self, request, *args, **kwargs):
        own = self.own_cached_answer(request)
        if own is not None:
            return own
        owner = self.owner()
        found = None
        if self.whole_access():
            entry = self.list_entry(request, request.user.pk, owner.pk)
            if entry is not None:
                found, hit = readcache.serve(request, entry)
                if hit is not None:
                    audit.record_read(request=request, owner_id=owner.pk)
                    return hit
        response = super().list(request, *args, **kwargs)
        # Someone else's list (care team, grant, family `?member=`): one access-log row.
        audit.record_read(request=request, owner_id=owner.pk)
        if found is None:
            return response
        body = readcache.render(response.data)
        readcache.store(found, body)
        return readcache.response(body)

    def filter_queryset(self, queryset):
        code = HealthMetricFilter.single_type(self.request.query_params)
        if code is not None:
            return queryset.filter(metric_type=code)  # the FilterSet's answer, without its form
        return super().filter_queryset(queryset)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return HealthMetric.objects.none()
        # Own and care-team rows whole; a named share grant's types and window only.
        return access.readable_metrics(
            HealthMetric.objects.all(),
            self.request.user,
            owner_id=self.owner().pk,
            whole=self.whole_access(),
        ).as_rows()


@extend_schema_view(
    get=extend_schema(
        summary="List your measurements",
        description="Newest first, cursor-paginated. Filters: metric_type, since, until, "
        "source (source_app), device.",
        responses={200: s.HealthMetricSerializer(many=True), 400: FIELD_ERRORS, **ERRORS_READ},
    ),
    post=extend_schema(
        summary="Store a measurement",
        description="201 when created; 200 when `external_id` matched a stored measurement "
        "from the same source, which is then updated in place. Nothing is written on error.",
        request=s.HealthMetricInputSerializer,
        responses={201: s.HealthMetricSerializer, 200: s.HealthMetricSerializer, **ERRORS_WRITE},
    ),
)
class HealthMetricListCreateView(_MetricListMixin, generics.ListAPIView):
    def guessed_owner_id(self, request, viewer_id):
        member = request.GET.get(access.MEMBER_PARAM)
        if member in (None, ""):
            return viewer_id
        try:  # a family member's list: the access check decides, the guess only fetches
            return int(member)
        except ValueError:
            return None

    def find_owner(self):
        owner = access.owner_to_read(self.request)
        return owner, access.can_read(self.request.user, owner.pk)

    @idempotent
    def post(self, request):
        owner = access.owner_to_write(request)
        if not access.can_write(request.user, owner.pk):
            raise exceptions.NotFound
        devices = {}
        if isinstance(request.data, dict) and request.data.get("device") not in (None, ""):
            devices = {d.pk: d for d in Device.objects.filter(user_id=owner.pk)}
        serializer = s.HealthMetricInputSerializer(data=request.data, context={"devices": devices})
        serializer.is_valid(raise_exception=True)
        metric, created = services.metric_upsert(user=owner, **serializer.validated_data)
        return Response(
            s.reading(metric), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


@extend_schema_view(
    get=extend_schema(
        summary="List a person's measurements",
        description="As the own list, for a person whose data you may read: yourself, a "
        "patient in your care team, or (a named share grant) the granted metric types in its "
        "date window only. Anyone else: 404. Reads of someone else's data are logged.",
        responses={200: s.HealthMetricSerializer(many=True), 400: FIELD_ERRORS, **ERRORS_READ},
    )
)
class HealthMetricUserListView(_MetricListMixin, generics.ListAPIView):
    cache_name = "metrics_user_list"

    def guessed_owner_id(self, request, viewer_id):
        return self.kwargs["user_id"]

    def find_owner(self):
        return access.metrics_owner_or_404(self.request.user, self.kwargs["user_id"])


@extend_schema_view(
    get=extend_schema(
        summary="Read a measurement",
        responses={200: s.HealthMetricSerializer, **ERRORS_READ},
    ),
    put=extend_schema(
        summary="Replace a measurement",
        request=s.HealthMetricInputSerializer,
        responses={200: s.HealthMetricSerializer, **ERRORS_WRITE},
    ),
    patch=extend_schema(
        summary="Change some fields of a measurement",
        request=s.HealthMetricInputSerializer(partial=True),
        responses={200: s.HealthMetricSerializer, **ERRORS_WRITE},
    ),
    delete=extend_schema(summary="Delete a measurement", responses={204: None, **ERRORS_READ}),
)
class HealthMetricDetailView(NoBodyMixin, MetricsAPIView):
    serializer_class = s.HealthMetricSerializer

    def get_object(self) -> HealthMetric:
        base = HealthMetric.objects.select_related("user")
        if self.request.method in READ_METHODS:
            qs = access.readable_metrics(base, self.request.user)
        else:
            qs = access.writable(base, self.request.user)
        return get_object_or_404(qs, pk=self.kwargs["pk"])

    def get(self, request, pk):
        metric = self.get_object()
        audit.record_read(request=request, owner_id=metric.user_id, obj=metric)
        return Response(s.HealthMetricSerializer(metric).data)

    def put(self, request, pk):
        metric = self.get_object()
        devices = {d.pk: d for d in Device.objects.filter(user_id=metric.user_id)}
        serializer = s.HealthMetricInputSerializer(data=request.data, context={"devices": devices})
        serializer.is_valid(raise_exception=True)
        metric = services.metric_update(metric=metric, **serializer.validated_data)
        return Response(s.HealthMetricSerializer(metric).data)

    def patch(self, request, pk):
        metric = self.get_object()
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"non_field_errors": ["Expected an object."]})
        refuse_unknown_fields(request.data, FIELDS)
        changes = {k: v for k, v in request.data.items() if k in FIELDS}
        metric = services.metric_update(metric=metric, **changes)
        return Response(s.HealthMetricSerializer(metric).data)

    def delete(self, request, pk):
        services.metric_delete(metric=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


def _owner_from_query(request, user_id):
    if user_id is None:
        return access.owner_to_read(request)
    return access.get_metrics_owner_or_404(request.user, user_id)


def _summary_entry(viewer_id: int, owner_id: int, days: int) -> readcache.Entry:
    return readcache.Entry.of(
        "summary",
        viewer_id=viewer_id,
        owner_id=owner_id,
        params=f"days={days}",
        version_key=services.summary_version_key(owner_id),
        ttl=services.SUMMARY_CACHE_TTL,
    )


class SummaryView(readcache.ReadPrefetchMixin, MetricsAPIView):
    def read_entry_guess(self, request, viewer_id):
        params = readcache.guess_params(request)  # Django's request (own_hit) or DRF's
        if set(params) - {"days"}:
            return None  # someone else's (user_id, member): the view works it out
        try:
            days = int(params.get("days", 30))
        except ValueError:
            return None
        return _summary_entry(viewer_id, viewer_id, days)

    @extend_schema(
        summary="Summary per metric type",
        description="For each type with data in the last `days` days (the owner's local days, "
        "today included): "
        "count, latest sample and the per-day series, read from the daily rollups. Today is in "
        "progress (a partial day): its point is marked `in_progress` and its figure so far is "
        "`today`; `average`, `min` and `max` are over finished days only, the `days` days "
        "before today (`finished_start`..`finished_end`), so `average` is the product's "
        "`days`-day average (the mean of the daily figures, days with data only; null when "
        "none of them has data). "
        "Cached 5 minutes per person and window (never past the person's midnight); any "
        "write by that person shows in the next answer. "
        "A named share grant's holder sees its types and window only (not cached).",
        parameters=[s.SummaryQuerySerializer],
        responses={200: s.SummarySerializer, 400: FIELD_ERRORS, **ERRORS_READ},
    )
    def get(self, request):
        own = self.own_cached_answer(request)
        if own is not None:
            return own
        query = s.SummaryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        owner = _owner_from_query(request, query.validated_data.get("user_id"))
        days = query.validated_data["days"]
        tz = calendar.zone_of(owner)  # the owner's row is loaded: no query for their zone
        if not access.can_read(request.user, owner.pk):
            # A named share grant: its types and window only, never from the shared cache.
            data = summary(user_id=owner.pk, days=days, viewer=request.user, tz=tz)
            audit.record_read(request=request, owner_id=owner.pk)
            return Response(summary_payload(data))
        audit.record_read(request=request, owner_id=owner.pk)
        # This viewer's answer as rendered, while the owner's summary version is unchanged.
        found, hit = readcache.serve(request, _summary_entry(request.user.pk, owner.pk, days))
        if hit is not None:
            return hit
        if found is None:  # not a JSON answer, or the cache does not answer
            return Response(summary_payload(summary(user_id=owner.pk, days=days, tz=tz)))
        # Built from the owner's pieces per type, each kept under its type's version: after a
        # write only the types it changed are computed (`metrics.summary_cache`).
        body = rendered_summary(user_id=owner.pk, days=days, tz=tz)
        # Kept until the owner's midnight at most: the window ends today.
        ttl = min(found.entry.ttl, calendar.seconds_to_midnight(tz))
        if ttl >= 1:
            readcache.store(
                dataclasses.replace(found, entry=dataclasses.replace(found.entry, ttl=ttl)), body
            )
        return readcache.response(body)


MAX_AGGREGATE_SPAN = {
    "hour": timedelta(days=31),
    "day": timedelta(days=3 * 366),
    "week": timedelta(days=3 * 366),
    "month": timedelta(days=10 * 366),
}
DEFAULT_AGGREGATE_SPAN = {
    "hour": timedelta(days=2),
    "day": timedelta(days=30),
    "week": timedelta(weeks=12),
    "month": timedelta(days=365),
}


def _rollups_response(mtype, period: str, rows, period_start, *, in_progress, **extra) -> Response:
    """The aggregates answer: the type's code, unit and aggregation, the period, `extra`
    (`time_zone` for weeks and months), then one result per row (`period_start(row)` first,
    `in_progress(row)`: the period still under way, partial)."""
    results = [
        {
            "period_start": period_start(r),
            "value": r.value,
            "min_value": r.min_value,
            "max_value": r.max_value,
            "count": r.count,
            "in_progress": in_progress(r),
        }
        for r in rows
    ]
    return Response(
        {
            "metric_type": mtype.code,
            "unit": mtype.unit,
            "aggregation": mtype.aggregation,
            "period": period,
            **extra,
            "results": results,
        }
    )


def _aggregates_entry(request, viewer_id: int, owner_id: int) -> readcache.Entry:
    """The aggregates answer `viewer_id` reads of `owner_id` at this URL's parameters (in a
    normal order), guarded by the version of the owner's data of that type (`_version_key`):
    the rollups of a type change only with its measurements, and every such write (create,
    update, delete, sync, import, zone recut, archive, restore, retention, purge) replaces it
    (`services.invalidate_summary_cache`)."""
    query = urlencode(sorted(request.GET.lists()), doseq=True)
    return readcache.Entry.of(
        "aggregates",
        viewer_id=viewer_id,
        owner_id=owner_id,
        params=hashlib.blake2b(query.encode(), digest_size=16).hexdigest(),
        version_key=_version_key(request, owner_id),
        ttl=AGGREGATES_CACHE_TTL,
    )


AGGREGATES_CACHE_TTL = 300
AGGREGATE_PARAMS = frozenset({"metric_type", "period", "start", "end"})


def _seconds_to_boundary(period: str, owner, now: datetime) -> int:
    """Whole seconds from `now` to the next instant the same parameters can give another
    answer with the same rows: for hours the next quarter hour (an hour's row starts on one
    in every zone: `in_progress`, the default window's ends), else the owner's next local
    midnight (the day, week and month windows are local dates; `in_progress` too)."""
    if period == "hour":
        quarter = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
        return int((quarter + timedelta(minutes=15) - now).total_seconds())
    tz = calendar.zone_of(owner)
    midnight = calendar.day_start(now.astimezone(tz).date() + timedelta(days=1), tz)
    return int((midnight - now).total_seconds())


class AggregatesView(readcache.ReadPrefetchMixin, MetricsAPIView):
    def read_entry_guess(self, request, viewer_id):
        if set(request.GET) - AGGREGATE_PARAMS:
            return None  # someone else's (user_id, member): the view works it out
        return _aggregates_entry(request, viewer_id, viewer_id)

    @extend_schema(
        summary="Hourly, daily, weekly or monthly rollups of one metric type",
        description="Rows oldest first. period=hour: up to 31 days, rows with period_start in "
        "[start, end); a bare date as end is the whole day (start=D&end=D: that day's hours). "
        "period=day: up to 3 years, the owner's local days from start's to end's local date "
        "(period_start: the day's local midnight as a UTC instant). period=week "
        "(ISO weeks, Monday first, up to 3 years) and period=month (up to 10 years): the "
        "periods containing start's to end's local date in the owner's time zone, read from "
        "stored rollups kept in step with the daily ones. A share grant's holder reads hour "
        "and day only. `value` is the de-duplicated sum, the average or the latest value per "
        "the type.",
        parameters=[s.AggregatesQuerySerializer],
        responses={200: s.AggregatesSerializer, 400: FIELD_ERRORS, **ERRORS_READ},
    )
    def get(self, request):
        own = self.own_cached_answer(request)
        if own is not None:
            return own
        query = s.AggregatesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        owner = _owner_from_query(request, q.get("user_id"))
        if not access.can_read(request.user, owner.pk):  # a share grant: never from the cache
            return self.answer(request, q, owner, timezone.now(), whole=False)
        found, hit = readcache.serve(request, _aggregates_entry(request, request.user.pk, owner.pk))
        if hit is not None:
            audit.record_read(request=request, owner_id=owner.pk)  # someone else's: logged
            return hit
        now = timezone.now()
        response = self.answer(request, q, owner, now, whole=True)
        if found is None:
            return response
        body = readcache.render(response.data)
        # The answer moves with the clock at the period boundaries (the window, `in_progress`):
        # it is kept until the next one at most.
        ttl = min(AGGREGATES_CACHE_TTL, _seconds_to_boundary(q["period"], owner, now))
        if ttl >= 1:
            readcache.store(
                dataclasses.replace(found, entry=dataclasses.replace(found.entry, ttl=ttl)), body
            )
        return readcache.response(body)

    def answer(self, request, q, owner, now, *, whole: bool) -> Response:
        """The rollups `q` asks for, as of `now` (someone else's read logged). `whole`: the
        viewer may read all of the owner's data (`access.can_read`, asked by the caller)."""
        period = q["period"]
        # Bare dates are the owner's local days (healthtrack.core.days): start is that day's local
        # midnight; end, for hours, the next one (the whole day).
        tz = calendar.zone_of(owner)
        end = q.get("end") or now
        if "end" in q["bare_dates"]:
            end = calendar.day_start(end.date(), tz)
            if period == "hour":
                end = calendar.day_start(end.astimezone(tz).date() + timedelta(days=1), tz)
        start = q.get("start") or end - DEFAULT_AGGREGATE_SPAN[period]
        if "start" in q["bare_dates"]:
            start = calendar.day_start(q["start"].date(), tz)
        if end - start > MAX_AGGREGATE_SPAN[period]:
            raise exceptions.ValidationError(
                {
                    "start": [
                        f"period={period} covers at most {MAX_AGGREGATE_SPAN[period].days} days."
                    ]
                }
            )
        mtype = get_metric_type(q["metric_type"])
        if period in ("week", "month"):
            return self._periods(request, owner, mtype, period, start, end, tz, now)
        if period == "day":
            start, end = start.astimezone(tz).date(), end.astimezone(tz).date()
        rows = aggregates(
            user_id=owner.pk, metric_type=mtype.code, period=period, start=start, end=end
        )
        # A named share grant reads its types and window only; whoever reads all of the
        # owner's data, their rows as they are (no readable-users subquery to build).
        time_field = "period_start" if period == "hour" else "day"
        rows = access.readable_metrics(
            rows,
            request.user,
            owner_id=owner.pk,
            whole=whole,
            time_field=time_field,
            time_is_date=period == "day",
        ).values_list(time_field, "value", "min_value", "max_value", "count", named=True)
        audit.record_read(request=request, owner_id=owner.pk)
        if period == "hour":
            return _rollups_response(
                mtype,
                period,
                rows,
                lambda r: s.iso(r.period_start),
                # The hour or day in progress is partial (healthtrack.core.days): so far.
                in_progress=lambda r: r.period_start <= now < r.period_start + timedelta(hours=1),
            )
        return _rollups_response(
            mtype,
            period,
            rows,
            lambda r: s.iso(calendar.day_start(r.day, tz)),
            in_progress=lambda r: calendar.is_in_progress(r.day, owner, now=now),
        )

    def _periods(self, request, owner, mtype, period, start, end, tz, now):
        if not access.can_read(request.user, owner.pk):
            # A week or month may reach past a share grant's window.
            raise exceptions.ValidationError(
                {"period": ["A share grant gives hourly and daily rollups only."]}
            )
        first, last = start.astimezone(tz).date(), end.astimezone(tz).date()
        rows = period_rollups.period_rows(
            user_id=owner.pk, metric_type=mtype.code, period=period, first=first, last=last
        )
        audit.record_read(request=request, owner_id=owner.pk)

        def in_progress(r) -> bool:  # the week or month now is partial
            lo, hi = period_rollups.bounds(period, r.start, tz)
            return lo <= now < hi

        return _rollups_response(
            mtype,
            period,
            rows,
            lambda r: datetime.combine(r.start, time.min, tzinfo=tz).isoformat(),
            in_progress=in_progress,
            time_zone=calendar.zone_name(tz),
        )


# --- devices -------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(
        summary="List your devices", responses={200: s.DeviceSerializer(many=True), **ERRORS_READ}
    ),
    post=extend_schema(
        summary="Register a device",
        description="`priority` defaults by device type; it decides which device's samples "
        "count where summed samples overlap.",
        request=s.DeviceSerializer,
        responses={201: s.DeviceSerializer, **ERRORS_WRITE},
    ),
)
class DeviceListCreateView(MetricsAPIView):
    serializer_class = s.DeviceSerializer

    def get(self, request):
        owner = access.owner_to_read(request)
        devices = access.readable(Device.objects.filter(user_id=owner.pk), request.user)
        return Response(s.DeviceSerializer(devices, many=True).data)

    @idempotent
    def post(self, request):
        owner = access.owner_to_write(request)
        if not access.can_write(request.user, owner.pk):
            raise exceptions.NotFound
        serializer = s.DeviceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if Device.objects.filter(
            user_id=owner.pk, identifier=serializer.validated_data["identifier"]
        ).exists():
            raise exceptions.ValidationError(
                {"identifier": ["You have already registered a device with this identifier."]}
            )
        try:
            device = services.device_create(user=owner, **serializer.validated_data)
        except IntegrityError:
            raise exceptions.ValidationError(
                {"identifier": ["You have already registered a device with this identifier."]}
            ) from None
        return Response(s.DeviceSerializer(device).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(summary="Read a device", responses={200: s.DeviceSerializer, **ERRORS_READ}),
    patch=extend_schema(
        summary="Rename a device or change its priority",
        description="A new priority re-ranks the device's summed samples; rollups follow.",
        request=s.DeviceUpdateSerializer,
        responses={200: s.DeviceSerializer, **ERRORS_WRITE},
    ),
)
class DeviceDetailView(MetricsAPIView):
    serializer_class = s.DeviceSerializer

    def get_object(self) -> Device:
        if self.request.method in READ_METHODS:
            qs = access.readable(Device.objects.all(), self.request.user)
        else:
            qs = access.writable(Device.objects.all(), self.request.user)
        return get_object_or_404(qs, pk=self.kwargs["pk"])

    def get(self, request, pk):
        return Response(s.DeviceSerializer(self.get_object()).data)

    def patch(self, request, pk):
        device = self.get_object()
        serializer = s.DeviceUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        device = services.device_update(device=device, **serializer.validated_data)
        return Response(s.DeviceSerializer(device).data)


class DeviceSyncView(MetricsAPIView):
    @extend_schema(
        summary="Sync a batch of samples from a device",
        description="Up to 5,000 samples, each validated on its own: valid ones are stored "
        "(a known `external_id` updates in place; a sample identical to a stored one counts "
        "as a duplicate), invalid ones come back in `errors` as `{index, field, message}`. "
        "Send an `Idempotency-Key` header (else a hash of user, device and body is used): a "
        "retry within 24 h gets the first response back, with `Idempotent-Replayed: true`, "
        "and writes nothing. The same key with a different body is 409.",
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=False,
                description=f"Any string up to {MAX_KEY_LENGTH} characters, unique per logical "
                "batch.",
            ),
            OpenApiParameter(
                "X-Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=False,
                description="Alias of `Idempotency-Key` (both with different values is 400).",
            ),
        ],
        request=s.SyncRequestSerializer,
        responses={
            200: s.SyncResponseSerializer,
            **ERRORS_WRITE,
            409: _detail("Idempotency-Key reused with a different body."),
        },
    )
    def post(self, request, pk):
        device = get_object_or_404(
            access.writable(Device.objects.select_related("user"), request.user), pk=pk
        )
        data = request.data
        refuse_unknown_fields(data, ["samples"])
        samples = data.get("samples") if isinstance(data, dict) else None
        if not isinstance(samples, list):
            raise exceptions.ValidationError({"samples": ["A list of samples is required."]})
        if len(samples) > services.MAX_SYNC_SAMPLES:
            raise exceptions.ValidationError(
                {"samples": [f"At most {services.MAX_SYNC_SAMPLES} samples per batch."]}
            )
        key = idempotency_key(request)  # or its alias X-Idempotency-Key
        try:
            result = services.device_sync(
                user=device.user, device=device, samples=samples, idempotency_key=key
            )
        except services.IdempotencyConflict:
            raise IdempotencyKeyReused from None
        response = Response(result.body)
        if result.replayed:
            response["Idempotent-Replayed"] = "true"
        return response
