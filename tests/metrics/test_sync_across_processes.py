"""No data lost under concurrency (issue 9): overlapping device syncs for one user, sent at the
same moment through two web server processes, end with exactly the expected rows and rollups.
Needs DATABASE_URL and REDIS_URL (PostgreSQL's row locks; servers sharing one database)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from healthtrack.changes.models import ChangeEvent
from metrics import rollups, services
from metrics.models import DailyRollup, HealthMetric, HourlyRollup, PeriodRollup
from tests.accounts.factories import UserFactory
from tests.healthtrack.servers import http, two_web_servers

pytestmark = [
    pytest.mark.real_clock,  # the servers check the token's times on the real clock
    pytest.mark.skipif(
        not (settings.REDIS_URL and settings.DATABASE_URL),
        reason="needs REDIS_URL and DATABASE_URL (servers sharing PostgreSQL)",
    ),
    pytest.mark.django_db(transaction=True),
]

WRITERS = 4  # two per server
SAMPLES_PER_BATCH = 120
STRIDE = 60  # each batch overlaps the next by half


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory, django_db_setup, django_db_blocker):
    tmp = tmp_path_factory.mktemp("sync")
    with two_web_servers(tmp, RATELIMIT_ENABLE="false") as servers:
        yield servers


def rollup_rows(user_id: int) -> list[tuple]:
    values = ("metric_type", "value", "min_value", "max_value", "count")
    hourly = HourlyRollup.objects.filter(user_id=user_id).order_by("metric_type", "period_start")
    daily = DailyRollup.objects.filter(user_id=user_id).order_by("metric_type", "day")
    return [
        *hourly.values_list("period_start", *values),
        *daily.values_list("day", *values),
    ]


def test_overlapping_syncs_from_two_processes_store_each_sample_once(two_servers, security_counts):
    user = UserFactory()
    device = services.device_create(
        user=user, device_type="apple_watch", name="Watch", identifier="w-sync"
    )
    token = str(AccessToken.for_user(user))
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=6)

    def sample(i: int) -> dict:
        # The same id always carries the same reading: an overlap is a retried batch.
        return {
            "metric_type": "heart_rate",
            "value": 60 + i % 25,
            "recorded_at": (start + timedelta(minutes=i)).isoformat(),
            "external_id": f"hr-{i}",
        }

    batches = [
        [sample(i) for i in range(k * STRIDE, k * STRIDE + SAMPLES_PER_BATCH)]
        for k in range(WRITERS)
    ]
    expected = {
        f"hr-{i}": 60 + i % 25
        for k in range(WRITERS)
        for i in range(k * STRIDE, k * STRIDE + SAMPLES_PER_BATCH)
    }
    together = threading.Barrier(WRITERS)

    def send(k: int) -> int:
        server = two_servers[k % 2]
        together.wait()
        status, _, body = http(
            "POST",
            f"{server.url}/api/v1/devices/{device.pk}/sync",
            body=json.dumps({"samples": batches[k]}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        return status

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        statuses = list(pool.map(send, range(WRITERS)))
    assert statuses == [200] * WRITERS

    stored = dict(HealthMetric.objects.filter(user=user).values_list("external_id", "value"))
    assert HealthMetric.objects.filter(user=user).count() == len(expected)  # no duplicates
    assert stored == expected  # none lost
    after_syncs = rollup_rows(user.pk)
    assert after_syncs  # the rollups were written
    rollups.recompute_all(user_id=user.pk)
    assert rollup_rows(user.pk) == after_syncs  # the same as computed from scratch
    security_counts["concurrent sync writers (two processes)"] += WRITERS
    security_counts["rows verified after concurrent syncs"] += len(expected)


def rounded_rollups(user_id: int) -> list[tuple]:
    def rows(model, key):
        return sorted(
            (*(getattr(r, k) for k in key), r.metric_type, round(r.value, 6), r.min_value)
            + (r.max_value, r.count)
            for r in model.objects.filter(user_id=user_id)
        )

    return [
        rows(HourlyRollup, ["period_start"]),
        rows(DailyRollup, ["day"]),
        rows(PeriodRollup, ["period", "start", "time_zone"]),
    ]


def test_concurrent_single_readings_of_one_person_keep_the_rollups_exact(
    two_servers, security_counts
):
    """Single POSTs fold their reading into the rollups as a delta, and write their row before
    taking the person's lock: readings posted at the same moment through two processes, of an
    averaged and a latest type, recorded out of arrival order, must still leave every hour,
    day, week and month equal to a recomputation from the raw rows."""
    user = UserFactory(time_zone="Asia/Kolkata")
    token = str(AccessToken.for_user(user))
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    per_writer = 8
    together = threading.Barrier(WRITERS)

    def send(k: int) -> list[int]:
        server = two_servers[k % 2]
        together.wait()
        statuses = []
        for n in range(per_writer):
            code = "weight" if n % 2 else "heart_rate"
            # Interleaved times: a later arrival is often an earlier reading.
            at = start + timedelta(minutes=(n * WRITERS + (WRITERS - k)) * 3)
            status, _, _ = http(
                "POST",
                f"{server.url}/api/v1/health-metrics",
                body=json.dumps(
                    {"metric_type": code, "value": 60 + k * 3 + n, "recorded_at": at.isoformat()}
                ).encode(),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            )
            statuses.append(status)
        return statuses

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        statuses = [s for batch in pool.map(send, range(WRITERS)) for s in batch]
    assert statuses == [201] * WRITERS * per_writer
    assert HealthMetric.objects.filter(user=user).count() == WRITERS * per_writer
    written = rounded_rollups(user.pk)
    rollups.recompute_all(user_id=user.pk)
    assert rounded_rollups(user.pk) == written
    # The change feed: numbered 1..n without a gap, one `created` event per reading.
    events = list(ChangeEvent.objects.filter(user_id=user.pk).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, WRITERS * per_writer + 1))
    assert sorted(e.object_id for e in events) == sorted(
        HealthMetric.objects.filter(user=user).values_list("pk", flat=True)
    )
    assert {(e.resource, e.action) for e in events} == {
        (ChangeEvent.Resource.MEASUREMENT, ChangeEvent.Action.CREATED)
    }
    security_counts["concurrent single readings verified (two processes)"] += len(statuses)
