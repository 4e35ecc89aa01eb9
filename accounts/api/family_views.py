"""Families (API): dependents and family access. Thin: scope, validate, call accounts.family."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import access, family
from accounts.api.family_serializers import (
    FamilyAccessGrantSerializer,
    FamilyAccessSerializer,
    FamilyMemberCreateSerializer,
    FamilyMemberSerializer,
)
from accounts.models import FamilyMembership
from healthtrack.core.api.idempotency import idempotent
from healthtrack.core.api.strict import NoBodyMixin

NOT_YOURS = OpenApiResponse(description="Not found, or not a member you manage (404).")
MEMBER_PARAM = OpenApiParameter(
    access.MEMBER_PARAM,
    OpenApiTypes.INT,
    description="Act for this family member (user id) instead of yourself.",
)


def _my_links(viewer):
    return FamilyMembership.objects.live().filter(manager=viewer).select_related("member")


class FamilyMembers(APIView):
    """The people you act for (dependents you created, adults who gave you access)."""

    @extend_schema(summary="Your family members", responses=FamilyMemberSerializer(many=True))
    def get(self, request):
        return Response(FamilyMemberSerializer(_my_links(request.user), many=True).data)

    @extend_schema(
        summary="Add a dependent (a member profile without a login)",
        request=FamilyMemberCreateSerializer,
        responses={201: FamilyMemberSerializer},
    )
    @idempotent
    def post(self, request):
        data = FamilyMemberCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        link = family.family_member_create(manager=request.user, **data.validated_data)
        return Response(FamilyMemberSerializer(link).data, status=status.HTTP_201_CREATED)


class FamilyMemberDetail(NoBodyMixin, APIView):
    def get_object(self) -> FamilyMembership:
        link = _my_links(self.request.user).filter(member_id=self.kwargs["pk"]).first()
        if link is None:
            raise Http404
        return link

    @extend_schema(
        summary="One family member", responses={200: FamilyMemberSerializer, 404: NOT_YOURS}
    )
    def get(self, request, pk):
        return Response(FamilyMemberSerializer(self.get_object()).data)

    @extend_schema(
        summary="Remove a family member",
        description="A dependent is deleted with their data after the account-deletion grace "
        "period; an adult member only stops being in your family. Managers only.",
        responses={204: None, 404: NOT_YOURS},
    )
    def delete(self, request, pk):
        link = self.get_object()
        try:
            family.family_member_remove(manager=request.user, member=link.member)
        except FamilyMembership.DoesNotExist:
            raise Http404 from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class FamilyAccess(APIView):
    """Who may act for you (or, with `?member=`, for a member you manage)."""

    @extend_schema(
        summary="Who has family access to you (or to ?member=)",
        parameters=[MEMBER_PARAM],
        responses=FamilyAccessSerializer(many=True),
    )
    def get(self, request):
        member = access.owner_to_write(request)
        links = FamilyMembership.objects.filter(member=member).select_related("manager")
        return Response(FamilyAccessSerializer(links, many=True).data)

    @extend_schema(
        summary="Give an existing user family access by e-mail",
        description="role manager: reads and writes the member's health data; read_only: "
        "reads it. Granting again changes the role.",
        parameters=[MEMBER_PARAM],
        request=FamilyAccessGrantSerializer,
        responses={201: FamilyAccessSerializer, 404: NOT_YOURS},
    )
    @idempotent
    def post(self, request):
        member = access.owner_to_write(request)
        data = FamilyAccessGrantSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        link = family.family_access_grant(
            granted_by=request.user, member=member, **data.validated_data
        )
        return Response(FamilyAccessSerializer(link).data, status=status.HTTP_201_CREATED)


class FamilyAccessDetail(NoBodyMixin, APIView):
    def get_object(self) -> FamilyMembership:
        """A link to the caller or to someone they manage (`family_access_revoke`'s rule)."""
        links = FamilyMembership.objects.filter(pk=self.kwargs["pk"])
        link = access.writable(links, self.request.user, owner_field="member").first()
        if link is None:
            raise Http404
        return link

    @extend_schema(summary="Withdraw family access", responses={204: None, 404: NOT_YOURS})
    def delete(self, request, pk):
        link = self.get_object()
        try:
            family.family_access_revoke(revoked_by=request.user, link=link)
        except FamilyMembership.DoesNotExist:
            raise Http404 from None
        return Response(status=status.HTTP_204_NO_CONTENT)
