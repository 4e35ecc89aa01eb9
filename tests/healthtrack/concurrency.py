"""Running calls at the same moment in threads of this process (PostgreSQL row locks and
advisory locks; SQLite serialises every write transaction anyway)."""

from __future__ import annotations

import threading

from celery._state import _set_task_join_will_block
from django.db import connection


def together(*calls) -> list[BaseException]:
    """Run each call in its own thread, all released at once by a barrier; return what they
    raised (an empty list when every call succeeded). Each thread closes its own database
    connection."""
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call):
        try:
            barrier.wait()
            call()
        except BaseException as exc:  # reported to the caller's test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        # Celery's eager `apply` saves and restores a process-wide "join would block" flag;
        # eager tasks in parallel threads can leave it set, which would break later tests.
        _set_task_join_will_block(False)
    return errors
