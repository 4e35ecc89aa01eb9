"""Thin API views: scope through `accounts.access`, parse, call one service, serialize."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from accounts import access, audit
from accounts.api import readcache
from accounts.api.owned import OwnedRowsMixin
from accounts.api.readcache import ReadPrefetchMixin
from goals import services
from goals.api.filters import HealthGoalFilter
from goals.api.serializers import PUT_DEFAULTS, HealthGoalInputSerializer, HealthGoalSerializer
from goals.dashboard_goals import list_version_key
from goals.models import HealthGoal
from healthtrack.core.api.idempotency import idempotent
from healthtrack.core.api.rows import BuiltOnceRowsMixin
from healthtrack.core.api.strict import NoBodyMixin

NOT_YOURS = OpenApiResponse(description="Not found, or not yours (another person's goal: 404).")
BAD_INPUT = OpenApiResponse(description='Invalid input: `{"field": ["message", ...]}`.')


# Bounds how long a page could outlive a change that bypassed the version (none is known:
# every goal write and progress change goes through goals.services).
LIST_CACHE_TTL = 300


def _list_entry(request, viewer_id: int, owner_id: int) -> readcache.Entry | None:
    """The cached page `viewer_id` reads of `owner_id`'s goals at this URL, guarded by the
    version of the owner's goals (`goals.dashboard_goals.list_version_key`)."""
    return readcache.Entry.of_page(
        request,
        "goals_list",
        viewer_id=viewer_id,
        owner_id=owner_id,
        version_key=list_version_key(owner_id),
        ttl=LIST_CACHE_TTL,
    )


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
    in one Redis round trip (`ReadPrefetchMixin`). A list page is answered from its rendered
    bytes kept per viewer, owner, URL and the version of the owner's goals while current
    (the viewer's own from `own_hit`, before DRF's dispatch); access is checked and reads by
    others audited on every request, hit or miss."""

    serializer_class = HealthGoalSerializer
    filterset_class = HealthGoalFilter
    pagination_class = GoalPagination

    def rows(self):
        return HealthGoal.objects.all()

    def read_entry_guess(self, request, viewer_id):
        if getattr(self, "action_map", {}).get("get") != "list":
            return None  # one goal: not cached
        if "user_id" in self.kwargs:
            return self.list_entry(request, viewer_id, self.kwargs["user_id"])
        member = request.GET.get(access.MEMBER_PARAM)
        if member in (None, ""):
            return self.list_entry(request, viewer_id, viewer_id)
        try:  # a family member's list: the access check decides, the guess only fetches
            return self.list_entry(request, viewer_id, int(member))
        except ValueError:
            return None

    def page_entry(self, request, viewer_id: int, owner_id: int) -> readcache.Entry | None:
        return _list_entry(request, viewer_id, owner_id)

    def list(self, request, *args, **kwargs):
        own = self.own_cached_answer(request)
        if own is not None:
            return own
        owner = self.owner()  # 404 for anyone who may not read them
        found = None
        if access.can_read(request.user, owner.pk):
            entry = self.list_entry(request, request.user.pk, owner.pk)
            if entry is not None:
                found, hit = readcache.serve(request, entry)
                if hit is not None:
                    # Someone else's list (care team, family `?member=`): one access-log row.
                    audit.record_read(request=request, owner_id=owner.pk)
                    return hit
        response = super().list(request, *args, **kwargs)
        if found is None or response.status_code != status.HTTP_200_OK:
            return response
        body = readcache.render(response.data)
        readcache.store(found, body)
        return readcache.response(body)

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
