"""A viewset of one person's rows (owned through `user`), scoped by `accounts.access`.

Reads go through `access.readable`, writes through `access.writable` (another person's row is
404); the list is of the person the request names (`/user/<id>`, `?member=`, or the signed-in
user: `access.owner_to_read`), and every read lands in that person's access log.
"""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from accounts import access, audit


class OwnedRowsMixin:
    """Put before `GenericViewSet` (with the list/retrieve mixins); define `rows()`."""

    def rows(self) -> QuerySet:
        raise NotImplementedError

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return self.rows().none()
        rows = self.rows()
        if self.action == "list":  # one owner's rows (the viewer's own: no subquery)
            return access.readable(rows, self.request.user, owner_id=self.owner().pk)
        if self.request.method in SAFE_METHODS:
            return access.readable(rows, self.request.user)
        return access.writable(rows, self.request.user)

    def owner(self):
        """Whose list this is (404 when the viewer may not read them)."""
        if not hasattr(self, "_owner"):
            self._owner = access.owner_to_read(self.request, self.kwargs.get("user_id"))
        return self._owner

    def list(self, request, *args, **kwargs):
        owner = self.owner()
        response = super().list(request, *args, **kwargs)
        # Someone else's list (care team, family `?member=`): one access-log row.
        audit.record_read(request=request, owner_id=owner.pk)
        return response

    def retrieve(self, request, *args, **kwargs):
        row = self.get_object()
        audit.record_read(request=request, owner_id=row.user_id, obj=row)
        return Response(self.get_serializer(row).data)
