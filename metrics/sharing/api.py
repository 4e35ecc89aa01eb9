"""The read-only API view of a share link: `GET /api/v1/share/<token>` with the access code in
the `X-Share-Code` header (preferred: query strings end up in server logs) or `?code=`.

It returns exactly the grant's scope — the shared metric types' daily rollups over its date
window — and nothing else. Anonymous (the link and code are the credentials); rate-limited per
IP and per link like the page; each successful read is logged with
`accounts.sharing.share_grant_record_use`. Never cached.
"""

from __future__ import annotations

from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django_ratelimit.decorators import ratelimit
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import sharing
from metrics.api.serializers import DetailErrorSerializer, iso
from metrics.registry import METRIC_TYPE_CHOICES, get_metric_type
from metrics.series import shared_daily
from metrics.sharing.link_page import share_rate, share_token_key

CODE_HEADER = "X-Share-Code"


class SharedDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    value = serializers.FloatField(help_text="Daily total, average or last value (per type).")
    min_value = serializers.FloatField()
    max_value = serializers.FloatField()
    count = serializers.IntegerField(help_text="Raw readings that day.")


class SharedMetricSerializer(serializers.Serializer):
    metric_type = serializers.ChoiceField(choices=METRIC_TYPE_CHOICES)
    name = serializers.CharField()
    unit = serializers.CharField()
    aggregation = serializers.ChoiceField(choices=["sum", "average", "latest"])
    days = SharedDaySerializer(many=True)


class SharedDataSerializer(serializers.Serializer):
    label = serializers.CharField()
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    expires_at = serializers.DateTimeField()
    metrics = SharedMetricSerializer(many=True)


def shared_payload(grant, scope: sharing.ShareScope) -> dict:
    by_type = shared_daily(
        owner_id=scope.owner_id,
        metric_types=scope.metric_types,
        date_from=scope.date_from,
        date_to=scope.date_to,
    )
    metrics = []
    for code, rows in by_type.items():
        mtype = get_metric_type(code)
        metrics.append(
            {
                "metric_type": code,
                "name": mtype.name,
                "unit": mtype.unit,
                "aggregation": mtype.aggregation,
                "days": [
                    {
                        "date": row.day.isoformat(),
                        "value": row.value,
                        "min_value": row.min_value,
                        "max_value": row.max_value,
                        "count": row.count,
                    }
                    for row in rows
                ],
            }
        )
    return {
        "label": grant.label,
        "date_from": scope.date_from.isoformat(),
        "date_to": scope.date_to.isoformat(),
        "expires_at": iso(scope.expires_at),
        "metrics": metrics,
    }


def _unavailable() -> Response:
    return Response(
        {"detail": "This share link does not exist, has expired or was revoked."},
        status=status.HTTP_404_NOT_FOUND,
    )


def _detail(text: str) -> OpenApiResponse:
    return OpenApiResponse(DetailErrorSerializer, description=text)


@method_decorator(never_cache, name="dispatch")
class ShareLinkDataView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        summary="Read what a share link shares",
        description="The shared metric types' daily values (from the rollups) over the share's "
        "date window, nothing else. Give the access code in the `X-Share-Code` header (or "
        "`?code=`). Limited per IP and per link (`SHARE_RATE_LIMIT`, default 10/min).",
        parameters=[
            OpenApiParameter(
                CODE_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False
            ),
            OpenApiParameter("code", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False),
        ],
        responses={
            200: SharedDataSerializer,
            400: OpenApiResponse(description='No access code: `{"code": ["..."]}`.'),
            403: _detail("Wrong access code."),
            404: _detail("Unknown, expired or revoked link."),
            429: _detail("Too many attempts; see Retry-After."),
        },
    )
    # Per IP and per link, counted on every GET (each one tries a code).
    @method_decorator(
        ratelimit(group="share-api:ip", key="ip", rate=share_rate, method="GET", block=False)
    )
    @method_decorator(
        ratelimit(
            group="share-api:token", key=share_token_key, rate=share_rate, method="GET", block=False
        )
    )
    def get(self, request, token: str):
        if getattr(request, "limited", False):
            return Response(
                {"detail": "Too many attempts. Try again later."},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": "60"},
            )
        code = request.headers.get(CODE_HEADER) or request.query_params.get("code") or ""
        if not code.strip():
            return Response(
                {"code": [f"Give the access code in the {CODE_HEADER} header."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        if not sharing.share_link_is_active(token):
            return _unavailable()
        grant = sharing.share_grant_for_link(token, code)
        if grant is None:
            if not sharing.share_link_is_active(token):  # expired or revoked meanwhile
                return _unavailable()
            return Response({"detail": "Wrong access code."}, status=status.HTTP_403_FORBIDDEN)
        scope = sharing.share_grant_scope(grant)
        payload = shared_payload(grant, scope)
        sharing.share_grant_record_use(grant=grant, request=request)
        return Response(payload)
