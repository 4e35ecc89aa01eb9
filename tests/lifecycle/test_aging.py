"""A user's data aged past each window of DATA_LIFECYCLE (time-machine), with the nightly
jobs run at each step: what is hot, archived, restored and deleted."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from auditlog.models import LogEntry
from django.core.management import call_command

from accounts.models import ShareGrant
from healthtrack.lifecycle.models import ArchivedMonth, RetentionJob
from insights.models import HealthInsight
from metrics.models import DailyRollup, HealthMetric, HourlyRollup
from tests.accounts.care_factories import ShareGrantFactory
from tests.insights.factories import HealthInsightFactory
from tests.lifecycle.data import month_of_samples, rollup_snapshot

pytestmark = pytest.mark.django_db
T0 = datetime(2025, 1, 10, 12, tzinfo=UTC)


@contextmanager
def at(moment: datetime):
    with time_machine.travel(moment, tick=False):
        yield


def nightly(moment: datetime) -> list[RetentionJob]:
    with at(moment):
        first = RetentionJob.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        call_command("run_lifecycle", stdout=StringIO())
        return list(RetentionJob.objects.filter(pk__gt=first).order_by("pk"))


def state(user) -> dict:
    return {
        "hot": HealthMetric.objects.filter(user=user).count(),
        "archived": sum(
            a.rows for a in ArchivedMonth.objects.filter(user=user, restored_at__isnull=True)
        ),
        "hourly": HourlyRollup.objects.filter(user=user).count(),
        "daily": DailyRollup.objects.filter(user=user).count(),
        "insights": HealthInsight.objects.filter(user=user).count(),
        "grants": ShareGrant.objects.filter(owner=user).count(),
        "audit_at_t0": LogEntry.objects.filter(timestamp__lte=T0 + timedelta(hours=1)).count(),
    }


def test_data_moves_from_hot_to_archive_to_deleted_as_it_ages(user, archive_root):
    with at(T0):
        made = month_of_samples(user, 2025, 1, days=3)
        HealthInsightFactory(user=user)
        ShareGrantFactory(owner=user, expires_at=T0 + timedelta(days=5))
    n = len(made)
    hourly, daily = (len(x) for x in rollup_snapshot(user))
    audit = LogEntry.objects.filter(timestamp__lte=T0 + timedelta(hours=1)).count()
    assert audit >= n

    # Three weeks on: everything hot, the grant inside expiry + 30 days.
    jobs = nightly(datetime(2025, 1, 30, 4, tzinfo=UTC))
    assert {j.kind for j in jobs} == set(RetentionJob.Kind.values) - {
        "restore",
        "replay",
        "rotate_archive_keys",
    }
    assert all(j.status == "done" and j.finished_at for j in jobs)
    assert state(user) == {
        "hot": n,
        "archived": 0,
        "hourly": hourly,
        "daily": daily,
        "insights": 1,
        "grants": 1,
        "audit_at_t0": audit,
    }

    # Expiry + 30 days passed: the grant goes; the samples are still inside the hot window.
    nightly(datetime(2025, 3, 1, 4, tzinfo=UTC))
    assert state(user)["grants"] == 0 and state(user)["hot"] == n

    # January is wholly past the 90-day hot window: archived, rollups kept.
    jobs = nightly(datetime(2025, 5, 15, 4, tzinfo=UTC))
    assert jobs[0].kind == "archive" and jobs[0].rows_archived == n and jobs[0].bytes_written
    assert state(user) == {
        "hot": 0,
        "archived": n,
        "hourly": hourly,
        "daily": daily,
        "insights": 1,
        "grants": 0,
        "audit_at_t0": audit,
    }
    assert len(list(archive_root.rglob("*.parquet"))) == 2

    # Restored (twice: nothing added the second time), and left hot for the hold period.
    with at(datetime(2025, 5, 20, 9, tzinfo=UTC)):
        call_command("restore_archive", user=user.username, first="2025-01", last="2025-01")
        call_command("restore_archive", user=user.username, first="2025-01", last="2025-01")
    assert state(user)["hot"] == n and state(user)["archived"] == 0
    assert [
        j.rows_restored for j in RetentionJob.objects.filter(kind="restore").order_by("pk")
    ] == [
        n,
        0,
    ]
    nightly(datetime(2025, 6, 1, 4, tzinfo=UTC))
    assert state(user)["hot"] == n

    # The hold is over: archived again.
    nightly(datetime(2025, 7, 1, 4, tzinfo=UTC))
    assert state(user)["hot"] == 0 and state(user)["archived"] == n

    # Two years on: hourly rollups and insights deleted; daily rollups and the archive stay.
    nightly(datetime(2027, 2, 1, 4, tzinfo=UTC))
    assert state(user) == {
        "hot": 0,
        "archived": n,
        "hourly": 0,
        "daily": daily,
        "insights": 0,
        "grants": 0,
        "audit_at_t0": audit,
    }

    # Seven years on: the archive files and the audit rows of the time go; daily rollups stay.
    jobs = nightly(datetime(2032, 2, 15, 4, tzinfo=UTC))
    by_kind = {j.kind: j for j in jobs}
    assert by_kind["delete_raw_samples"].rows_deleted == n
    assert by_kind["delete_audit_logs"].rows_deleted >= audit
    assert state(user) == {
        "hot": 0,
        "archived": 0,
        "hourly": 0,
        "daily": daily,
        "insights": 0,
        "grants": 0,
        "audit_at_t0": 0,
    }
    assert not list(archive_root.rglob("*.parquet"))
    assert not ArchivedMonth.objects.filter(user=user).exists()
