from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts import access, audit, credentials, services
from accounts.api.serializers import (
    RegisterSerializer,
    RegistrationAcceptedSerializer,
    TokenObtainSerializer,
    TokenRefreshRevokingSerializer,
    TokenRevokeSerializer,
    UserSerializer,
)
from accounts.models import User
from healthtrack.core import days
from healthtrack.core.api.ratelimits import auth_ratelimited
from healthtrack.core.api.strict import NoBodyMixin

REGISTRATION_ACCEPTED = (
    "Thank you. We have sent an e-mail to the address you gave: it says what happens next."
)


@auth_ratelimited
class RegisterView(generics.GenericAPIView):
    """Create a patient account. The answer is the same whether or not the username or e-mail
    is taken (no account enumeration): the e-mail sent to the address says which."""

    serializer_class = RegisterSerializer
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses={202: RegistrationAcceptedSerializer})
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_register_request(
            base_url=request.build_absolute_uri("/"), **serializer.validated_data
        )
        return Response({"detail": REGISTRATION_ACCEPTED}, status=status.HTTP_202_ACCEPTED)


@auth_ratelimited
class TokenObtainView(TokenObtainPairView):
    """Exchange a username (or e-mail) and password for an access and a refresh token."""

    serializer_class = TokenObtainSerializer


@auth_ratelimited
class TokenRefreshThrottledView(TokenRefreshView):
    """Exchange a refresh token for a new pair (the old refresh token is blacklisted; using
    it again revokes every token of its family)."""

    serializer_class = TokenRefreshRevokingSerializer


@auth_ratelimited
class TokenRevokeView(APIView):
    """Blacklist a refresh token so it can no longer be used, and revoke the access tokens
    issued from it and the tokens it was rotated from (its family)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=TokenRevokeSerializer, responses={205: None})
    def post(self, request):
        serializer = TokenRevokeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            token = RefreshToken(serializer.validated_data["refresh"])
            token.blacklist()
            # Its access tokens too, on their next request (accounts.credentials).
            credentials.token_family_revoke(token.payload)
        except TokenError:
            return Response(
                {"refresh": ["Token is invalid or expired."]}, status=status.HTTP_400_BAD_REQUEST
            )
        return Response(status=status.HTTP_205_RESET_CONTENT)


class MeView(generics.RetrieveAPIView):
    serializer_class = UserSerializer

    def get_object(self):
        return self.request.user


class UserViewSet(
    NoBodyMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """A user's own profile; people allowed to read it (see accounts.access: their care-team
    clinicians) may read it, and each such read is logged. Only the owner changes it."""

    serializer_class = UserSerializer

    def get_queryset(self):
        users = User.objects.filter(deleted_at__isnull=True)
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            users = access.readable(users, self.request.user, owner_field=None)
        else:
            users = access.writable(users, self.request.user, owner_field=None)
        if self.request.method == "DELETE":
            # An account is closed by its owner. A family manager may remove a dependent (a
            # profile without a login), never the account of an adult who gave them access.
            users = users.filter(Q(pk=self.request.user.pk) | Q(is_dependent=True))
        return users

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        # A clinician reading a patient's profile is logged (own reads are not).
        audit.record_read(request=request, owner_id=instance.pk, obj=instance)
        return Response(self.get_serializer(instance).data)

    def perform_update(self, serializer):
        with transaction.atomic():
            zone_before = serializer.instance.time_zone
            user = serializer.save()  # audit-logged (auditlog), as every profile change
            if user.time_zone != zone_before:
                # Days are local days: the rollups are recut once this commits.
                days.time_zone_changed_on_commit(user_id=user.pk)

    def perform_destroy(self, instance):
        services.user_soft_delete(user=instance)
