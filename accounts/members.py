"""Acting for a family member on the browser pages: the same `?member=<user id>` as the API.

A patient page asks `page_owner(request)` (reads) or `page_owner(request, write=True)` (writes)
whose page it is. Both defer to `accounts.access` (`owner_to_read` / `owner_to_write`): a member
one may not read is 404, a member one may only read (read-only role) is 404 on writes, exactly
as on the API. The request then remembers the member, so that

- templates keep the parameter on their links and forms (`{% member_url %}` from
  `{% load members %}`, `{{ member_param }}` for a query string, `includes/member_field.html`
  in a GET form) and hide the write actions from a read-only viewer (`member_can_write`);
- views redirect with it (`member_redirect`);
- the page header shows the member switcher ("Me" plus everyone the user manages or may read).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.shortcuts import resolve_url

from accounts import access, audit
from accounts.models import FamilyMembership

PAGE_OWNER_ATTR = "_ht_page_owner"


@dataclass(frozen=True)
class MemberChoice:
    """One entry of the member switcher: `member_id` None is the signed-in user ("Me")."""

    member_id: int | None
    label: str
    role: str = ""  # "manager" or "read_only" for family members
    selected: bool = False


def page_owner(request: HttpRequest, *, write: bool = False):
    """The person whose page this is: the signed-in user, or `?member=<id>` when the access
        rules allow it (404 otherwise). Remembered on the request for templates and redirects; a
    page shown for someone else is written to their access log (`accounts.audit`)."""
    owner = access.owner_to_write(request) if write else access.owner_to_read(request)
    setattr(request, PAGE_OWNER_ATTR, owner)
    if owner.pk != request.user.pk and request.method == "GET":
        audit.record_read(request=request, owner_id=owner.pk)  # a family read: the access log
    return owner


def page_writer(request: HttpRequest):
    """Whose data a page's write is for (`page_owner(request, write=True)`); 404 unless the
    signed-in user may write it (`accounts.access.can_write`)."""
    owner = page_owner(request, write=True)
    if not access.can_write(request.user, owner.pk):
        raise Http404
    return owner


def page_writable(request: HttpRequest, queryset: QuerySet) -> QuerySet:
    """The rows of `queryset` (owned through `user`) of the person the page is for (the
    signed-in user or `?member=`) that the signed-in user may change; anyone else's are 404
    (`page_owner(request, write=True)`) or simply absent."""
    owner = page_owner(request, write=True)
    return access.writable(queryset, request.user).filter(user=owner)


def acting_for(request: HttpRequest):
    """The member a page is shown for, or None when it is the signed-in user's own page."""
    owner = getattr(request, PAGE_OWNER_ATTR, None)
    if owner is None or owner.pk == getattr(request.user, "pk", None):
        return None
    return owner


def member_params(request: HttpRequest) -> dict[str, int]:
    member = acting_for(request)
    return {access.MEMBER_PARAM: member.pk} if member is not None else {}


def member_query(request: HttpRequest, *parts: str) -> str:
    """A query string of `parts` (e.g. "days=30", empty ones dropped) plus "member=<id>"
    when the page is shown for a member: for pagination and period links."""
    params = member_params(request)
    return "&".join([*(p for p in parts if p), *(urlencode(params),) * bool(params)])


def with_member(request: HttpRequest, url: str) -> str:
    """`url` with `member=<id>` added when the page is shown for a member (replacing any)."""
    params = member_params(request)
    if not params:
        return url
    parts = urlsplit(url)
    kept = [p for p in parts.query.split("&") if p and not p.startswith(f"{access.MEMBER_PARAM}=")]
    query = "&".join([*kept, urlencode(params)])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def member_redirect(request: HttpRequest, to, *args, **kwargs) -> HttpResponseRedirect:
    """`redirect(to, *args)` that keeps the member the page was shown for."""
    return HttpResponseRedirect(with_member(request, resolve_url(to, *args, **kwargs)))


def member_can_write(request: HttpRequest) -> bool:
    """May the signed-in user change the data of the person the page is shown for?"""
    member = acting_for(request)
    return member is None or access.can_write(request.user, member.pk)


def display_name(user) -> str:
    """How the pages name a person: full name, else short name, else username."""
    return user.get_full_name() or user.get_short_name() or user.get_username()


def member_choices(request: HttpRequest) -> list[MemberChoice]:
    """ "Me" plus the live members the user manages or may read (one query); empty when there
    is nobody else to switch to."""
    viewer = request.user
    links = (
        FamilyMembership.objects.live()
        .filter(manager=viewer, member__is_active=True)
        .select_related("member")
        .order_by("member__first_name", "member_id")
    )
    current = acting_for(request)
    current_id = current.pk if current is not None else None
    choices = [
        MemberChoice(
            member_id=link.member_id,
            label=display_name(link.member),
            role=link.role,
            selected=link.member_id == current_id,
        )
        for link in links
    ]
    if not choices:
        return []
    return [MemberChoice(member_id=None, label="Me", selected=current_id is None), *choices]
