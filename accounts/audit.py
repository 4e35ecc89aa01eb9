"""The read trail: who read whose health data, what, when, from where, in which request.

Every view that shows someone's health data to anyone but its owner calls `record_access`
once per request (not once per row). Changes are recorded by django-auditlog; both trails
share the request id (auditlog's "correlation id").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from auditlog.cid import get_cid
from auditlog.context import auditlog_value
from auditlog.models import LogEntry
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from accounts import access
from accounts.models import AccessLog, ShareGrant, User
from healthtrack.core.api.ratelimits import client_ip


def audit_actor_set(user: User) -> None:
    """Name `user` as the actor of the auditlog rows written during the rest of this request.

    auditlog's middleware takes the actor from `request.user` before the view runs; API
    requests authenticate (JWT) inside the view, so the API's authentication calls this."""
    try:
        context = auditlog_value.get()
    except LookupError:
        return
    if isinstance(context, dict) and context.get("actor") is None:
        context["actor"] = user


def _request_id(request) -> str:
    return (getattr(request, "request_id", None) or get_cid() or "")[:64]


def record_access(
    *,
    actor: User | None,
    owner_id: int,
    via: str,
    request=None,
    obj: models.Model | None = None,
    endpoint: str = "",
    share_grant: ShareGrant | None = None,
) -> AccessLog | None:
    """Append one row to the access log, unless the actor is the owner (own reads are not
    logged). `obj` names the row read (e.g. one measurement in an admin change view);
    `endpoint` defaults to the request's method and path. Returns the row, or None."""
    actor_id = getattr(actor, "pk", None)
    if actor_id is not None and actor_id == owner_id:
        return None
    if not endpoint and request is not None:
        endpoint = f"{request.method} {request.path}"
    return AccessLog.objects.create(
        actor=actor if actor_id is not None else None,
        actor_label=(actor.get_username() if actor_id is not None else "share link")[:150],
        owner_id=owner_id,
        via=via,
        share_grant=share_grant,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk)[:64] if obj is not None else "",
        endpoint=endpoint[:200],
        ip=client_ip(request),
        request_id=_request_id(request),
    )


def record_read(
    *, request, owner_id: int, obj: models.Model | None = None, endpoint: str = ""
) -> AccessLog | None:
    """Log that `request.user` read `owner_id`'s data in an API view or page, working out
    how they may (care team, or a named share grant). Own reads are not logged. Call it once
    per request, after the access check."""
    viewer = request.user
    via = access.access_via(viewer, owner_id)
    if via == "owner":
        return None
    grant = None
    if via is None:
        grant = access.active_grants_for(viewer, owner_id).first()
        via = AccessLog.Via.SHARE_GRANT if grant is not None else AccessLog.Via.OTHER
    return record_access(
        actor=viewer,
        owner_id=owner_id,
        via=via,
        request=request,
        obj=obj,
        endpoint=endpoint,
        share_grant=grant,
    )


def record_directory_read(*, request, users: list[User]) -> None:
    """One access-log row per account a staff member saw in the user directory (one insert)."""
    actor = request.user
    endpoint = f"{request.method} {request.path}"[:200]
    AccessLog.objects.bulk_create(
        AccessLog(
            actor=actor,
            actor_label=actor.get_username()[:150],
            owner_id=user.pk,
            via=AccessLog.Via.ADMIN,
            object_type=user._meta.label_lower,
            object_id=str(user.pk),
            endpoint=endpoint,
            ip=client_ip(request),
            request_id=_request_id(request),
        )
        for user in users
        if user.pk != actor.pk
    )


@dataclass(frozen=True)
class PruneResult:
    cutoff: datetime
    log_entries: int
    access_logs: int


def _batched_delete(queryset: models.QuerySet, delete, batch: int) -> int:
    total = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:batch])
        if not ids:
            return total
        total += delete(ids)


@transaction.atomic
def _delete_log_entries(ids: list[int]) -> int:
    return LogEntry.objects.filter(pk__in=ids).delete()[0]


@transaction.atomic
def _delete_access_logs(ids: list[int]) -> int:
    return AccessLog.objects.filter(pk__in=ids)._prune()


def audit_prune(
    *, days: int | None = None, dry_run: bool = False, batch: int = 5000
) -> PruneResult:
    """Delete change (auditlog) and read (AccessLog) rows older than the retention period.
    The only path by which audit rows are deleted."""
    days = settings.AUDIT_RETENTION_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=days)
    old_entries = LogEntry.objects.filter(timestamp__lt=cutoff)
    old_reads = AccessLog.objects.filter(at__lt=cutoff)
    if dry_run:
        return PruneResult(cutoff, old_entries.count(), old_reads.count())
    return PruneResult(
        cutoff,
        _batched_delete(old_entries, _delete_log_entries, batch),
        _batched_delete(old_reads, _delete_access_logs, batch),
    )
