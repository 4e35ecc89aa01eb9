"""The transactional outbox (healthtrack.core.outbox): the trigger commits with the write, is sent
after commit, stays pending when publishing fails, and the relay sends it later.
(The same against a real broker that goes down: tests/healthtrack/test_degraded_services.py.)"""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from kombu.exceptions import OperationalError

from healthtrack.celery import app as celery_app
from healthtrack.core import outbox
from healthtrack.core.models import OutboxTask
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

ran: list[dict] = []


@celery_app.task(name="tests.outbox.record")
def record(**kwargs) -> None:
    ran.append(kwargs)


@celery_app.task(name="tests.outbox.explode")
def explode(**kwargs) -> None:
    raise ValueError("weight 81.5 kg is not allowed")  # a message that must not be stored


@pytest.fixture(autouse=True)
def _clean_runs():
    ran.clear()
    outbox._set_breaker(open_=False)
    yield
    outbox._set_breaker(open_=False)


def broker_down():
    return mock.patch.object(
        outbox, "_publish", side_effect=OperationalError("Error 111 connecting to 127.0.0.1:1")
    )


def test_the_task_is_sent_after_the_write_commits(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        user = UserFactory()
        row = outbox.enqueue_on_commit("tests.outbox.record", {"user_id": user.pk})
        assert ran == []  # nothing runs before the commit
    assert ran == [{"user_id": user.pk}]
    row.refresh_from_db()
    assert row.sent_at is not None and row.attempts == 1


def test_a_rolled_back_write_takes_its_task_with_it(django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        UserFactory()
        outbox.enqueue_on_commit("tests.outbox.record", {"user_id": 1})
        raise RuntimeError("the write failed")
    assert OutboxTask.objects.count() == 0
    assert ran == []


def test_writes_before_the_send_share_one_task_per_dedupe_key(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        first = outbox.enqueue_on_commit("tests.outbox.record", {"u": 1}, dedupe_key="r:1")
        again = outbox.enqueue_on_commit("tests.outbox.record", {"u": 1}, dedupe_key="r:1")
        other = outbox.enqueue_on_commit("tests.outbox.record", {"u": 2}, dedupe_key="r:2")
    assert first.pk == again.pk != other.pk
    assert sorted(r["u"] for r in ran) == [1, 2]
    # Once sent, the same key starts a new row (a later write needs a later run).
    with django_capture_on_commit_callbacks(execute=True):
        later = outbox.enqueue_on_commit("tests.outbox.record", {"u": 1}, dedupe_key="r:1")
    assert later.pk != first.pk
    assert len(ran) == 3


def test_a_broker_outage_keeps_the_write_and_leaves_the_task_pending(
    django_capture_on_commit_callbacks,
):
    with broker_down(), django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        user = UserFactory()
        row = outbox.enqueue_on_commit("tests.outbox.record", {"user_id": user.pk})
    row.refresh_from_db()
    assert row.sent_at is None and row.attempts == 1
    assert row.last_error == "OperationalError: Error 111 connecting to 127.0.0.1:1"
    assert ran == []
    # The broker is back: the relay sends it.
    assert outbox.outbox_relay() == {"sent": 1, "pending": 0}
    assert ran == [{"user_id": user.pk}]
    row.refresh_from_db()
    assert row.sent_at is not None and row.attempts == 2


def test_after_a_refused_publish_commit_time_sends_wait_for_the_relay(
    django_capture_on_commit_callbacks,
):
    celery_app.conf.task_always_eager = False  # a real broker's path (conftest resets it)

    def write(n: int) -> OutboxTask:
        with django_capture_on_commit_callbacks(execute=True):
            return outbox.enqueue_on_commit("tests.outbox.record", {"n": n})

    refused = OperationalError("Connection refused")
    with mock.patch.object(outbox, "_publish", side_effect=refused) as publish:
        write(1)
        write(2)
        assert publish.call_count == 1  # the second write did not wait on the broker
    assert [r.attempts for r in OutboxTask.objects.order_by("id")] == [1, 0]
    with mock.patch.object(outbox, "_publish") as publish:
        write(3)
        assert publish.call_count == 0  # still resting
        # The relay ignores the breaker; its success closes it.
        assert outbox.outbox_relay() == {"sent": 3, "pending": 0}
        write(4)
        assert publish.call_count == 4
    assert OutboxTask.objects.pending().count() == 0


def test_the_relay_sends_oldest_first_and_stops_at_the_first_failure():
    rows = [
        OutboxTask.objects.create(task_name="tests.outbox.record", kwargs={"n": n})
        for n in range(3)
    ]
    with broker_down():
        assert outbox.outbox_relay() == {"sent": 0, "pending": 3}
    assert [r.attempts for r in OutboxTask.objects.order_by("id")] == [1, 0, 0]
    assert outbox.outbox_relay() == {"sent": 3, "pending": 0}
    assert [r["n"] for r in ran] == [0, 1, 2]
    assert all(OutboxTask.objects.get(pk=r.pk).sent_at for r in rows)


def test_a_failing_task_stays_pending_with_only_its_error_type(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        row = outbox.enqueue_on_commit("tests.outbox.explode", {"user_id": 1})
    row.refresh_from_db()
    assert row.sent_at is None
    assert row.last_error == "ValueError"


def test_prune_deletes_only_old_sent_rows(settings):
    settings.OUTBOX_RETENTION_DAYS = 7
    now = timezone.now()
    old = OutboxTask.objects.create(task_name="t", sent_at=now - timedelta(days=8))
    recent = OutboxTask.objects.create(task_name="t", sent_at=now - timedelta(days=6))
    pending = OutboxTask.objects.create(task_name="t", created_at=now - timedelta(days=30))
    assert outbox.outbox_prune() == 1
    assert set(OutboxTask.objects.values_list("pk", flat=True)) == {recent.pk, pending.pk}
    assert not OutboxTask.objects.filter(pk=old.pk).exists()


def test_beat_relays_twice_a_minute_and_prunes_daily(settings):
    # Twice a minute: writes made during an outage are followed up within a minute of it.
    schedule = {e["task"]: e["schedule"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["accounts.tasks.relay_outbox"] == 30.0
    assert schedule["accounts.tasks.prune_outbox"] == 86400.0
    assert celery_app.amqp.router.route({}, "accounts.tasks.prune_outbox")["queue"].name == (
        "maintenance"
    )


def test_the_relay_task_runs_the_relay():
    from healthtrack.core.tasks import relay_outbox

    OutboxTask.objects.create(task_name="tests.outbox.record", kwargs={"n": 9})
    assert relay_outbox.delay().get() == {"sent": 1, "pending": 0}
    assert ran == [{"n": 9}]


@pytest.mark.parametrize(
    "outcome, left",
    [
        (True, "sent"),  # handed to the broker: marked sent
        (outbox.COVERED, "gone"),  # nothing to publish: the row is dropped
        (False, "pending"),  # left to the relay
        (OperationalError("Error 111 connecting"), "pending"),  # a failed publish
    ],
)
def test_a_fast_path_decides_what_becomes_of_its_row(
    outcome, left, django_capture_on_commit_callbacks
):
    seen = []

    def fast_path(row):
        seen.append(row.kwargs)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        row = outbox.enqueue_on_commit("tests.outbox.record", {"u": 1}, fast_path=fast_path)
    assert OutboxTask.objects.pending().filter(pk=row.pk).exists()  # before the commit
    for callback in callbacks:
        callback()
    assert seen == [{"u": 1}] and ran == []  # the fast path ran instead of a publish
    stored = OutboxTask.objects.filter(pk=row.pk).first()
    state = "gone" if stored is None else ("sent" if stored.sent_at else "pending")
    assert state == left
    if left == "pending":
        assert outbox.outbox_relay() == {"sent": 1, "pending": 0}  # the relay publishes it
        assert ran == [{"u": 1}]


@pytest.mark.parametrize(
    "outcome, left", [(True, "sent"), (outbox.COVERED, "gone"), (False, "pending")]
)
def test_a_fast_path_with_a_real_broker_gets_its_claimed_row_as_written(
    outcome, left, django_capture_on_commit_callbacks
):
    celery_app.conf.task_always_eager = False  # a sender claims the row (conftest resets it)
    seen = []

    def fast_path(row):
        seen.append((row.task_name, row.kwargs, row.dedupe_key, row.attempts))
        assert row.created_at.tzinfo is not None and row.sent_at is None
        return outcome

    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        row = outbox.enqueue_on_commit(
            "tests.outbox.record",
            {"u": 1, "day": "2026-03-02"},
            dedupe_key="t:1",
            fast_path=fast_path,
        )
    for callback in callbacks:
        callback()
    assert seen == [("tests.outbox.record", {"u": 1, "day": "2026-03-02"}, "t:1", 0)]
    stored = OutboxTask.objects.filter(pk=row.pk).first()
    state = "gone" if stored is None else ("sent" if stored.sent_at else "pending")
    assert state == left


def _state(pk: int) -> str:
    stored = OutboxTask.objects.filter(pk=pk).first()
    return "gone" if stored is None else ("sent" if stored.sent_at else "pending")


def test_a_writes_rows_and_hooks_are_sent_in_one_after_commit_transaction(
    django_capture_on_commit_callbacks,
):
    celery_app.conf.task_always_eager = False  # a sender claims the rows (conftest resets it)
    hooked = []
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        plain = outbox.enqueue_on_commit("tests.outbox.record", {"n": 1})
        covered = outbox.enqueue_on_commit(
            "tests.outbox.record", {"n": 2}, fast_path=lambda row: outbox.COVERED
        )
        handed = outbox.enqueue_on_commit(
            "tests.outbox.record", {"n": 3}, dedupe_key="k:3", fast_path=lambda row: True
        )
        joined = outbox.enqueue_on_commit(
            "tests.outbox.record", {"n": 3}, dedupe_key="k:3", fast_path=lambda row: True
        )
        deferred = outbox.enqueue_on_commit(
            "tests.outbox.record", {"n": 4}, fast_path=lambda row: False
        )
        outbox.in_after_commit_transaction(lambda: hooked.append(transaction.get_autocommit()))
    assert joined.pk == handed.pk
    assert len(callbacks) == 1  # one commit callback for the whole write
    with (
        mock.patch.object(outbox, "_publish") as publish,
        CaptureQueriesContext(connection) as queries,
    ):
        callbacks[0]()
    assert hooked == [False]  # the hook ran inside the after-commit transaction
    assert publish.call_count == 1 and publish.call_args.args[0].pk == plain.pk
    assert [_state(r.pk) for r in (plain, covered, handed, deferred)] == [
        "sent",
        "gone",
        "sent",
        "pending",
    ]
    sql = [q["sql"] for q in queries.captured_queries]
    claims = [q for q in sql if q.startswith("SELECT") and "accounts_outboxtask" in q]
    assert len(claims) == 1  # every row claimed by one statement
    # No savepoint per row (in a test the after-commit transaction itself is a savepoint).
    assert len([q for q in sql if q.startswith("SAVEPOINT")]) <= 1


def test_a_failing_hook_is_rolled_back_and_the_rows_are_still_sent(
    django_capture_on_commit_callbacks,
):
    celery_app.conf.task_always_eager = False

    def failing_hook():
        UserFactory(username="written-by-the-hook")
        raise ValueError("weight 81.5 kg")

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        row = outbox.enqueue_on_commit(
            "tests.outbox.record", {"n": 1}, fast_path=lambda row: outbox.COVERED
        )
        outbox.in_after_commit_transaction(failing_hook)
    assert _state(row.pk) == "gone"
    assert not get_user_model().objects.filter(username="written-by-the-hook").exists()


def test_a_database_error_in_a_fast_path_leaves_every_row_of_the_write_to_the_relay(
    django_capture_on_commit_callbacks,
):
    celery_app.conf.task_always_eager = False

    def broken(row):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        first = outbox.enqueue_on_commit(
            "tests.outbox.record", {"n": 1}, fast_path=lambda row: outbox.COVERED
        )
        second = outbox.enqueue_on_commit("tests.outbox.record", {"n": 2}, fast_path=broken)
    assert [_state(first.pk), _state(second.pk)] == ["pending", "pending"]
    assert outbox.outbox_relay() == {"sent": 2, "pending": 0}


@pytest.mark.django_db(transaction=True)
def test_a_write_in_autocommit_sends_its_row_at_once():
    celery_app.conf.task_always_eager = False
    seen = []
    row = outbox.enqueue_on_commit(
        "tests.outbox.record", {"n": 1}, fast_path=lambda row: seen.append(row.pk) or True
    )
    assert seen == [row.pk] and _state(row.pk) == "sent"
