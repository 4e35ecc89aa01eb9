from __future__ import annotations

import dataclasses

from django.db.models import Prefetch, prefetch_related_objects
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.fields import BooleanField
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import access, audit
from accounts.api import readcache
from accounts.audit import record_read
from accounts.models import User
from healthtrack.core import days as calendar
from healthtrack.core.api.idempotency import idempotent
from healthtrack.core.api.rows import BuiltOnceRowsMixin
from insights import cache as rec_cache
from insights import services
from insights.api.filters import HealthInsightFilter
from insights.api.serializers import (
    AdviceSerializer,
    CacheStatsSerializer,
    ClinicianNoteSerializer,
    FoodAdviceSerializer,
    GymAdviceSerializer,
    HealthInsightSerializer,
    InsightMarkSerializer,
    RecommendationsQuerySerializer,
    RecommendationsSerializer,
    WaterAdviceSerializer,
)
from insights.list_version import list_version_key
from insights.models import HealthInsight

NOT_FOUND = OpenApiResponse(description="No such insight or user for you: `{detail}`.")
BAD_REQUEST = OpenApiResponse(description="Invalid input: `{field: [messages]}`.")
FORBIDDEN = OpenApiResponse(description="Not allowed: `{detail}`.")


class NewestFirstPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200


def _readable_insights(viewer, owner_id=None):
    return access.readable(
        HealthInsight.objects.all(), viewer, owner_field="user", owner_id=owner_id
    )


def _with_authors(insights: list[HealthInsight]) -> list[HealthInsight]:
    """Only clinicians' notes have an author, and only the name is shown: the authors of these
    rows in one query when there are any (none for recommendations and alerts; joining them
    into every list, or an empty prefetch, cost more to compile than the list's query), never
    with the encrypted fields that are not shown (they were decrypted for every note)."""
    if any(insight.author_id is not None for insight in insights):
        authors = User.objects.only("username", "first_name", "last_name")
        prefetch_related_objects(insights, Prefetch("author", authors))
    return insights


# Bounds how long a page could outlive a change that bypassed the version (none is known: every
# write of insights rows retires it from the model layer, `insights.list_version`).
LIST_CACHE_TTL = 300


def _list_entry(request, viewer_id: int, owner_id: int) -> readcache.Entry | None:
    """The cached page `viewer_id` reads of `owner_id`'s insights at this URL, guarded by the
    version of the owner's insights (`insights.list_version`)."""
    return readcache.Entry.of_page(
        request,
        "insights_list",
        viewer_id=viewer_id,
        owner_id=owner_id,
        version_key=list_version_key(owner_id),
        ttl=LIST_CACHE_TTL,
    )


# Alerts must reach clinicians at once: no response here may be stored by any HTTP cache (the
# server's own copy of a page is retired by every write of the owner's insights).
@method_decorator(never_cache, name="dispatch")
class _InsightListView(readcache.ReadPrefetchMixin, BuiltOnceRowsMixin, generics.ListAPIView):
    """One person's insights. `ReadPrefetchMixin`: the rate limits, the JWT user and the page's
    cached bytes in one Redis round trip; the rows written by one serializer built once. A page
    is answered from its rendered bytes kept per viewer, owner, URL and the version of the
    owner's insights while current (the viewer's own from `own_hit`, before DRF's dispatch);
    access is checked and reads by others audited on every request, hit or miss."""

    serializer_class = HealthInsightSerializer
    pagination_class = NewestFirstPagination
    filterset_class = HealthInsightFilter

    def owner(self):
        """Whose insights these are (404 for anyone who may not read them), found once."""
        if not hasattr(self, "_owner"):
            self._owner = self.find_owner()
        return self._owner

    def find_owner(self):
        raise NotImplementedError

    def guessed_owner_id(self, request, viewer_id: int) -> int | None:
        """Whose list the URL names, before authentication (None: the view works it out)."""
        raise NotImplementedError

    def read_entry_guess(self, request, viewer_id):
        owner_id = self.guessed_owner_id(request, viewer_id)
        return None if owner_id is None else self.list_entry(request, viewer_id, owner_id)

    def page_entry(self, request, viewer_id: int, owner_id: int) -> readcache.Entry | None:
        return _list_entry(request, viewer_id, owner_id)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request user
            return HealthInsight.objects.none()
        return _readable_insights(self.request.user, owner_id=self.owner().pk)

    def list(self, request, *args, **kwargs):
        own = self.own_cached_answer(request)
        if own is not None:
            return own
        owner = self.owner()
        found, hit = None, None
        entry = self.list_entry(request, request.user.pk, owner.pk)
        if entry is not None:
            found, hit = readcache.serve(request, entry)
        # Someone else's insights (care team, family `?member=`): one access-log row.
        if hit is not None:
            audit.record_read(request=request, owner_id=owner.pk)
            return hit
        response = super().list(request, *args, **kwargs)
        audit.record_read(request=request, owner_id=owner.pk)
        if found is None or response.status_code != status.HTTP_200_OK:
            return response
        body = readcache.render(response.data)
        readcache.store(found, body)
        return readcache.response(body)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        return page if page is None else _with_authors(page)

    def filter_queryset(self, queryset):
        if not HealthInsightFilter.named_in(self.request.query_params):
            return HealthInsightFilter.unfiltered(queryset)  # no form to build and validate
        return super().filter_queryset(queryset)


class InsightListCreateView(_InsightListView):
    """GET: your own insights. POST: a clinician's note for a patient in their care."""

    def find_owner(self):
        return access.owner_to_read(self.request)  # you, or `?member=<id>` you may read

    def guessed_owner_id(self, request, viewer_id):
        member = request.GET.get(access.MEMBER_PARAM)
        if member in (None, ""):
            return viewer_id
        try:  # a family member's list: the access check decides, the guess only fetches
            return int(member)
        except ValueError:
            return None

    @extend_schema(
        description="Your own insights (or `?member=<id>`'s), newest first: generated "
        "recommendations, alerts and clinicians' notes. Recommendations replaced by a newer "
        "set are left out unless `include_history=true`."
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        description="A clinician's own note for a patient in their care. Patients get 403; a "
        "patient not in the clinician's care gets 404.",
        request=ClinicianNoteSerializer,
        responses={
            201: HealthInsightSerializer,
            400: BAD_REQUEST,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
    )
    @idempotent
    def post(self, request):
        viewer = request.user
        if viewer.role == User.Role.PATIENT:
            raise PermissionDenied("Patients may not create insights.")
        if viewer.role != User.Role.CLINICIAN:
            raise PermissionDenied("Only clinicians may create insights.")
        serializer = ClinicianNoteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        patient = access.get_readable_owner_or_404(viewer, data.pop("user_id"))
        note = services.clinician_note_create(author=viewer, patient=patient, **data)
        return Response(HealthInsightSerializer(note).data, status=status.HTTP_201_CREATED)


class UserInsightListView(_InsightListView):
    """One person's insights, newest first, if you may read their data (else 404)."""

    def find_owner(self):
        return access.get_readable_owner_or_404(self.request.user, self.kwargs["user_id"])

    def guessed_owner_id(self, request, viewer_id):
        return self.kwargs["user_id"]

    @extend_schema(responses={200: HealthInsightSerializer(many=True), 404: NOT_FOUND})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@method_decorator(never_cache, name="dispatch")
class InsightDetailView(generics.GenericAPIView):
    """One insight you may read (else 404). PATCH: its owner marks it read or acknowledged."""

    serializer_class = HealthInsightSerializer

    def get_object(self) -> HealthInsight:
        insight = get_object_or_404(_readable_insights(self.request.user), pk=self.kwargs["pk"])
        return _with_authors([insight])[0]

    @extend_schema(responses={200: HealthInsightSerializer, 404: NOT_FOUND})
    def get(self, request, pk: int):
        insight = self.get_object()
        audit.record_read(request=request, owner_id=insight.user_id, obj=insight)
        return Response(HealthInsightSerializer(insight).data)

    @extend_schema(
        request=InsightMarkSerializer,
        responses={200: HealthInsightSerializer, 400: BAD_REQUEST, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def patch(self, request, pk: int):
        insight = self.get_object()
        if not access.can_write(request.user, insight.user_id):
            raise PermissionDenied("Only the patient may change this insight.")
        serializer = InsightMarkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.insight_mark(
            insight=insight,
            read=serializer.validated_data.get("is_read"),
            acknowledged=serializer.validated_data.get("acknowledged"),
        )
        return Response(HealthInsightSerializer(insight).data)


# --- recommendations ------------------------------------------------------------------------


def _recommendations_entry(viewer_id: int, owner_id: int, days: int) -> readcache.Entry:
    return readcache.Entry.of(
        "recommendations",
        viewer_id=viewer_id,
        owner_id=owner_id,
        params=f"days={days}",
        version_key=rec_cache.version_key(owner_id),
        ttl=rec_cache.ttl(),
        hit_counter=rec_cache.stats_key("hits"),
    )


class RecommendationsView(readcache.ReadPrefetchMixin, APIView):
    """A person's top recommendations (owner or care-team clinician; anyone else 404)."""

    def cached_answer_served(self):
        rec_cache.count_in_process("hits")

    def read_entry_guess(self, request, viewer_id):
        params = readcache.guess_params(request)  # Django's request (own_hit) or DRF's
        if set(params) - {"days", "use_cache"}:
            return None
        if params.get("use_cache", "true") not in BooleanField.TRUE_VALUES:
            return None
        try:
            days = int(params.get("days", 30))
        except ValueError:
            return None
        return _recommendations_entry(viewer_id, self.kwargs["user_id"], days)

    @extend_schema(
        parameters=[RecommendationsQuerySerializer],
        description="The top 5 recommendations (rank 1 first) over the last `days` complete "
        "days. Served from the cache for an hour at most, never past that person's midnight "
        "(dropped when their measurements, nutrition or goals before today change); on a "
        "miss, or with `use_cache=false`, computed now. "
        "Clinical alerts are never here: see `/health-insights?kind=alert`.",
        responses={200: RecommendationsSerializer, 400: BAD_REQUEST, 404: NOT_FOUND},
    )
    def get(self, request, user_id: int):
        own = self.own_cached_answer(request)
        if own is not None:
            rec_cache.count_in_process("hits")
            return own
        viewer = request.user
        if user_id == viewer.pk and access.can_read(viewer, user_id):
            owner = viewer  # own data: already loaded (saves a query on the cached path)
        else:
            owner = access.get_readable_owner_or_404(viewer, user_id)
        params = RecommendationsQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        record_read(request=request, owner_id=owner.pk, endpoint="recommendations")
        days, use_cache = params.validated_data["days"], params.validated_data["use_cache"]
        # This viewer's answer as rendered, while the owner's recommendations version is
        # unchanged (the hit counter is counted in the same round trip). With
        # use_cache=false the answer computed now replaces it; either way the version is read
        # before computing, so a write meanwhile leaves nothing servable.
        entry = _recommendations_entry(viewer.pk, owner.pk, days)
        if use_cache:
            found, hit = readcache.serve(request, entry)
            if hit is not None:
                rec_cache.count_in_process("hits")
                return hit
        else:  # the version only: not a lookup, so not a hit
            found = readcache.lookup(dataclasses.replace(entry, hit_counter=None))
        # Kept until the owner's next midnight at most, when every rule's window slides (a
        # write of today's data leaves the answer alone: insights.receivers).
        today = calendar.today(owner)
        payload, cached = services.recommendations_for(user=owner, days=days, use_cache=use_cache)
        seconds = rec_cache.ttl_within(owner, today)
        if found is not None and seconds >= 1:
            kept = dataclasses.replace(found.entry, ttl=seconds)
            readcache.store(
                dataclasses.replace(found, entry=kept),
                readcache.render({**payload, "cached": True}),
            )
        return Response({**payload, "cached": cached})


class RecommendationsCacheStatsView(APIView):
    """Hit and miss counters of the recommendations cache (staff only; others 404)."""

    @extend_schema(responses={200: CacheStatsSerializer, 404: NOT_FOUND})
    def get(self, request):
        viewer = request.user
        if not (viewer.is_active and viewer.is_staff):
            raise Http404
        return Response(rec_cache.stats())


# --- quick advice ---------------------------------------------------------------------------


def _when(data) -> tuple:
    """(when the entry happened, now in the user's offset)."""
    now = timezone.now()
    at = data.get("time")
    if at is None:
        return now, now
    return at, now.astimezone(at.tzinfo)


class _AdviceView(APIView):
    serializer_class: type

    def run(self, user, data):
        raise NotImplementedError

    def post(self, request):
        owner = access.owner_to_write(request)  # you, or `?member=<id>` you manage; else 404
        serializer = self.serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = self.run(owner, serializer.validated_data)
        return Response(
            {"message": result.message, "entry": result.entry}, status=status.HTTP_201_CREATED
        )


ADVICE_RESPONSES = {201: AdviceSerializer, 400: BAD_REQUEST}


class WaterAdviceView(_AdviceView):
    serializer_class = WaterAdviceSerializer

    @extend_schema(
        request=WaterAdviceSerializer,
        responses=ADVICE_RESPONSES,
        description="Log water you drank (a diary drink) and get one line of advice on the rest "
        "of the day against your water target.",
    )
    @idempotent
    def post(self, request):
        return super().post(request)

    def run(self, user, data):
        at, now = _when(data)
        return services.quick_water_log(user=user, litres=data["amount_liters"], at=at, now=now)


class GymAdviceView(_AdviceView):
    serializer_class = GymAdviceSerializer

    @extend_schema(
        request=GymAdviceSerializer,
        responses=ADVICE_RESPONSES,
        description="Log an exercise session (an `exercise` measurement ending at `time`, "
        "default now) and get one line of advice against 150 minutes a week.",
    )
    @idempotent
    def post(self, request):
        return super().post(request)

    def run(self, user, data):
        at, _ = _when(data)
        return services.quick_exercise_log(
            user=user,
            activity=data["activity"],
            minutes=data["duration_minutes"],
            ended_at=at,
        )


class FoodAdviceView(_AdviceView):
    serializer_class = FoodAdviceSerializer

    @extend_schema(
        request=FoodAdviceSerializer,
        responses=ADVICE_RESPONSES,
        description="Log a meal in your words and get one line of advice against your calorie "
        "and protein targets. With `calories` it is logged as your own entry; otherwise the text "
        "must match a catalogue food (every word of the food's name before its comma appears "
        "in the text; the most specific match wins), logged as `grams` of it (default 100 g). "
        "No match and no calories: 400 asking for calories; nothing is logged.",
    )
    @idempotent
    def post(self, request):
        return super().post(request)

    def run(self, user, data):
        at, _ = _when(data)
        return services.quick_food_log(
            user=user,
            meal=data["meal"],
            food_text=data["food"],
            at=at,
            grams=data.get("grams"),
            calories=data.get("calories"),
        )
