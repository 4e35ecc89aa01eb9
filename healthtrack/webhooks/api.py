"""`/api/v1/webhooks`: an app manages its subscriptions for the patient its OAuth token is for
(a live ConnectedApp). Only OAuth tokens are accepted; another app's subscription is 404."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from oauth2_provider.models import AccessToken
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ConnectedApp
from accounts.oauth_authentication import OAuthTokenAuthentication
from healthtrack.core.api.strict import NoBodyMixin
from healthtrack.webhooks import services
from healthtrack.webhooks.models import WebhookDelivery, WebhookSubscription

TAG = "Webhooks"


class SubscriptionSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookSubscription
        fields = ["id", "url", "events", "created_at", "disabled_at", "disabled_reason"]
        read_only_fields = ["id", "created_at", "disabled_at", "disabled_reason"]


class SubscriptionCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=500)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(services.EVENTS)), allow_empty=False
    )


class CreatedSerializer(SubscriptionSerializer):
    secret = serializers.CharField(help_text="Shown once: the HMAC-SHA256 key.")

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "sequence",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "created_at",
            "next_attempt_at",
            "delivered_at",
        ]


class ReplayRangeSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()

    def validate(self, attrs):
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": ["Must be after start."]})
        return attrs


class ReplayedSerializer(serializers.Serializer):
    replayed = serializers.IntegerField()


DELIVERY_LOG_LIMIT = 100


class _AppView(APIView):
    authentication_classes = [OAuthTokenAuthentication]
    permission_classes = [IsAuthenticated]

    def connection(self) -> ConnectedApp:
        token = self.request.auth
        if not isinstance(token, AccessToken):
            raise exceptions.NotAuthenticated("Webhooks are managed with an app's OAuth token.")
        if token.user_id is None:
            raise exceptions.PermissionDenied("Webhooks need a patient's consent (not a back-end).")
        connection = (
            ConnectedApp.objects.live()
            .filter(application_id=token.application_id, patient_id=token.user_id)
            .first()
        )
        if connection is None:
            raise exceptions.NotAuthenticated("This app is no longer connected.")
        return connection

    def subscriptions(self):
        return WebhookSubscription.objects.filter(connected_app=self.connection()).order_by("pk")


class SubscriptionListView(_AppView):
    @extend_schema(
        tags=[TAG],
        summary="List your app's webhook subscriptions",
        description="For the patient the OAuth token is for.",
        responses={200: SubscriptionSerializer(many=True)},
    )
    def get(self, request):
        return Response(SubscriptionSerializer(self.subscriptions(), many=True).data)

    @extend_schema(
        tags=[TAG],
        summary="Subscribe a URL to events",
        description="The URL must be https and public; events need the matching scope. The "
        "secret is in this response only. See docs/developers.md, Webhooks.",
        request=SubscriptionCreateSerializer,
        responses={
            201: CreatedSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="A bad URL or event."),
        },
    )
    def post(self, request):
        body = SubscriptionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            subscription = services.subscription_create(
                connected_app=self.connection(), **body.validated_data
            )
        except services.SubscriptionInvalid as exc:
            raise exceptions.ValidationError({"url_or_events": [str(exc)]}) from exc
        return Response(CreatedSerializer(subscription).data, status=status.HTTP_201_CREATED)


class _OneSubscriptionView(_AppView):
    def get_object(self, pk: int | None = None) -> WebhookSubscription:
        pk = self.kwargs["pk"] if pk is None else pk
        subscription = self.subscriptions().filter(pk=pk).first()
        if subscription is None:
            raise Http404
        return subscription


class SubscriptionDetailView(NoBodyMixin, _OneSubscriptionView):
    @extend_schema(
        tags=[TAG], summary="Read a webhook subscription", responses={200: SubscriptionSerializer}
    )
    def get(self, request, pk: int):
        return Response(SubscriptionSerializer(self.get_object(pk)).data)

    @extend_schema(tags=[TAG], summary="Delete a webhook subscription", responses={204: None})
    def delete(self, request, pk: int):
        self.get_object(pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliveryListView(_OneSubscriptionView):
    @extend_schema(
        tags=[TAG],
        summary="List a subscription's deliveries",
        description=f"The delivery log, newest first (at most {DELIVERY_LOG_LIMIT}): status, "
        "attempts and the receiver's last status code.",
        responses={200: DeliverySerializer(many=True)},
    )
    def get(self, request, pk: int):
        deliveries = self.get_object(pk).deliveries.order_by("-sequence")[:DELIVERY_LOG_LIMIT]
        return Response(DeliverySerializer(deliveries, many=True).data)


class DeliveryReplayView(NoBodyMixin, _OneSubscriptionView):
    no_body_methods = ("POST",)

    @extend_schema(
        tags=[TAG],
        summary="Replay one delivery",
        description="Sends it again: same event id and sequence, a fresh signature.",
        request=None,
        responses={202: ReplayedSerializer},
    )
    def post(self, request, pk: int, delivery_id: int):
        delivery = self.get_object(pk).deliveries.filter(pk=delivery_id).first()
        if delivery is None:
            raise Http404
        count = services.replay(deliveries=[delivery])
        return Response({"replayed": count}, status=status.HTTP_202_ACCEPTED)


class ReplayRangeView(_OneSubscriptionView):
    @extend_schema(
        tags=[TAG],
        summary="Replay the deliveries of a time range",
        description="Every delivery created in [start, end), in sequence order.",
        request=ReplayRangeSerializer,
        responses={202: ReplayedSerializer},
    )
    def post(self, request, pk: int):
        body = ReplayRangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        count = services.replay_range(subscription=self.get_object(pk), **body.validated_data)
        return Response({"replayed": count}, status=status.HTTP_202_ACCEPTED)
