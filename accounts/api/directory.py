"""The staff user directory: every account, for superusers and non-clinician staff only
(`accounts.access.can_browse_user_directory`); everyone else gets 404. No encrypted field
(date of birth, medical history) is ever part of it, and every account shown is written to the
access log."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from accounts import access, audit
from accounts.models import User


class DirectoryUserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "role",
            "is_active",
            "is_staff",
            "is_dependent",
            "time_zone",
            "date_joined",
            "last_login",
        ]
        read_only_fields = fields


class DirectoryPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class _DirectoryMixin:
    serializer_class = DirectoryUserSerializer
    filter_backends: list = []

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not access.can_browse_user_directory(request.user):
            raise Http404

    def get_queryset(self):
        return User.objects.filter(deleted_at__isnull=True).order_by("id")


@extend_schema(
    summary="Staff: list every account",
    description="Superusers and staff who are not clinicians; 404 for everyone else. Oldest "
    "account first, 50 a page (`page_size` up to 200). No encrypted field. Each account listed "
    "is written to the access log.",
)
class UserDirectoryView(_DirectoryMixin, generics.ListAPIView):
    pagination_class = DirectoryPagination

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        audit.record_directory_read(request=request, users=page)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


@extend_schema(
    summary="Staff: one account by username",
    description="As the list: staff only, 404 for everyone else; written to the access log.",
)
class UserByUsernameView(_DirectoryMixin, generics.RetrieveAPIView):
    lookup_field = "username"

    def retrieve(self, request, *args, **kwargs):
        user = self.get_object()
        audit.record_directory_read(request=request, users=[user])
        return Response(self.get_serializer(user).data)
