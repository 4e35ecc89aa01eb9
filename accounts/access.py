"""The one place that answers "may this user see / change that person's data?".

API viewsets, dashboard pages and the admin all call these functions; nothing else decides.
Outsiders get 404 (the record does not exist for them), never 403.

Rules
- Everyone reads and writes their own data.
- A clinician (role "clinician", active) reads the data of the patients in an active care team
  with them; never writes it.
- A clinician named in an active, unexpired share grant reads the metric types and date window
  it covers (`can_read_metric`, `readable_metrics`), nothing else of that patient.
- Staff who are neither clinicians nor superusers get nobody else's data.
- Families (`accounts.family`): a family manager reads and writes the data of the members they
  manage (dependents they created, or users who granted them manager access); a read-only family
  role reads only. Deleted members are nobody's. Nothing else follows from a family link.
- Acting for someone: every API endpoint takes `?member=<user id>` (see `owner_to_write` for
  writes, `owner_to_read` for reads); absent, it is the signed-in user. A member one may not
  write for is 404 on writes, even when one may read them (read-only role).
- In the admin only (`admin_*`), superusers see everything; admin clinicians (staff in the
  "Clinicians" group) see their patients read-only; other staff see nothing.

Which one to ask
- Whose data does this request read / write? `owner_to_read(request, user_id=None)` /
  `owner_to_write(request, allowed=None)` (the signed-in user, `?member=`, or a named person).
- I have a person's id: `get_readable_owner_or_404(viewer, id)`; for measurements, where a
  share grant also lets a clinician in, `get_metrics_owner_or_404(viewer, id)` (with whether
  they read all of it: `metrics_owner_or_404`).
- Yes or no for one person: `can_read`, `can_write`, `can_write_care_plan`; why:
  `access_via`; roles and links: `is_clinician`, `is_admin_clinician`, `in_care_team`,
  `family_role`, `care_team_patient_ids`.
- Narrow a QuerySet: `readable` (`owner_id=`: one owner's rows), `writable`,
  `care_plan_writable`; measurement rows (share grants count): `readable_metrics(queryset,
  viewer, owner_id=None, ...)`; the grants a clinician holds: `active_grants_for`; one reading:
  `can_read_metric`.
- The admin and the staff directory: `admin_can_view`, `admin_can_read`, `admin_readable`,
  `can_browse_user_directory`.
"""

from __future__ import annotations

from datetime import date, datetime

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.models import CLINICIANS_GROUP, CareTeam, FamilyMembership, ShareGrant

MEMBER_PARAM = "member"


def _is_active_user(viewer) -> bool:
    return (
        getattr(viewer, "is_authenticated", False)
        and getattr(viewer, "is_active", False)
        and getattr(viewer, "deleted_at", None) is None
    )


def is_clinician(viewer) -> bool:
    """An active user whose role is clinician (care teams and share grants name them)."""
    return _is_active_user(viewer) and viewer.role == get_user_model().Role.CLINICIAN


def is_admin_clinician(viewer) -> bool:
    """A clinician who works in the admin: staff, in the "Clinicians" group."""
    if not (is_clinician(viewer) and viewer.is_staff):
        return False
    cached = getattr(viewer, "_ht_in_clinicians_group", None)
    if cached is None:
        cached = viewer.groups.filter(name=CLINICIANS_GROUP).exists()
        viewer._ht_in_clinicians_group = cached
    return cached


def _care_patient_ids(viewer) -> QuerySet:
    return (
        CareTeam.objects.active()
        .filter(clinician=viewer, patient__deleted_at__isnull=True)
        .values("patient_id")
    )


def care_team_patient_ids(viewer) -> QuerySet | list[int]:
    """Ids of the patients in an active care team with clinician `viewer` (none otherwise)."""
    if not is_clinician(viewer):
        return []
    return _care_patient_ids(viewer).values_list("patient_id", flat=True)


def _family_member_ids(viewer, *, managing: bool = False) -> QuerySet:
    links = FamilyMembership.objects.live().filter(manager=viewer)
    if managing:
        links = links.managing()
    return links.values("member_id")


def _readable_user_ids(viewer) -> QuerySet | list[int]:
    """Ids of the people whose (whole) health data `viewer` may read: themself, the family
    members they manage or were given read access to, plus, for a clinician, the patients of
    their active care teams. Share grants are narrower (some metric types, a window) and are
    not included: see `can_read_metric`."""
    if not _is_active_user(viewer):
        return []
    others = Q(pk__in=_family_member_ids(viewer))
    if is_clinician(viewer):
        others |= Q(pk__in=_care_patient_ids(viewer))
    return get_user_model().objects.filter(Q(pk=viewer.pk) | others).values_list("pk", flat=True)


def _writable_user_ids(viewer) -> QuerySet | list[int]:
    """Ids of the people whose health data `viewer` may create, change or delete: their own,
    and the family members they manage (role manager). Clinicians never write patient data."""
    if not _is_active_user(viewer):
        return []
    return (
        get_user_model()
        .objects.filter(Q(pk=viewer.pk) | Q(pk__in=_family_member_ids(viewer, managing=True)))
        .values_list("pk", flat=True)
    )


MAX_ID = 2**63 - 1  # no row has a larger id; the database cannot compare one (SQLite)


def _as_id(owner_id) -> int | None:
    try:
        value = int(owner_id)
    except (TypeError, ValueError):
        return None
    return value if -MAX_ID <= value <= MAX_ID else None


def in_care_team(viewer, owner_id) -> bool:
    """`viewer` is a clinician in an active care team with patient `owner_id`."""
    owner_id = _as_id(owner_id)
    if owner_id is None or not is_clinician(viewer):
        return False
    return _care_patient_ids(viewer).filter(patient_id=owner_id).exists()


def family_role(viewer, owner_id) -> str | None:
    """`viewer`'s family role ("manager", "read_only") for member `owner_id`, if any."""
    owner_id = _as_id(owner_id)
    if owner_id is None or not _is_active_user(viewer) or owner_id == viewer.pk:
        return None
    link = (
        FamilyMembership.objects.live()
        .filter(manager=viewer, member_id=owner_id)
        .values_list("role", flat=True)
        .first()
    )
    return link


def can_read(viewer, owner_id) -> bool:
    owner_id = _as_id(owner_id)
    if owner_id is None or not _is_active_user(viewer):
        return False
    if owner_id == viewer.pk:
        return True
    return family_role(viewer, owner_id) is not None or in_care_team(viewer, owner_id)


def can_write(viewer, owner_id) -> bool:
    owner_id = _as_id(owner_id)
    if owner_id is None or not _is_active_user(viewer):
        return False
    if owner_id == viewer.pk:
        return True
    return family_role(viewer, owner_id) == FamilyMembership.Role.MANAGER


def _owner_lookup(owner_field: str | None) -> str:
    """The lookup of the owner's id; `owner_field=None` when the rows are the users."""
    return "pk" if owner_field is None else f"{owner_field}_id"


def readable(
    queryset: QuerySet, viewer, owner_field: str | None = "user", *, owner_id=None
) -> QuerySet:
    """`queryset` narrowed to the records whose owner `viewer` may read; with `owner_id`, to
    those of that one owner (the same rows; an active viewer's own need no subquery)."""
    lookup = _owner_lookup(owner_field)
    if owner_id is not None:
        owner_id = _as_id(owner_id)
        if owner_id is None:
            return queryset.none()
        if _is_active_user(viewer) and owner_id == viewer.pk:
            return queryset.filter(**{lookup: owner_id})
        return readable(queryset, viewer, owner_field).filter(**{lookup: owner_id})
    return queryset.filter(**{f"{lookup}__in": _readable_user_ids(viewer)})


def writable(queryset: QuerySet, viewer, owner_field: str | None = "user") -> QuerySet:
    return queryset.filter(**{f"{_owner_lookup(owner_field)}__in": _writable_user_ids(viewer)})


def get_readable_owner_or_404(viewer, owner_id) -> object:
    """The user whose data is asked for, or 404 if `viewer` may not read it."""
    owner_id = _as_id(owner_id)
    if owner_id is None or not can_read(viewer, owner_id):
        raise Http404
    user = get_user_model().objects.filter(pk=owner_id, deleted_at__isnull=True).first()
    if user is None:
        raise Http404
    return user


def access_via(viewer, owner_id) -> str | None:
    """Why `viewer` may read `owner_id`'s whole data: "owner", "family", "care_team", or None."""
    owner_id = _as_id(owner_id)
    if owner_id is None or not _is_active_user(viewer):
        return None
    if owner_id == viewer.pk:
        return "owner"
    if family_role(viewer, owner_id) is not None:
        return "family"
    if in_care_team(viewer, owner_id):
        return "care_team"
    return None


# --- Care plans (goals' care programs) ------------------------------------------------------


def can_write_care_plan(viewer, owner_id) -> bool:
    """May `viewer` set, change or end care plans (programs) for `owner_id`: whoever may write
    their data (themself, a family manager), or a clinician in an active care team with them.
    Care plans are not health data: clinicians still never write measurements."""
    return can_write(viewer, owner_id) or in_care_team(viewer, owner_id)


def care_plan_writable(queryset: QuerySet, viewer, owner_field: str | None = "user") -> QuerySet:
    if not _is_active_user(viewer):
        return queryset.none()
    lookup = f"{_owner_lookup(owner_field)}__in"
    q = Q(**{lookup: _writable_user_ids(viewer)})
    if is_clinician(viewer):
        q |= Q(**{lookup: _care_patient_ids(viewer)})
    return queryset.filter(q)


# --- Acting for a family member: `?member=<id>` on every endpoint -----------------------------


def _member_param(request) -> str | None:
    params = getattr(request, "query_params", None) or request.GET
    raw = params.get(MEMBER_PARAM)
    return raw if raw not in (None, "") else None


def _live_user_or_404(owner_id: int):
    user = get_user_model().objects.filter(pk=owner_id, deleted_at__isnull=True).first()
    if user is None:
        raise Http404
    return user


def owner_to_write(request, *, allowed=None):
    """Whose data a write is for: the signed-in user, or the `?member=<id>` they may write for.
    A member they may not write for (a stranger, or read-only access) is 404. `allowed`
    (default `can_write`) is the rule, e.g. `can_write_care_plan` for programs."""
    raw = _member_param(request)
    if raw is None:
        return request.user
    owner_id = _as_id(raw)
    if owner_id is not None and owner_id == getattr(request.user, "pk", None):
        return request.user
    if owner_id is None or not (allowed or can_write)(request.user, owner_id):
        raise Http404
    return _live_user_or_404(owner_id)


def owner_to_read(request, user_id=None):
    """Whose data a read is for: the signed-in user, or the `?member=<id>` they may read, or,
    when the request names a person (a `/user/<id>` route, a `user_id` filter), that person.
    Anyone the viewer may not read is 404, and a `?member=` is checked either way."""
    owner = _member_to_read(request)
    if user_id is not None:
        owner = get_readable_owner_or_404(request.user, user_id)
    return owner


def _member_to_read(request):
    raw = _member_param(request)
    if raw is None:
        return request.user
    owner_id = _as_id(raw)
    if owner_id is not None and owner_id == getattr(request.user, "pk", None):
        return request.user
    return get_readable_owner_or_404(request.user, raw)


# --- Share grants: metric types over a window ------------------------------------------------


def _in_window(grant: ShareGrant, when: date | datetime) -> bool:
    if isinstance(when, datetime):
        start, end = grant.window_bounds()
        return start <= when < end
    return grant.date_from <= when <= grant.date_to


def active_grants_for(viewer, owner_id=None) -> QuerySet:
    """Active, unexpired named-clinician grants held by `viewer` (optionally from one owner)."""
    if not is_clinician(viewer):
        return ShareGrant.objects.none()
    grants = (
        ShareGrant.objects.active()
        .for_grantee(viewer)
        .filter(owner__is_active=True, owner__deleted_at__isnull=True)
        .select_related("owner")  # the window is the owner's local days
    )
    if owner_id is not None:
        grants = grants.filter(owner_id=owner_id)
    return grants


def _grant_covering(viewer, owner_id, metric_type: str, when: date | datetime) -> ShareGrant | None:
    """The active named grant through which `viewer` may read that reading, if any."""
    owner_id = _as_id(owner_id)
    if owner_id is None:
        return None
    for grant in active_grants_for(viewer, owner_id):
        if metric_type in grant.metric_types and _in_window(grant, when):
            return grant
    return None


def can_read_metric(viewer, owner_id, metric_type: str, when: date | datetime) -> bool:
    """May `viewer` read `owner_id`'s reading of `metric_type` taken at `when` (a datetime,
    or a date for daily rollups)? Owner and care-team clinicians read all of it; a named
    clinician reads what an active grant covers."""
    if can_read(viewer, owner_id):
        return True
    return _grant_covering(viewer, owner_id, metric_type, when) is not None


def _shared_metrics_q(
    viewer,
    *,
    owner_field: str | None = "user",
    type_field: str = "metric_type",
    time_field: str = "recorded_at",
    time_is_date: bool = False,
) -> Q:
    """A filter matching the rows `viewer` may read through active named grants only.

    `type_field` is the lookup to the metric type code (e.g. "metric_type__code"),
    `time_field` the reading's datetime (or date, with `time_is_date=True`). Matches nothing
    when `viewer` holds no grant.
    """
    q = Q(pk__in=[])
    for grant in active_grants_for(viewer):
        if time_is_date:
            window = {f"{time_field}__gte": grant.date_from, f"{time_field}__lte": grant.date_to}
        else:
            start, end = grant.window_bounds()
            window = {f"{time_field}__gte": start, f"{time_field}__lt": end}
        q |= Q(
            **{_owner_lookup(owner_field): grant.owner_id, f"{type_field}__in": grant.metric_types},
            **window,
        )
    return q


def _holds_grant_from(viewer, owner_id) -> bool:
    """`viewer` holds an active named share grant from `owner_id` (some metric types only)."""
    owner_id = _as_id(owner_id)
    return owner_id is not None and active_grants_for(viewer, owner_id).exists()


def get_metrics_owner_or_404(viewer, owner_id) -> object:
    """The user whose measurements are asked for, or 404: as `get_readable_owner_or_404`, but
    a named clinician with an active grant from them gets through too. Narrow the rows with
    `readable_metrics` afterwards: the grant covers some types over a window only."""
    return metrics_owner_or_404(viewer, owner_id)[0]


def metrics_owner_or_404(viewer, owner_id) -> tuple[object, bool]:
    """`get_metrics_owner_or_404`'s user, and whether `viewer` may read all of their data
    (`can_read`), asked once: False when a named share grant is what lets them in (pass it on
    as `readable_metrics(..., whole=...)`)."""
    owner_id = _as_id(owner_id)
    whole = owner_id is not None and can_read(viewer, owner_id)
    if owner_id is None or not (whole or _holds_grant_from(viewer, owner_id)):
        raise Http404
    if owner_id == viewer.pk:  # an active user reading their own: the row is already loaded
        return viewer, whole
    user = get_user_model().objects.filter(pk=owner_id, deleted_at__isnull=True).first()
    if user is None:
        raise Http404
    return user, whole


def readable_metrics(
    queryset: QuerySet,
    viewer,
    *,
    owner_id=None,
    owner_field: str | None = "user",
    type_field: str = "metric_type",
    time_field: str = "recorded_at",
    time_is_date: bool = False,
    whole: bool | None = None,
) -> QuerySet:
    """`queryset` of metric rows narrowed to what `viewer` may read: their own and their
    care-team patients' rows, plus what their active named share grants cover.

    With `owner_id`, the rows of that one owner: all of them when `viewer` may read all
    (`can_read`: themself without a query), else only what their grants from that owner cover.
    `whole` is `can_read(viewer, owner_id)` when the caller has asked it already
    (`metrics_owner_or_404`).
    """
    grants = {
        "owner_field": owner_field,
        "type_field": type_field,
        "time_field": time_field,
        "time_is_date": time_is_date,
    }
    if owner_id is not None:
        rows = queryset.filter(**{_owner_lookup(owner_field): owner_id})
        if whole is None:
            whole = can_read(viewer, owner_id)
        if whole:
            return rows
        if not _is_active_user(viewer):
            return queryset.none()
        return rows.filter(_shared_metrics_q(viewer, **grants))
    if not _is_active_user(viewer):
        return queryset.none()
    whole = Q(**{f"{_owner_lookup(owner_field)}__in": _readable_user_ids(viewer)})
    return queryset.filter(whole | _shared_metrics_q(viewer, **grants))


# --- Admin ------------------------------------------------------------------------------------


def can_browse_user_directory(viewer) -> bool:
    """The staff user directory (`/api/v1/users/`): superusers and staff who are not
    clinicians (a clinician reaches only their care-team patients)."""
    return _is_active_user(viewer) and (
        viewer.is_superuser or (viewer.is_staff and not is_clinician(viewer))
    )


def admin_can_view(viewer) -> bool:
    """May `viewer` use the health-data pages of the admin at all?"""
    return (
        _is_active_user(viewer)
        and viewer.is_staff
        and (viewer.is_superuser or is_admin_clinician(viewer))
    )


def admin_readable(queryset: QuerySet, viewer, owner_field: str | None = "user") -> QuerySet:
    """`queryset` as the admin shows it to `viewer`: everything for superusers, their care-team
    patients' (and own) records for admin clinicians, nothing for other staff.

    `owner_field=None` when the rows are the users themselves.
    """
    if not admin_can_view(viewer):
        return queryset.none()
    if viewer.is_superuser:
        return queryset
    return readable(queryset, viewer, owner_field)


def admin_can_read(viewer, owner_id) -> bool:
    if not admin_can_view(viewer):
        return False
    return viewer.is_superuser or can_read(viewer, owner_id)
