"""Care teams, share grants and the patient's access log (API)."""

from __future__ import annotations

from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import access, audit, care, sharing
from accounts.api.care_serializers import (
    AcceptClinicianSerializer,
    AccessLogSerializer,
    CareTeamSerializer,
    ShareGrantCreatedSerializer,
    ShareGrantCreateSerializer,
    ShareGrantSerializer,
)
from accounts.models import AccessLog, CareTeam, ShareGrant, User
from healthtrack.core.api.idempotency import idempotent
from healthtrack.core.api.strict import NoBodyMixin

STATUS_PARAM = OpenApiParameter(
    "status",
    OpenApiTypes.STR,
    enum=["active", "ended", "all"],
    description="Which memberships (default: active).",
)


def _read_for(request):
    """Whose care team / shares / access log a read is about: the caller, or `?member=` they
    may read (logged in that person's access log)."""
    owner = access.owner_to_read(request)
    if owner.pk != request.user.pk:
        audit.record_read(request=request, owner_id=owner.pk)
    return owner


def _by_status(queryset, request):
    wanted = request.query_params.get("status", "active")
    if wanted == "active":
        return queryset.filter(ended_at__isnull=True)
    if wanted == "ended":
        return queryset.filter(ended_at__isnull=False)
    return queryset


class MyClinicians(APIView):
    """The patient's care team (or `?member=`'s): list, or accept a clinician by e-mail."""

    @extend_schema(parameters=[STATUS_PARAM], responses=CareTeamSerializer(many=True))
    def get(self, request):
        memberships = CareTeam.objects.for_patient(_read_for(request)).select_related(
            "clinician", "patient"
        )
        rows = _by_status(memberships, request)
        return Response(CareTeamSerializer(rows, many=True).data)

    @extend_schema(
        request=AcceptClinicianSerializer,
        responses={201: CareTeamSerializer, 200: CareTeamSerializer},
    )
    @idempotent
    def post(self, request):
        patient = access.owner_to_write(request)
        serializer = AcceptClinicianSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        existed = CareTeam.objects.active().filter(
            patient=patient, clinician__email__iexact=serializer.validated_data["email"]
        )
        code = status.HTTP_200_OK if existed.exists() else status.HTTP_201_CREATED
        membership = care.care_team_accept_clinician(
            patient=patient,
            clinician_email=serializer.validated_data["email"],
            accepted_by=request.user,
        )
        return Response(CareTeamSerializer(membership).data, status=code)


class MyPatients(APIView):
    """The clinician's patients (empty for anyone who is not a clinician)."""

    @extend_schema(parameters=[STATUS_PARAM], responses=CareTeamSerializer(many=True))
    def get(self, request):
        if not access.is_clinician(request.user):
            return Response([])
        memberships = CareTeam.objects.for_clinician(request.user).select_related(
            "clinician", "patient"
        )
        rows = _by_status(memberships, request)
        return Response(CareTeamSerializer(rows, many=True).data)


class EndCareTeam(NoBodyMixin, APIView):
    """End a membership: the patient (or a family manager with `?member=`) or the clinician of
    it. History is kept."""

    no_body_methods = ("POST",)

    def get_object(self) -> CareTeam:
        patient = access.owner_to_write(self.request)
        mine = CareTeam.objects.filter(Q(patient=patient) | Q(clinician=self.request.user))
        return get_object_or_404(mine, pk=self.kwargs["pk"])

    @extend_schema(request=None, responses=CareTeamSerializer)
    def post(self, request, pk: int):
        membership = care.care_team_end(membership=self.get_object(), ended_by=request.user)
        membership = CareTeam.objects.select_related("clinician", "patient").get(pk=membership.pk)
        return Response(CareTeamSerializer(membership).data)


class MyShareGrants(APIView):
    """The patient's share grants (or `?member=`'s): list, or create one (named clinician, or
    link + code)."""

    @extend_schema(responses=ShareGrantSerializer(many=True))
    def get(self, request):
        owner = _read_for(request)
        grants = ShareGrant.objects.filter(owner=owner).select_related("owner", "grantee")
        return Response(ShareGrantSerializer(grants, many=True).data)

    @extend_schema(request=ShareGrantCreateSerializer, responses={201: ShareGrantCreatedSerializer})
    @idempotent
    def post(self, request):
        owner = access.owner_to_write(request)
        serializer = ShareGrantCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        email = data.pop("clinician_email", None)
        clinician = None
        if email:
            clinician = User.objects.active().filter(email__iexact=email).first()
            if clinician is None or not access.is_clinician(clinician):
                return Response(
                    {"clinician_email": ["No clinician with that e-mail address."]},
                    status=status.HTTP_400_BAD_REQUEST,
                )
        created = sharing.share_grant_create(owner=owner, clinician=clinician, **data)
        grant = created.grant
        grant.link_token, grant.access_code = created.token, created.code
        grant.link_path = created.link_path
        return Response(ShareGrantCreatedSerializer(grant).data, status=status.HTTP_201_CREATED)


class RevokeShareGrant(NoBodyMixin, APIView):
    no_body_methods = ("POST",)

    def get_object(self) -> ShareGrant:
        owner = access.owner_to_write(self.request)  # you, or `?member=<id>` you manage
        return get_object_or_404(ShareGrant, pk=self.kwargs["pk"], owner=owner)

    @extend_schema(request=None, responses=ShareGrantSerializer)
    def post(self, request, pk: int):
        grant = sharing.share_grant_revoke(grant=self.get_object())
        grant = ShareGrant.objects.select_related("owner", "grantee").get(pk=grant.pk)
        return Response(ShareGrantSerializer(grant).data)


class ReceivedShareGrants(APIView):
    """Active grants naming the (clinician) user."""

    @extend_schema(responses=ShareGrantSerializer(many=True))
    def get(self, request):
        grants = access.active_grants_for(request.user).select_related("owner", "grantee")
        return Response(ShareGrantSerializer(grants, many=True).data)


class AccessLogPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class MyAccessLog(generics.ListAPIView):
    """Who read my data (or `?member=`'s): clinicians, share-link holders, family, staff in the
    admin. Newest first."""

    serializer_class = AccessLogSerializer
    pagination_class = AccessLogPagination
    filter_backends: list = []

    def get_queryset(self):
        return AccessLog.objects.filter(owner=_read_for(self.request)).select_related("actor")
