"""The one place that answers "may this user see / change that person's data?".

API viewsets, dashboard pages and the admin all call these functions; nothing else decides.
Outsiders get 404 (the record does not exist for them), never 403.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import Http404


def readable_user_ids(viewer) -> QuerySet | list[int]:
    """Ids of the people whose health data `viewer` may read."""
    if not getattr(viewer, "is_authenticated", False):
        return []
    return [viewer.pk]


def writable_user_ids(viewer) -> QuerySet | list[int]:
    """Ids of the people whose health data `viewer` may create, change or delete."""
    if not getattr(viewer, "is_authenticated", False):
        return []
    return [viewer.pk]


def can_read(viewer, owner_id: int) -> bool:
    return owner_id in set(readable_user_ids(viewer))


def can_write(viewer, owner_id: int) -> bool:
    return owner_id in set(writable_user_ids(viewer))


def readable(queryset: QuerySet, viewer, owner_field: str = "user") -> QuerySet:
    """`queryset` narrowed to the records whose owner `viewer` may read."""
    return queryset.filter(**{f"{owner_field}_id__in": readable_user_ids(viewer)})


def writable(queryset: QuerySet, viewer, owner_field: str = "user") -> QuerySet:
    return queryset.filter(**{f"{owner_field}_id__in": writable_user_ids(viewer)})


def get_readable_owner_or_404(viewer, owner_id) -> object:
    """The user whose data is asked for, or 404 if `viewer` may not read it."""
    try:
        owner_id = int(owner_id)
    except (TypeError, ValueError):
        raise Http404 from None
    if not can_read(viewer, owner_id):
        raise Http404
    user = get_user_model().objects.filter(pk=owner_id).first()
    if user is None:
        raise Http404
    return user
