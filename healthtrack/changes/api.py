"""`GET /api/v1/changes`: one person's change feed, scoped by `accounts.access` like every
list endpoint (`?member=<id>` for a family member or a care-team patient; others 404)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import access, audit
from healthtrack.changes import services

PATHS = {
    "measurement": "/api/v1/health-metrics/{id}",
    "nutrition_entry": "/api/v1/nutrition-logs/{id}",
    "goal": "/api/v1/health-goals/{id}",
}


class ChangesQuerySerializer(serializers.Serializer):
    since = serializers.CharField(
        required=False,
        help_text="The `cursor` of the previous page; absent: from the oldest retained event; "
        "`latest`: no events, just a cursor at the end of the feed.",
    )
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=services.MAX_PAGE_SIZE,
        default=services.PAGE_SIZE,
    )
    member = serializers.IntegerField(
        required=False, help_text="Whose feed: a family member or care-team patient you may read."
    )


class CursorGone(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_detail = (
        "This cursor is older than the oldest retained change: read everything again, then "
        "follow the feed from `since=latest`."
    )
    default_code = "cursor_expired"


CHANGE_FIELDS = {
    "type": serializers.ChoiceField(choices=list(PATHS)),
    "id": serializers.IntegerField(),
    "action": serializers.ChoiceField(choices=["created", "updated", "deleted"]),
    "changed_at": serializers.DateTimeField(),
    "href": serializers.CharField(),
}


class ChangeFeedView(APIView):
    @extend_schema(
        tags=["Change feed"],
        summary="Follow the change feed",
        description="Your records (measurements, food diary entries, goals) created, updated "
        "and deleted, oldest first in commit order, `limit` per page. Pass the returned "
        "`cursor` as `since` to get what changed after; `has_more` says whether to ask again "
        "now. Deleted records are tombstones (`action: deleted`), kept as long as "
        "DATA_LIFECYCLE['change_feed'] says; an older cursor is 410 (read everything again). "
        "See docs/developers.md.",
        parameters=[ChangesQuerySerializer],
        responses={
            200: inline_serializer(
                "ChangePage",
                {
                    "changes": inline_serializer("Change", CHANGE_FIELDS, many=True),
                    "cursor": serializers.CharField(),
                    "has_more": serializers.BooleanField(),
                },
            ),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="A malformed cursor or limit."),
            401: OpenApiResponse(OpenApiTypes.OBJECT, description="Not authenticated."),
            404: OpenApiResponse(OpenApiTypes.OBJECT, description="A member you may not read."),
            410: OpenApiResponse(OpenApiTypes.OBJECT, description="The cursor has expired."),
        },
    )
    def get(self, request):
        query = ChangesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        owner = access.owner_to_read(request)
        since = query.validated_data.get("since")
        if since == "latest":
            page = services.Page(
                events=[], cursor=services.latest_cursor(user_id=owner.pk), has_more=False
            )
        else:
            try:
                page = services.read_page(
                    user_id=owner.pk, since=since, limit=query.validated_data["limit"]
                )
            except services.CursorInvalid as exc:
                raise exceptions.ValidationError({"since": [str(exc)]}) from exc
            except services.CursorExpired as exc:
                raise CursorGone from exc
        audit.record_read(request=request, owner_id=owner.pk)
        return Response(
            {
                "changes": [
                    {
                        "type": event.resource,
                        "id": event.object_id,
                        "action": event.action,
                        "changed_at": event.occurred_at,
                        "href": PATHS[event.resource].format(id=event.object_id),
                    }
                    for event in page.events
                ],
                "cursor": page.cursor,
                "has_more": page.has_more,
            }
        )
