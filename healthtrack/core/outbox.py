"""Transactional outbox: follow-up Celery work that survives a broker outage.

    from healthtrack.core.outbox import enqueue_on_commit

    @transaction.atomic
    def measurements_write(...):
        ...  # the write
        enqueue_on_commit(
            "insights.tasks.refresh_recommendations",
            {"user_id": user.pk},
            dedupe_key=f"recommendations:{user.pk}",
        )

`enqueue_on_commit` writes an `OutboxTask` row inside the caller's transaction (so the write
and the trigger commit or roll back together) and, once the transaction commits, publishes
the task. When the broker is down the publish fails fast (no retries in the request), the row
stays pending with `attempts` and `last_error`, and the write still succeeds. Celery beat
runs `accounts.tasks.relay_outbox` every OUTBOX_RELAY_SECONDS (30), which publishes pending
rows oldest first.

Delivery is at least once (a crash between publish and marking sends it again), so tasks
must be idempotent - they are (they take ids and recompute). With a `dedupe_key` there is at
most one pending row per key: writes made before it is published share one task. A sender
holds the row locked while it publishes, and a writer joining a pending row locks it too, so
a task never starts before a write that joined it has committed (no lost trigger).

After a failed publish this process stops trying at commit time for BREAKER_SECONDS, so
writes during a broker outage do not each wait for a connection timeout; the relay (which
ignores the breaker) sends what piles up. In eager mode (embedded default, tests)
"publishing" runs the task in-process.

A fast path: `enqueue_on_commit(..., fast_path=fn)` runs `fn(row)` after commit instead of
publishing the row as it is (the insights app schedules a debounced run through Redis; an
alert check runs inline). `fn` returns True when it handed the work to the broker (the row is
then marked sent), COVERED when the work needs no message (done inline, or already scheduled:
the row is deleted, so a busy table does not grow by a row per write) and False to leave the
row to the relay; an exception counts as a failed publish. The row exists before commit
either way, so a process that dies between the commit and its after-commit callbacks loses
nothing: the relay publishes the row as it is.

The transaction that writes the row is the caller's, durable. The after-commit sends (marking a
row sent, deleting a covered one, and what a fast path writes with them) commit without
waiting for the WAL flush (`commit_without_waiting_for_disk`): lost in a crash, the row is
pending again and the work is redone, which at-least-once delivery allows.

One after-commit transaction per write: the rows a transaction enqueues are sent together by
one commit callback (`_Batch`): one statement claims them all, their fast paths (or
publishes) run with no savepoint per row, one statement deletes the covered rows and one
marks the sent ones. `in_after_commit_transaction(fn)` adds a hint written in that same
transaction (the insights data-changed marker). A database error in a fast path rolls the
batch back: every row is pending again for the relay. In eager mode each row is sent on
its own, as before. A row enqueued `alone` (goal progress) is sent in a transaction of its own
after the commit, taken by deleting it, its work done in that transaction (`_send_alone`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from prometheus_client import Counter

from healthtrack.core.models import OutboxTask

logger = logging.getLogger(__name__)

# After a failed publish, commit-time sends in this process wait this long before trying.
BREAKER_SECONDS = 30.0
_breaker_open_until = 0.0

OUTBOX_SENDS = Counter(
    "healthtrack_outbox_sends", "Outbox publish attempts by outcome.", ["outcome"]
)


#: What a fast path returns when its work needs no message: the row is deleted.
COVERED = "covered"
FastPath = Callable[[OutboxTask], bool | str]


def enqueue_on_commit(
    task_name: str,
    kwargs: dict | None = None,
    *,
    dedupe_key: str | None = None,
    fast_path: FastPath | None = None,
    alone: bool = False,
) -> OutboxTask:
    """Record `task_name(**kwargs)` in the caller's transaction; publish it after commit
    (or run `fast_path(row)`, see the module's docstring).

    `kwargs` must be JSON (ids, type codes, ISO dates) and never carry health values. With a
    `dedupe_key`, the key must name everything `kwargs` says (a write joining a pending row
    adds nothing to it). Returns the row (an already pending one when `dedupe_key` matches).

    `alone`: the row is sent in an after-commit transaction of its own (`_send_alone`), not
    in the write's shared one: for a fast path that does its work in that transaction and
    takes row locks other writers take in another order (the shared send holds every row it
    claimed until it commits, so such a fast path there could wait on a writer that waits
    on one of those rows)."""
    kwargs = dict(kwargs or {})
    # No savepoint: an error here fails the caller's write anyway.
    with transaction.atomic(savepoint=False):
        row = _pending_row(task_name, kwargs, dedupe_key)
    if alone:
        pk = row.pk
        transaction.on_commit(lambda: _send_alone(pk, fast_path), robust=True)
    else:
        _add_to_batch(row=(row.pk, fast_path))
    return row


def in_after_commit_transaction(fn: Callable[[], object]) -> None:
    """Run `fn` after the current transaction commits, inside the transaction that sends its
    outbox rows (one after-commit transaction per write, whose commit does not wait for the
    disk: `commit_without_waiting_for_disk`). For a hint whose loss in a crash is harmless
    (the insights data-changed marker). When `fn` raises, what the hooks wrote is rolled
    back and the rows are sent in a transaction of their own (`fn` should log its own
    failure). In autocommit, runs now."""
    _add_to_batch(hook=fn)


class _Batch:
    """What one transaction leaves for after its commit: its outbox rows (pk, fast path) and
    the hooks of `in_after_commit_transaction`, all sent by one commit callback."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, FastPath | None]] = []
        self.hooks: list[Callable[[], object]] = []
        self.flushed = False

    def flush(self) -> None:
        self.flushed = True
        _flush(self)


def _add_to_batch(*, row: tuple[int, FastPath | None] | None = None, hook=None) -> None:
    # The current batch is the one whose flush is among the connection's commit callbacks,
    # registered in this atomic block or an enclosing one: a rollback (of the transaction,
    # or of the savepoint that registered it) discards the callback, and a batch made in an
    # inner block that has ended is not joined; then a new batch starts. A row added in a
    # savepoint that rolled back while the batch lives on is claimed by id and is gone (or,
    # a joined row, is pending anyway): sending it is harmless.
    batch = getattr(connection, "_outbox_batch", None)
    fresh = batch is None or batch.flushed or not connection.in_atomic_block
    if not fresh:
        blocks = set(connection.savepoint_ids)
        fresh = not any(
            func == batch.flush and sids <= blocks for sids, func, _ in connection.run_on_commit
        )
    if fresh:
        batch = connection._outbox_batch = _Batch()
    if row is not None:
        batch.rows.append(row)
    if hook is not None:
        batch.hooks.append(hook)
    if fresh:  # in autocommit this runs it now
        transaction.on_commit(batch.flush, robust=True)


# A new pending row, or none when a pending row holds the key already (no error, so no
# savepoint around it): the usual case is one statement.
_INSERT_PENDING_SQL = """
INSERT INTO accounts_outboxtask
    (task_name, kwargs, dedupe_key, created_at, attempts, last_error, sent_at)
VALUES (%s, %s, %s, %s, 0, '', NULL)
ON CONFLICT (dedupe_key) WHERE sent_at IS NULL DO NOTHING
RETURNING id
"""


# A row without a dedupe key (an alert check: each write's own span), in plain SQL: the ORM's
# save cost more than the statement.
_INSERT_SQL = """
INSERT INTO accounts_outboxtask
    (task_name, kwargs, dedupe_key, created_at, attempts, last_error, sent_at)
VALUES (%s, %s, NULL, %s, 0, '', NULL)
RETURNING id
"""


def _pending_row(task_name: str, kwargs: dict, dedupe_key: str | None) -> OutboxTask:
    json_kwargs = OutboxTask._meta.get_field("kwargs").get_db_prep_save(kwargs, connection)
    if dedupe_key is None and not connection.features.can_return_columns_from_insert:
        return OutboxTask.objects.create(task_name=task_name, kwargs=kwargs)
    for _ in range(3):
        now = timezone.now()
        with connection.cursor() as cursor:
            at = connection.ops.adapt_datetimefield_value(now)
            if dedupe_key is None:
                cursor.execute(_INSERT_SQL, [task_name, json_kwargs, at])
            else:
                cursor.execute(_INSERT_PENDING_SQL, [task_name, json_kwargs, dedupe_key, at])
            created = cursor.fetchone()
        if created is not None:
            # Uncommitted, so locked until the caller commits, as a joined row is below.
            return OutboxTask(
                pk=created[0],
                task_name=task_name,
                kwargs=kwargs,
                dedupe_key=dedupe_key,
                created_at=now,
                attempts=0,
                last_error="",
            )
        # Locked until the caller commits: a sender waits, then publishes after this write.
        existing = (
            OutboxTask.objects.select_for_update().pending().filter(dedupe_key=dedupe_key).first()
        )
        if existing is not None:
            return existing
        # The pending row was sent between the two statements: make a new one.
    raise RuntimeError(f"could not enqueue {task_name} under its dedupe key")


def _error_text(exc: BaseException) -> str:
    # Broker errors ("Error 111 connecting to 127.0.0.1:6379") help; a task's own exception
    # (eager mode) could quote data, so only its type is kept.
    if _is_broker_error(exc):
        return f"{type(exc).__name__}: {exc}"[:300]
    return type(exc).__name__


SENT, FAILED, SKIPPED = "sent", "failed", "skipped"


def _breaker_is_open() -> bool:
    return time.monotonic() < _breaker_open_until


def _set_breaker(*, open_: bool) -> None:
    global _breaker_open_until
    _breaker_open_until = time.monotonic() + BREAKER_SECONDS if open_ else 0.0


def _publish(row: OutboxTask) -> None:
    app = current_app
    if app.conf.task_always_eager:
        if row.task_name not in app.tasks:
            app.loader.import_default_modules()  # the apps' `tasks` modules (autodiscovery)
        app.tasks[row.task_name].apply_async(kwargs=row.kwargs)
    else:
        app.send_task(row.task_name, kwargs=row.kwargs, retry=False, ignore_result=True)


def _record(pk: int, exc: BaseException | None, *, eager: bool = False) -> str:
    if not eager:
        _set_breaker(open_=exc is not None)
    if exc is None:
        OutboxTask.objects.filter(pk=pk).update(attempts=F("attempts") + 1, sent_at=timezone.now())
        OUTBOX_SENDS.labels(outcome=SENT).inc()
        return SENT
    OutboxTask.objects.filter(pk=pk).update(attempts=F("attempts") + 1, last_error=_error_text(exc))
    OUTBOX_SENDS.labels(outcome=FAILED).inc()
    logger.warning("outbox task left pending: %s", type(exc).__name__)
    return FAILED


def _unclaim(row: OutboxTask, exc: BaseException) -> str:
    """A claimed row whose task failed (eager) is pending again for the relay; when a later
    write already made a new pending row under the same key, that row carries the work."""
    try:
        with transaction.atomic():
            OutboxTask.objects.filter(pk=row.pk).update(sent_at=None)
    except IntegrityError:
        OutboxTask.objects.filter(pk=row.pk).delete()
        row = OutboxTask.objects.pending().get(dedupe_key=row.dedupe_key)
    return _record(row.pk, exc, eager=True)


def commit_without_waiting_for_disk() -> None:
    """For the current transaction only (PostgreSQL): its commit returns before its WAL is
    flushed. For after-commit bookkeeping whose loss in a crash repeats work rather than
    losing it: a send's marking a row sent or deleting a covered one (lost, the row is
    pending again and the relay publishes it: at least once, and tasks are idempotent), and
    what a fast path writes with it (lost together with that marking, so done again). The
    write that made the row was durable; this saves a disk flush per send in the request."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _is_broker_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) or type(exc).__module__.startswith(("kombu", "redis", "amqp"))


# Every write's fast path reads its row: plain SQL, the ORM's building of it cost more.
_PENDING_SQL = (
    "SELECT id, task_name, kwargs, dedupe_key, created_at, attempts, last_error, sent_at"
    " FROM accounts_outboxtask WHERE id = %s AND sent_at IS NULL"
)


# The claim also sets the transaction's commit to not wait for the disk (as
# `commit_without_waiting_for_disk`), saving that statement's round trip.
_CLAIM_SQL = (
    "SELECT id, task_name, kwargs, dedupe_key, created_at, attempts, last_error, sent_at,"
    " set_config('synchronous_commit', 'off', true)"
    " FROM accounts_outboxtask WHERE id = %s AND sent_at IS NULL FOR UPDATE SKIP LOCKED"
)


def _pending(pk: int, *, lock: bool) -> OutboxTask | None:
    """The row if still pending; with `lock`, claimed (FOR UPDATE), or None when another
    sender holds it (SKIP LOCKED). On PostgreSQL a claim also makes the transaction's commit
    return before its WAL flush (`commit_without_waiting_for_disk`)."""
    if lock and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL, [pk])
            found = cursor.fetchone()
        if found is None:
            return None
        kwargs = OutboxTask._meta.get_field("kwargs").from_db_value(found[2], None, connection)
        return OutboxTask(
            pk=found[0],
            task_name=found[1],
            kwargs=kwargs,
            dedupe_key=found[3],
            created_at=found[4],
            attempts=found[5],
            last_error=found[6],
            sent_at=found[7],
        )
    sql = _PENDING_SQL
    if lock and connection.features.has_select_for_update_skip_locked:
        sql += " FOR UPDATE SKIP LOCKED"
    return next(iter(OutboxTask.objects.raw(sql, [pk])), None)


def _run_fast_path(pk: int, fast_path: FastPath, *, eager: bool) -> str:
    # As in `_send`: eager, one process, no sender to race, and the work runs outside any
    # transaction of ours; else the row is claimed under its lock.
    row = _pending(pk, lock=not eager)
    if row is None:
        return SKIPPED  # the relay sent it, or holds it now
    try:
        if eager:
            done = fast_path(row)
        else:
            # A savepoint: a database error in `fast_path` must not break the transaction
            # that holds the row's lock (the failure is recorded in it).
            with transaction.atomic():
                done = fast_path(row)
    except Exception as exc:
        # Only a broker error says anything about the broker (the breaker).
        return _record(pk, exc, eager=eager or not _is_broker_error(exc))
    if done is COVERED:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM accounts_outboxtask WHERE id = %s", [pk])
        OUTBOX_SENDS.labels(outcome=COVERED).inc()
        return SENT
    if not done:
        OUTBOX_SENDS.labels(outcome="deferred").inc()
        return SKIPPED
    return _record(pk, None, eager=True)


def _send(pk: int, fast_path: FastPath | None = None) -> str:
    if fast_path is not None:
        if current_app.conf.task_always_eager:
            return _run_fast_path(pk, fast_path, eager=True)
        with transaction.atomic():  # the claim commits without waiting for the disk
            return _run_fast_path(pk, fast_path, eager=False)
    if current_app.conf.task_always_eager:
        # The task runs here and now, outside any transaction of ours: its own writes
        # commit or roll back as it decides. The row is claimed first, as a sender claims it
        # below: a writer that joined it and has not committed yet holds its lock, so this
        # send skips it and that writer's own send, after its commit, runs the task (which
        # then reads both writes). Threads of one process race like two processes do.
        with transaction.atomic():
            row = (
                OutboxTask.objects.select_for_update(skip_locked=True)
                .pending()
                .filter(pk=pk)
                .first()
            )
            if row is None:
                return SKIPPED
            OutboxTask.objects.filter(pk=pk).update(sent_at=timezone.now())
        try:
            _publish(row)
        except Exception as exc:  # a failing task goes back to pending, like a refused publish
            return _unclaim(row, exc)
        return _record(pk, None, eager=True)
    with transaction.atomic():
        commit_without_waiting_for_disk()
        # Held while publishing: a writer joining this row waits, so it commits either
        # before the publish (the task sees its data) or after it (it makes a new row).
        row = OutboxTask.objects.select_for_update(skip_locked=True).pending().filter(pk=pk).first()
        if row is None:
            return SKIPPED  # already sent, or another sender holds it
        try:
            _publish(row)
        except Exception as exc:  # broker down or refusing: the relay resends it
            return _record(pk, exc)
        return _record(pk, None)


class _HookFailed(Exception):
    pass


def _flush(batch: _Batch) -> None:
    """After a commit: the transaction's hooks and rows (see `_Batch`). Eager (embedded
    default, tests), each row is sent on its own, as `send` does, and each hook runs in its
    own transaction. Else one transaction: the hooks, one claim of all the rows, their fast
    paths (or publishes), one delete of the covered rows and one update of the sent ones,
    committed without waiting for the disk. Never raises (it runs after commit)."""
    rows = list(dict.fromkeys(pk for pk, _ in batch.rows))  # each row once (joined rows)
    fast_paths: dict[int, FastPath | None] = {}
    for pk, fast_path in batch.rows:
        fast_paths.setdefault(pk, fast_path)
    rows = [(pk, fast_paths[pk]) for pk in rows]
    if current_app.conf.task_always_eager:
        for hook in batch.hooks:
            try:
                with transaction.atomic():
                    hook()
            except Exception as exc:
                logger.error("outbox: after-commit hook failed: %s", type(exc).__name__)
        for pk, fast_path in rows:
            send(pk, fast_path=fast_path)
        return
    try:
        if batch.hooks:
            try:
                with transaction.atomic():
                    if not rows:  # else the claim sets it
                        commit_without_waiting_for_disk()
                    try:
                        for hook in batch.hooks:
                            hook()
                    except Exception as exc:
                        raise _HookFailed(type(exc).__name__) from exc
                    _send_batch(rows)
                return
            except _HookFailed as failed:  # rolled back: the rows go on their own
                logger.error("outbox: after-commit hook failed: %s", failed)
        if rows:
            with transaction.atomic():
                _send_batch(rows)
    except Exception:  # rolled back: every row is pending again, for the relay
        logger.exception("outbox send failed")


_CLAIM_MANY_SQL = (
    "SELECT id, task_name, kwargs, dedupe_key, created_at, attempts, last_error, sent_at,"
    " set_config('synchronous_commit', 'off', true)"
    " FROM accounts_outboxtask WHERE id = ANY(%s) AND sent_at IS NULL FOR UPDATE SKIP LOCKED"
)


def _claim_many(pks: list[int]) -> dict[int, OutboxTask]:
    """The rows still pending among `pks`, claimed (FOR UPDATE SKIP LOCKED: a row another
    sender holds is left to it). On PostgreSQL the claim also makes the transaction's commit
    return before its WAL flush (`commit_without_waiting_for_disk`)."""
    if connection.vendor != "postgresql":
        query = OutboxTask.objects.pending().filter(pk__in=pks)
        if connection.features.has_select_for_update_skip_locked:
            query = query.select_for_update(skip_locked=True)
        return {row.pk: row for row in query}
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_MANY_SQL, [pks])
        found = cursor.fetchall()
    kwargs_field = OutboxTask._meta.get_field("kwargs")
    return {
        r[0]: OutboxTask(
            pk=r[0],
            task_name=r[1],
            kwargs=kwargs_field.from_db_value(r[2], None, connection),
            dedupe_key=r[3],
            created_at=r[4],
            attempts=r[5],
            last_error=r[6],
            sent_at=r[7],
        )
        for r in found
    }


# Every write's send ends with one of these or both: plain SQL, the ORM's delete and update
# cost more than the statements.
_DELETE_MANY_SQL = "DELETE FROM accounts_outboxtask WHERE id = ANY(%s)"
_MARK_SENT_SQL = (
    "UPDATE accounts_outboxtask SET attempts = attempts + 1, sent_at = %s WHERE id = ANY(%s)"
)


def _send_batch(rows: list[tuple[int, FastPath | None]]) -> None:
    """In the caller's transaction: claim `rows`, run each fast path (or publish a plain
    row), then drop the covered rows and mark the sent ones, a statement each. No savepoint
    per row: a fast path that writes must keep its own failures to itself (the alert check
    runs in its own savepoint); a database error escaping one rolls the whole batch back,
    and the relay sends every row later."""
    if not rows:
        return
    claimed = _claim_many([pk for pk, _ in rows])
    covered: list[int] = []
    sent: list[int] = []
    for pk, fast_path in rows:
        row = claimed.get(pk)
        if row is None:
            continue  # the relay sent it, or holds it now
        if fast_path is None and _breaker_is_open():
            OUTBOX_SENDS.labels(outcome="deferred").inc()
            continue
        try:
            if fast_path is None:
                _publish(row)
                done = True
                _set_breaker(open_=False)
            else:
                done = fast_path(row)
        except DatabaseError:
            raise
        except Exception as exc:
            # Only a broker error says anything about the broker (the breaker).
            _record(pk, exc, eager=fast_path is not None and not _is_broker_error(exc))
            continue
        if done is COVERED:
            covered.append(pk)
        elif done:
            sent.append(pk)
        else:
            OUTBOX_SENDS.labels(outcome="deferred").inc()
    if covered:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(_DELETE_MANY_SQL, [covered])
        else:
            OutboxTask.objects.filter(pk__in=covered).delete()
        OUTBOX_SENDS.labels(outcome=COVERED).inc(len(covered))
    if sent:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(_MARK_SENT_SQL, [timezone.now(), sent])
        else:
            OutboxTask.objects.filter(pk__in=sent).update(
                attempts=F("attempts") + 1, sent_at=timezone.now()
            )
        OUTBOX_SENDS.labels(outcome=SENT).inc(len(sent))


def breaker_is_open() -> bool:
    """True for a while after a publish from this process failed (the broker is down): a
    fast path that needs the broker leaves its row to the relay."""
    return _breaker_is_open() and not current_app.conf.task_always_eager


# A row sent alone is claimed by deleting it: its work and its deletion commit together,
# and a rollback makes it pending again. The commit does not wait for the disk
# (`commit_without_waiting_for_disk`): lost in a crash, the row is back and the work redone.
_TAKE_SQL = (
    "DELETE FROM accounts_outboxtask WHERE id = %s AND sent_at IS NULL"
    " RETURNING id, task_name, kwargs, dedupe_key, created_at, attempts, last_error,"
    " set_config('synchronous_commit', 'off', true)"
)


class _Keep(Exception):
    pass


def _send_alone(pk: int, fast_path: FastPath) -> None:
    """After the commit that made row `pk`: one transaction that takes the row (deletes it)
    and runs `fast_path(row)` in it, which does the work there and returns COVERED; any
    other answer, or an exception, rolls it all back and the row stays pending for the relay
    (a failure is logged, never raised: it runs after commit). Three statements around the
    work (BEGIN, the take, COMMIT) against the shared send's claim, savepoint and delete.
    Eager mode and SQLite: `send`."""
    if current_app.conf.task_always_eager or connection.vendor != "postgresql":
        send(pk, fast_path=fast_path)
        return
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(_TAKE_SQL, [pk])
                found = cursor.fetchone()
            if found is None:
                return  # the relay sent it
            row = OutboxTask(
                pk=found[0],
                task_name=found[1],
                kwargs=OutboxTask._meta.get_field("kwargs").from_db_value(
                    found[2], None, connection
                ),
                dedupe_key=found[3],
                created_at=found[4],
                attempts=found[5],
                last_error=found[6],
            )
            if fast_path(row) is not COVERED:
                raise _Keep
        OUTBOX_SENDS.labels(outcome=COVERED).inc()
    except _Keep:
        OUTBOX_SENDS.labels(outcome="deferred").inc()
    except Exception as exc:
        OUTBOX_SENDS.labels(outcome=FAILED).inc()
        logger.warning("outbox task left pending: %s", type(exc).__name__)


def send(pk: int, *, fast_path: FastPath | None = None) -> bool:
    """Publish one pending row (or run its `fast_path`); True when done now. Never raises:
    it runs after commit, where an exception would turn a committed write into an error
    response. While the breaker is open it leaves a plain row to the relay without trying."""
    if fast_path is None and breaker_is_open():
        OUTBOX_SENDS.labels(outcome="deferred").inc()
        return False
    try:
        return _send(pk, fast_path) == SENT
    except Exception:
        logger.exception("outbox send failed")
        return False


def outbox_relay(*, batch: int = 500) -> dict[str, int]:
    """Publish pending rows, oldest first, stopping at the first failure (the broker is
    down: the rest would fail too). Returns {"sent": n, "pending": n}."""
    sent = 0
    for pk in OutboxTask.objects.pending().order_by("id").values_list("id", flat=True)[:batch]:
        try:
            outcome = _send(pk)
        except Exception:
            logger.exception("outbox relay failed")
            break
        if outcome == FAILED:
            break
        sent += outcome == SENT
    return {"sent": sent, "pending": OutboxTask.objects.pending().count()}


def outbox_prune(*, now=None) -> int:
    """Delete sent rows older than OUTBOX_RETENTION_DAYS; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.OUTBOX_RETENTION_DAYS)
    deleted, _ = OutboxTask.objects.filter(sent_at__lt=cutoff).delete()
    return deleted
