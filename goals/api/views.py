"""Thin API views: scope through `accounts.access`, parse, call one service, serialize."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from accounts import access
from accounts.api.owned import OwnedRowsMixin
from accounts.api.readcache import ReadPrefetchMixin
from goals import services
from goals.api.filters import HealthGoalFilter
from goals.api.serializers import PUT_DEFAULTS, HealthGoalInputSerializer, HealthGoalSerializer
from goals.models import HealthGoal
from healthtrack.core.api.idempotency import idempotent
from healthtrack.core.api.rows import BuiltOnceRowsMixin
from healthtrack.core.api.strict import NoBodyMixin

NOT_YOURS = OpenApiResponse(description="Not found, or not yours (another person's goal: 404).")
BAD_INPUT = OpenApiResponse(description='Invalid input: `{"field": ["message", ...]}`.')


class GoalPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


@extend_schema_view(
    list=extend_schema(
        summary="Goals with their progress: yours, or (user route) a patient's you may read",
        description="Newest first, cursor pages. `status_filter`: active, completed, abandoned.",
    ),
    retrieve=extend_schema(
        summary="One goal with its progress",
        responses={200: HealthGoalSerializer, 404: NOT_YOURS},
    ),
    create=extend_schema(
        summary="Set a goal",
        description="Progress is computed at once from your data and kept up to date as "
        "measurements and diary entries arrive.",
        request=HealthGoalInputSerializer,
        responses={201: HealthGoalSerializer, 400: BAD_INPUT},
    ),
    update=extend_schema(
        summary="Replace a goal",
        request=HealthGoalInputSerializer,
        responses={200: HealthGoalSerializer, 400: BAD_INPUT, 404: NOT_YOURS},
    ),
    partial_update=extend_schema(
        summary="Change some fields of a goal (e.g. status=abandoned)",
        request=HealthGoalInputSerializer,
        responses={200: HealthGoalSerializer, 400: BAD_INPUT, 404: NOT_YOURS},
    ),
    destroy=extend_schema(summary="Delete a goal", responses={204: None, 404: NOT_YOURS}),
)
class HealthGoalViewSet(
    NoBodyMixin,
    ReadPrefetchMixin,
    OwnedRowsMixin,
    BuiltOnceRowsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Health goals. Care-team clinicians read their patients' goals; only the owner writes.
    Anyone else's goal does not exist for you (404). A GET's rate limits and JWT user come
    in one Redis round trip (`ReadPrefetchMixin`; no answer is cached)."""

    serializer_class = HealthGoalSerializer
    filterset_class = HealthGoalFilter
    pagination_class = GoalPagination

    def rows(self):
        return HealthGoal.objects.all()

    @idempotent
    def create(self, request, *args, **kwargs):
        owner = access.owner_to_write(request)
        data = HealthGoalInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        goal = services.goal_create(user=owner, **data.validated_data)
        return Response(HealthGoalSerializer(goal).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        goal = self.get_object()
        partial = kwargs.get("partial", False)
        data = HealthGoalInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if not partial:
            changes = {**PUT_DEFAULTS, **changes}
        goal = services.goal_update(goal=goal, **changes)
        return Response(HealthGoalSerializer(goal).data)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def perform_destroy(self, instance):
        services.goal_delete(goal=instance)
