"""Template context for the member being acted for (`accounts.members`)."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from accounts import members


def _switch_action(request: HttpRequest) -> str:
    # A page about one record (a reading, an entry) belongs to one person: switching from it
    # goes to the dashboard of the person chosen.
    match = getattr(request, "resolver_match", None)
    if match is not None and "pk" in match.kwargs:
        return reverse("dashboard")
    return request.path


def member(request: HttpRequest) -> dict:
    """`page_member` (the member a patient page is shown for, else None), `member_param`
    ("member=<id>" or ""), `member_can_write`, `is_patient_page` and `member_switcher` (lazy:
    queried only where the header shows it)."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    acting = members.acting_for(request)
    return {
        "page_member": acting,
        "member_param": members.member_query(request),
        "member_can_write": SimpleLazyObject(lambda: members.member_can_write(request))
        if acting is not None
        else True,
        "is_patient_page": hasattr(request, members.PAGE_OWNER_ATTR),
        "member_switch_action": _switch_action(request),
        "member_switcher": SimpleLazyObject(lambda: members.member_choices(request)),
    }
