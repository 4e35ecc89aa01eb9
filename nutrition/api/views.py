from __future__ import annotations

import dataclasses
import hashlib
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import access, audit
from accounts.api import readcache
from accounts.api.owned import OwnedRowsMixin
from healthtrack.core import days as calendar
from healthtrack.core.api.idempotency import idempotent
from healthtrack.core.api.strict import NoBodyMixin
from nutrition import services
from nutrition.api.filters import NutritionLogFilter
from nutrition.api.serializers import (
    DailyQuerySerializer,
    DailyTotalsSerializer,
    FoodSerializer,
    MealPhotoSerializer,
    MealPhotoUploadSerializer,
    NutritionLogInputSerializer,
    NutritionLogSerializer,
    NutritionTargetsSerializer,
    daily_totals_data,
    days_asked,
    log_data,
)
from nutrition.models import Food, MealPhoto, NutritionLog, NutritionTargets, daily_totals_of
from nutrition.photos import too_large_message
from nutrition.targets import daily_targets, latest_weight_kg, overrides_of
from nutrition.validation import AMOUNT_FIELDS, round_amount
from nutrition.views import meal_photo_response


class NewestFirstPagination(CursorPagination):
    ordering = ("-logged_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class FoodPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


@extend_schema_view(
    list=extend_schema(
        summary="A diary, newest first: yours, or (with user_id) someone's you may read"
    ),
    retrieve=extend_schema(summary="One diary entry"),
    create=extend_schema(
        summary="Log food or drink",
        request=NutritionLogInputSerializer,
        responses={201: NutritionLogSerializer},
    ),
    update=extend_schema(
        summary="Replace a diary entry",
        request=NutritionLogInputSerializer,
        responses=NutritionLogSerializer,
    ),
    partial_update=extend_schema(
        summary="Change some fields of a diary entry",
        request=NutritionLogInputSerializer,
        responses=NutritionLogSerializer,
    ),
    destroy=extend_schema(summary="Delete a diary entry"),
)
class NutritionLogViewSet(
    NoBodyMixin,
    OwnedRowsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Diary entries. Another person's entry does not exist for you (404)."""

    serializer_class = NutritionLogSerializer
    filterset_class = NutritionLogFilter
    pagination_class = NewestFirstPagination

    def rows(self):
        return NutritionLog.objects.select_related("food", "photo")

    @idempotent
    def create(self, request, *args, **kwargs):
        owner = access.owner_to_write(request)
        data = NutritionLogInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        log = services.nutrition_log_create(user=owner, **data.validated_data)
        return Response(log_data(log), status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        log = self.get_object()
        partial = kwargs.get("partial", False)
        data = NutritionLogInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        log = services.nutrition_log_update(log=log, **data.validated_data)
        return Response(NutritionLogSerializer(log).data)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def perform_destroy(self, instance):
        services.nutrition_log_delete(log=instance)


# The parameters `DailyQuerySerializer` reads (its declared fields; the class keeps them).
DAILY_QUERY_PARAMS = tuple(DailyQuerySerializer._declared_fields)
# What a person's own read names (anything else: the view works out whose diary it is).
OWN_DAILY_PARAMS = frozenset({"start", "end"})


def _daily_entry(request, viewer_id: int, owner_id: int) -> readcache.Entry:
    """The daily totals `viewer_id` reads of `owner_id` at this URL's parameters (in a normal
    order), guarded by the owner's daily version (`services.daily_version_key`), which every
    write to what the answer is computed from replaces after its commit: the diary, their
    targets, their profile, their weight (`nutrition.receivers`)."""
    query = urlencode(sorted(request.GET.lists()), doseq=True)  # Django's request or DRF's
    return readcache.Entry.of(
        "nutrition_daily",
        viewer_id=viewer_id,
        owner_id=owner_id,
        params=hashlib.blake2b(query.encode(), digest_size=16).hexdigest(),
        version_key=services.daily_version_key(owner_id),
        ttl=services.DAILY_CACHE_TTL,
    )


class DailyTotalsView(readcache.ReadPrefetchMixin, APIView):
    """Per-day totals (the person's local days) of every nutrient and water, with the person's
    daily targets. The rate limits and the signed-in user come in one Redis round trip
    (`ReadPrefetchMixin`); the totals, latest weight and own targets are one plain statement
    each, and the answer is built as `DailyTotalsSerializer` shows it (issue 15).

    The rendered answer is kept per viewer, owner, parameters and the owner's daily version
    (accounts.api.readcache), until their next local midnight at most: a person's own current
    answer is served before DRF's dispatch (or in front of Django, healthtrack/front.py);
    anyone else's read is answered here after the access check (404 for whoever may not read
    the diary) and audited, hit or miss."""

    def read_entry_guess(self, request, viewer_id):
        if set(request.GET) - OWN_DAILY_PARAMS:
            return None  # someone else's (user_id, member): the view works it out
        return _daily_entry(request, viewer_id, viewer_id)

    @extend_schema(
        summary="Daily totals and targets",
        parameters=[DailyQuerySerializer],
        responses=DailyTotalsSerializer,
    )
    def get(self, request):
        own = self.own_cached_answer(request)
        if own is not None:
            return own
        query = {}  # what the serializer makes of a query without any of its parameters
        if any(name in request.query_params for name in DAILY_QUERY_PARAMS):
            serializer = DailyQuerySerializer(data=request.query_params)
            serializer.is_valid(raise_exception=True)
            query = serializer.validated_data
        # The access check (404 for anyone the viewer may not read): the rows below are then
        # read by the owner's id alone, as `access.readable(..., owner_id=)` reads one's own.
        owner = access.owner_to_read(request, query.get("user_id"))
        zone = calendar.zone_of(owner)
        now = timezone.now()
        start, end = days_asked(query, today=now.astimezone(zone).date())
        # This viewer's answer as rendered, while the owner's daily version is unchanged (read
        # before computing: a write committing meanwhile leaves nothing servable).
        found, hit = readcache.serve(request, _daily_entry(request, request.user.pk, owner.pk))
        if hit is not None:
            audit.record_read(request=request, owner_id=owner.pk)  # someone else's: logged
            return hit

        rows = daily_totals_of(owner.pk, start, end, zone)
        days = []
        for offset in range((end - start).days + 1):
            day = start + timedelta(days=offset)
            row = rows.get(day, {})
            totals = {f: round_amount(row.get(f) or 0) for f in AMOUNT_FIELDS}
            days.append({"date": day, "entries": row.get("entries", 0), **totals})
        targets = daily_targets(
            user=owner,
            weight_kg=latest_weight_kg(owner),
            on=end,
            overrides=overrides_of(owner),
        )
        body = {"user_id": owner.pk, "start": start, "end": end, "targets": targets, "days": days}
        audit.record_read(request=request, owner_id=owner.pk)
        data = daily_totals_data(body)
        if found is None:
            return Response(data)
        rendered = readcache.render(data)
        ttl = min(services.DAILY_CACHE_TTL, calendar.seconds_to_midnight(zone, now=now))
        if ttl >= 1:
            readcache.store(
                dataclasses.replace(found, entry=dataclasses.replace(found.entry, ttl=ttl)),
                rendered,
            )
        return readcache.response(rendered)


class FoodListView(generics.ListAPIView):
    """The food catalogue (amounts per 100 g). `search`: every word must appear in the name."""

    serializer_class = FoodSerializer
    pagination_class = FoodPagination
    filter_backends: list = []

    @extend_schema(
        summary="Search the food catalogue",
        parameters=[
            OpenApiParameter("search", str, description="words in the name, any case"),
            OpenApiParameter("category", str, enum=Food.Category.values),
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return Food.objects.search(
            self.request.query_params.get("search", ""),
            category=self.request.query_params.get("category"),
        )


class FoodDetailView(generics.RetrieveAPIView):
    serializer_class = FoodSerializer
    queryset = Food.objects.all()
    filter_backends: list = []


class NutritionTargetsView(APIView):
    """Your own daily targets (or `?member=<id>`'s: read if you may read them, set if you
    manage them): set a value to override the calculated one, null to clear it."""

    def _response(self, request, targets: NutritionTargets) -> Response:
        owner = targets.user
        effective = daily_targets(user=owner, weight_kg=latest_weight_kg(owner))
        serializer = NutritionTargetsSerializer(targets, context={"effective": effective})
        return Response(serializer.data)

    @extend_schema(summary="Your daily targets", responses=NutritionTargetsSerializer)
    def get(self, request):
        owner = access.owner_to_read(request)
        targets = NutritionTargets.objects.filter(user=owner).first()
        return self._response(request, targets or NutritionTargets(user=owner))

    @extend_schema(
        summary="Set your daily targets",
        request=NutritionTargetsSerializer,
        responses=NutritionTargetsSerializer,
    )
    def put(self, request):
        return self._write(request, partial=False)

    @extend_schema(
        summary="Change some of your daily targets",
        request=NutritionTargetsSerializer,
        responses=NutritionTargetsSerializer,
    )
    def patch(self, request):
        return self._write(request, partial=True)

    def _write(self, request, *, partial: bool) -> Response:
        owner = access.owner_to_write(request)
        current = NutritionTargets.objects.filter(user=owner).first()
        data = NutritionTargetsSerializer(current, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        values = {"calories": None, "protein_g": None, "water_ml": None}
        if partial and current is not None:
            values = {field: getattr(current, field) for field in values}
        values.update(data.validated_data)
        targets = services.nutrition_targets_set(user=owner, **values)
        return self._response(request, targets)


# --- Meal photos ------------------------------------------------------------------------------
# One photo per diary entry, addressed by the entry: /nutrition-logs/{id}/photo. Reading needs
# read access to the entry (owner, family, care-team clinician); uploading and deleting need
# write access (owner, family manager). Anyone else: 404.

# Multipart framing around the file part: a request this much over the limit is refused unread.
MULTIPART_SLACK = 64 * 1024

_PHOTO_404 = OpenApiResponse(description="No such entry or photo, or not one you may see.")


class MealPhotoView(NoBodyMixin, APIView):
    """The photo of a diary entry: its description (GET), a new or replacing upload (POST,
    multipart/form-data with the file in `photo`), or its removal (DELETE)."""

    parser_classes = [MultiPartParser, FormParser]

    def initial(self, request, *args, **kwargs):
        # Before authentication: the session's CSRF check would already read (spool) the body.
        if request.method == "POST":
            limit = settings.MEAL_PHOTO_MAX_BYTES
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit + MULTIPART_SLACK:
                raise serializers.ValidationError({"photo": [too_large_message(limit)]})
        super().initial(request, *args, **kwargs)

    def _readable_photo(self, request, pk: int):
        return get_object_or_404(MealPhoto.objects.readable_by(request.user), log_id=pk)

    def get_object(self) -> MealPhoto:
        """The photo to remove: on an entry the caller may change."""
        logs = access.writable(NutritionLog.objects.all(), self.request.user)
        return get_object_or_404(MealPhoto.objects.filter(log__in=logs), log_id=self.kwargs["pk"])

    @extend_schema(
        summary="A diary entry's photo",
        responses={200: MealPhotoSerializer, 404: _PHOTO_404},
    )
    def get(self, request, pk: int):
        photo = self._readable_photo(request, pk)
        audit.record_read(request=request, owner_id=photo.log.user_id, obj=photo)
        return Response(MealPhotoSerializer(photo).data)

    @extend_schema(
        summary="Add or replace a diary entry's photo",
        description="multipart/form-data, the file in `photo`: JPEG, PNG, WebP or HEIC, told "
        "by its content (a renamed text file is refused), at most MEAL_PHOTO_MAX_BYTES "
        "(10 MB) and MEAL_PHOTO_MAX_PIXELS (50 MP). It is stored re-encoded without metadata "
        "(EXIF, GPS position); HEIC is stored as JPEG. `thumbnail_url` is null until the "
        "thumbnail task has run.",
        request={"multipart/form-data": MealPhotoUploadSerializer},
        responses={
            201: MealPhotoSerializer,
            400: OpenApiResponse(
                description='`{"photo": ["..."]}`: missing, too large, '
                "not an accepted image, unreadable or too many pixels."
            ),
            404: _PHOTO_404,
        },
    )
    @idempotent
    def post(self, request, pk: int):
        log = get_object_or_404(access.writable(NutritionLog.objects.all(), request.user), pk=pk)
        data = MealPhotoUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            photo = services.meal_photo_set(log=log, upload=data.validated_data["photo"])
        except ValidationError as exc:
            return Response({"photo": exc.messages}, status=400)
        return Response(MealPhotoSerializer(photo).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Remove a diary entry's photo", responses={204: None, 404: _PHOTO_404})
    def delete(self, request, pk: int):
        services.meal_photo_delete(photo=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class MealPhotoFileView(APIView):
    """The bytes of a diary entry's photo or thumbnail, for those who may read the entry."""

    kind = "image"

    def perform_content_negotiation(self, request, force=False):
        # An image client may accept image/* only: errors still go out as JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        summary="A diary entry's photo file (image/jpeg, image/png or image/webp)",
        responses={
            (200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY),
            404: _PHOTO_404,
        },
    )
    def get(self, request, pk: int):
        photo = get_object_or_404(MealPhoto.objects.readable_by(request.user), log_id=pk)
        if self.kind == "thumbnail" and not photo.has_thumbnail:
            raise Http404
        audit.record_read(request=request, owner_id=photo.log.user_id, obj=photo)
        return meal_photo_response(photo, self.kind)


class MealPhotoThumbnailView(MealPhotoFileView):
    kind = "thumbnail"

    @extend_schema(
        summary="A diary entry's photo thumbnail (image/jpeg); 404 until it is made",
        responses={(200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY), 404: _PHOTO_404},
    )
    def get(self, request, pk: int):
        return super().get(request, pk)
