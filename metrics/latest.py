"""The one definition of "latest": the newest sample of a type by `recorded_at` (then by id),
whenever it was taken, today included (a reading is complete when it is taken; only a day's
sums and averages are partial). For blood pressure, the newest systolic and diastolic recorded
at the same instant from the same source whose pair `metrics.validation` accepts (a swapped
pair stored before the rule is never "the latest blood pressure").

Read by the dashboard cards, goals (`goals.readings`), insights texts (through the snapshot),
the API summary, the admin patient page and the report."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import reduce
from operator import or_

from django.db import connections, router
from django.db.models import Q, Subquery

from accounts import access
from metrics.models import HealthMetric
from metrics.registry import METRIC_TYPES
from metrics.validation import BP_DIASTOLIC, BP_SYSTOLIC, plausible_pair

__all__ = ["latest_blood_pressure", "latest_per_type", "latest_value", "latest_values"]


def latest_value(
    *, user_id: int, metric_type: str, before: datetime | None = None, viewer=None
) -> tuple[datetime, float] | None:
    """The newest sample's (recorded_at, value), or None. With `viewer`, only samples they
    may read (`accounts.access.readable_metrics`: a share grant's types and window)."""
    qs = HealthMetric.objects.for_user(user_id).of_type(metric_type)
    if viewer is not None:
        qs = access.readable_metrics(qs, viewer)
    if before is not None:
        qs = qs.filter(recorded_at__lt=before)
    return qs.newest_first().values_list("recorded_at", "value").first()


# The newest sample of each type of `types` for one person, each one index probe
# (`metric_user_type_time`), in one statement: a statement built by the ORM (a UNION of one
# ordered, limited part per type) cost more CPU to compile than the database took to answer
# it, on the summary's every miss (issue 15). Parameters: the types, the person, the bound.
# `metrics.summary` reads it in its own statement, beside the rollups.
LATEST_SQL = """
SELECT t.code, m.recorded_at, m.value
FROM unnest(%s::varchar[]) AS t(code)
CROSS JOIN LATERAL (
    SELECT recorded_at, value FROM metrics_healthmetric
    WHERE user_id = %s AND metric_type = t.code AND recorded_at < %s
    ORDER BY recorded_at DESC, id DESC
    LIMIT 1
) AS m
"""
# No bound: later than any sample.
_NO_BOUND = datetime.max.replace(tzinfo=UTC)


def latest_values(
    *, user_id: int, metric_types: list[str], before: datetime | None = None, viewer=None
) -> dict[str, tuple[datetime, float]]:
    """`latest_value` of several types; types without a sample are absent. For the owner's
    own data one statement on PostgreSQL (`LATEST_SQL`: one index probe per type), so a
    summary costs one round trip instead of one per type. With `viewer` (share-grant
    scoping), or on another database, it is `latest_value` per type."""
    if not metric_types:
        return {}
    using = router.db_for_read(HealthMetric)
    if viewer is not None or connections[using].vendor != "postgresql":
        found = {}
        for code in metric_types:
            latest = latest_value(user_id=user_id, metric_type=code, before=before, viewer=viewer)
            if latest is not None:
                found[code] = latest
        return found
    with connections[using].cursor() as cursor:
        cursor.execute(LATEST_SQL, [list(metric_types), user_id, before or _NO_BOUND])
        return {code: (at, value) for code, at, value in cursor.fetchall()}


def latest_per_type(*, user_id: int) -> list[HealthMetric]:
    """The newest sample of every metric type the user has, in registry order. One query:
    a scalar subquery per type, each answered by the (user, type, -recorded_at) index."""
    newest = (
        Q(
            pk=Subquery(
                HealthMetric.objects.for_user(user_id).of_type(code).newest_first().values("pk")[:1]
            )
        )
        for code in METRIC_TYPES
    )
    rows = HealthMetric.objects.filter(reduce(or_, newest)).select_related("device")
    order = list(METRIC_TYPES)
    return sorted(rows, key=lambda m: order.index(m.metric_type))


# Rows read to find the newest complete pair (a few unpaired halves are skipped).
BP_LOOKBACK_ROWS = 20


def latest_blood_pressure(*, user_id: int) -> tuple[datetime, float, float] | None:
    """(recorded_at, systolic, diastolic) of the newest plausible pair, or None."""
    rows = (
        HealthMetric.objects.for_user(user_id)
        .of_type(BP_SYSTOLIC, BP_DIASTOLIC)
        .newest_first()
        .values_list("recorded_at", "device_id", "source_app", "metric_type", "value")[
            :BP_LOOKBACK_ROWS
        ]
    )
    pairs: dict[tuple, dict[str, float]] = {}
    for at, device_id, source_app, code, value in rows:
        source = (at, device_id, source_app if device_id is None else "")
        pairs.setdefault(source, {}).setdefault(code, value)
    for (at, _, _), pair in pairs.items():  # newest first (dicts keep insertion order)
        systolic, diastolic = pair.get(BP_SYSTOLIC), pair.get(BP_DIASTOLIC)
        if systolic is not None and diastolic is not None and plausible_pair(systolic, diastolic):
            return at, systolic, diastolic
    return None
