"""A new averaged or latest sample is folded into its hour, day, week and month as a delta
(`metrics.rollups.add_sample`): the rows must equal a full recomputation from the raw rows,
whatever the order the samples arrive in and whatever the owner's zone."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from healthtrack.core.models import OutboxTask
from metrics import rollups, services
from metrics.models import DailyRollup, HourlyRollup, PeriodRollup
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def snapshot(user) -> dict:
    def rows(model, key):
        return {
            (r.metric_type, *(getattr(r, k) for k in key)): (
                round(r.value, 6),
                r.min_value,
                r.max_value,
                r.count,
            )
            for r in model.objects.filter(user=user)
        }

    return {
        "hours": rows(HourlyRollup, ["period_start"]),
        "days": rows(DailyRollup, ["day"]),
        "periods": rows(PeriodRollup, ["period", "start", "time_zone"]),
    }


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/New_York", "Asia/Kathmandu"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_writes_equal_a_full_recomputation(zone, seed):
    user = UserFactory(time_zone=zone)
    rng = random.Random(seed)
    start = datetime(2026, 2, 20, tzinfo=UTC)  # across a month boundary and several weeks
    for _ in range(60):
        code = rng.choice(["heart_rate", "weight", "blood_glucose"])
        # Out of order, with repeats of one instant: a latest type's value must follow
        # (recorded_at, id), not arrival.
        at = start + timedelta(minutes=rng.choice([rng.randrange(0, 20 * 24 * 60), 600]))
        value = rng.randint(50, 120)
        services.metric_create(user=user, metric_type=code, value=value, recorded_at=at)
    incremental = snapshot(user)
    rollups.recompute_all(user_id=user.pk)
    assert incremental == snapshot(user)


def test_a_writer_whose_user_object_has_an_old_zone_cuts_in_the_stored_zone():
    """The row's statement adds an averaged sample's rollups only in the zone the user object
    says when the stored one is the same; else they are added after it, in the stored zone."""
    user = UserFactory(time_zone="Asia/Kathmandu")
    stale = UserFactory.build(pk=user.pk, time_zone="America/New_York")
    stale._state.adding = False
    at = datetime(2026, 3, 1, 20, tzinfo=UTC)  # 2 March in Kathmandu, 1 March in New York
    for minutes, code in enumerate(["heart_rate", "blood_glucose", "heart_rate", "weight"]):
        services.metric_create(
            user=stale,
            metric_type=code,
            value=60 + minutes,
            recorded_at=at + timedelta(minutes=minutes),
        )
    written = snapshot(user)
    assert {key[1] for key in written["days"]} == {datetime(2026, 3, 2).date()}
    assert {key[3] for key in written["periods"]} == {"Asia/Kathmandu"}
    rollups.recompute_all(user_id=user.pk)
    assert written == snapshot(user)


def test_a_period_cut_in_another_zone_is_recut_by_the_next_write():
    user = UserFactory(time_zone="UTC")
    at = datetime(2026, 3, 2, 3, tzinfo=UTC)
    services.metric_create(user=user, metric_type="heart_rate", value=60, recorded_at=at)
    user.time_zone = "America/New_York"  # the recut task has not run yet
    user.save(update_fields=["time_zone"])
    services.metric_create(
        user=user, metric_type="heart_rate", value=80, recorded_at=at + timedelta(days=1)
    )
    written = snapshot(user)
    assert {key[3] for key in written["periods"]} == {"America/New_York"}
    rollups.recompute_all(user_id=user.pk)
    assert written == snapshot(user)


def test_periods_missing_for_older_days_are_rebuilt_by_the_next_write():
    user = UserFactory(time_zone="UTC")
    at = datetime(2026, 3, 2, 3, tzinfo=UTC)
    services.metric_create(user=user, metric_type="heart_rate", value=60, recorded_at=at)
    PeriodRollup.objects.filter(user=user).delete()  # rows written before the table existed
    services.metric_create(
        user=user, metric_type="heart_rate", value=80, recorded_at=at + timedelta(hours=1)
    )
    written = snapshot(user)
    rollups.recompute_all(user_id=user.pk)
    assert written == snapshot(user)


def test_a_new_reading_updates_its_rollups_without_reading_the_days_raw_rows():
    user = UserFactory(time_zone="Europe/Paris")
    at = datetime(2026, 3, 2, 3, tzinfo=UTC)
    services.metric_create(user=user, metric_type="heart_rate", value=60, recorded_at=at)
    with CaptureQueriesContext(connection) as queries:
        services.metric_create(
            user=user, metric_type="heart_rate", value=70, recorded_at=at + timedelta(minutes=5)
        )
    rollup_statements = [q["sql"] for q in queries if "rollup" in q["sql"].lower()]
    # Hour, day, week + month: three upserts; on PostgreSQL CTEs of the row's own statement
    # (an averaged type), which inserts the row but reads no other.
    assert len(rollup_statements) == (1 if connection.vendor == "postgresql" else 3)
    assert all(s.lstrip().upper().startswith(("INSERT", "WITH")) for s in rollup_statements)
    assert not any(
        "from metrics_healthmetric" in s.lower() or 'from "metrics_healthmetric"' in s.lower()
        for s in rollup_statements
    )
    assert DailyRollup.objects.get(user=user).value == pytest.approx(65)


def test_a_reading_is_written_in_a_fixed_number_of_statements():
    """The write path of POST /health-metrics inside its transaction (issue 15: 33 statements
    per POST before the change feed, the outbox rows and the rollups were batched). A type
    the recommendations read (a heart rate or glucose reading queues no recompute)."""
    user = UserFactory(time_zone="Europe/Paris")
    at = datetime(2026, 3, 2, 3, tzinfo=UTC)
    rhr = "resting_heart_rate"
    services.metric_create(user=user, metric_type=rhr, value=60, recorded_at=at)
    OutboxTask.objects.update(sent_at=at)  # as after the first write's commit
    with CaptureQueriesContext(connection) as queries:
        services.metric_create(
            user=user, metric_type=rhr, value=70, recorded_at=at + timedelta(minutes=5)
        )
    # Savepoints: the test runs inside a transaction (a request has BEGIN and COMMIT).
    statements = [
        q["sql"] for q in queries if q["sql"].split()[0].upper() not in ("SAVEPOINT", "RELEASE")
    ]
    # The row, its audit entry, the owner's zone, three rollup upserts, the change feed's
    # lock, append and advance, the webhooks and goals checks, the recommendations' outbox
    # row. On PostgreSQL the row, its audit entry, the advisory lock, the zone and (an
    # averaged type, the zone as the user object says) the rollup upserts, the change feed's
    # lock, append and advance and the webhooks and goals checks are one statement.
    # SQLite also sums the appended rows' spans (a feed row may name several ids): one more.
    expected = 2 if connection.vendor == "postgresql" else 13
    assert len(statements) == expected, "\n".join(s.strip()[:70] for s in statements)
