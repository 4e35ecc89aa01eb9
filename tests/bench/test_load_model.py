"""bench/load.py's cost model: each endpoint's costs alone carried over to the mix's state."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import load  # noqa: E402


def _alone(**app) -> dict:
    return {
        "cpu_ms_per_request": {"web": 3.0, "postgresql": 0.5, "redis": 0.1, "celery": 0.0},
        "queries_per_request": 1.0,
        "app_cpu_ms": 2.0,
        "app_cpu_ms_sql": None,
        "app_cpu_ms_no_sql": None,
        "app_cpu_ms_user_load": None,
        **app,
    }


def test_model_weights_user_loads_sql_and_cached_requests_by_the_mixs_shares():
    alone = _alone(app_cpu_ms_sql=2.0, app_cpu_ms_no_sql=1.0, app_cpu_ms_user_load=4.0)
    mix = {"sql_share": 0.5, "user_load_share": 0.2, "queries_per_request": 2.0}

    ms = load._adjusted(alone, mix)

    assert ms["app"] == pytest.approx(0.5 * 2.0 + 0.3 * 1.0 + 0.2 * 4.0)
    assert ms["web"] == pytest.approx(3.0 + ms["app"] - 2.0)
    assert ms["postgresql"] == pytest.approx(1.0)  # twice the statements per request


def test_model_costs_a_user_load_as_a_request_with_sql_when_none_loaded_alone():
    alone = _alone(app_cpu_ms_sql=2.0, app_cpu_ms_no_sql=1.0)
    mix = {"sql_share": 0.4, "user_load_share": 0.1, "queries_per_request": 1.0}

    assert load._adjusted(alone, mix)["app"] == pytest.approx(0.5 * 2.0 + 0.5 * 1.0)


def test_model_uses_the_user_loads_cost_when_every_request_alone_loaded_the_user():
    alone = _alone(app_cpu_ms=4.0, app_cpu_ms_user_load=4.0)
    mix = {"sql_share": 0.9, "user_load_share": 0.1, "queries_per_request": 1.0}

    assert load._adjusted(alone, mix)["app"] == pytest.approx(4.0)


def test_tasks_received_are_counted_by_name_from_the_offset_on(tmp_path):
    log = tmp_path / "celery.log"
    earlier = '{"message": "Task nutrition.announce_committed[a-1] received"}\n'
    log.write_text(
        earlier
        + '{"message": "Task nutrition.announce_committed[b-2] received"}\n'
        + '{"message": "Task nutrition.announce_committed[b-2] succeeded in 0.01s: None"}\n'
        + '{"message": "Task goals.recompute_goal_progress[c-3] received"}\n'
    )

    counts = load.celery_tasks(log, len(earlier.encode()))

    assert counts == {"nutrition.announce_committed": 1, "goals.recompute_goal_progress": 1}


def test_a_port_another_server_listens_on_is_refused_even_with_reuseport():
    import socket

    with socket.socket() as listener:
        # as granian's workers bind: the kernel would share the port with a second server
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        with pytest.raises(SystemExit, match=f"port {port} is in use"):
            load.claim_port(port)


def test_a_free_port_is_picked_when_none_is_given_and_a_free_one_is_kept():
    port = load.claim_port(None)

    assert load.claim_port(port) == port


def _celery_counts(*, answered, worker_cpu_s, received, run=None, cpu_s=None):
    run, cpu_s = run or {}, cpu_s or {}
    return {
        "answered": answered,
        "worker_cpu_s": worker_cpu_s,
        "tasks_cpu_s": sum(cpu_s.values()),
        "received": received,
        "run": run,
        "cpu_s": cpu_s,
    }


def test_celery_is_priced_per_task_alone_and_counted_per_task_in_the_mix():
    solo = {
        "summary": {"celery_counts": _celery_counts(answered=1000, worker_cpu_s=0.0, received=0)},
        "meal": {
            "celery_counts": _celery_counts(
                answered=100,
                worker_cpu_s=0.8,  # 0.5 s the tasks' own, 0.3 s Celery's for 100 received
                received=100,
                run={"nutrition.announce_committed": 100},
                cpu_s={"nutrition.announce_committed": 0.5},
            ),
            "celery_tasks_per_request": {"nutrition.announce_committed": 1.0},
        },
    }
    mix = {
        "endpoints": {"summary": {"requests": 900}, "meal": {"requests": 100}},
        "celery_tasks_per_request": {"nutrition.announce_committed": 0.1},
        # 2 ms a task in the mix: the model does not read the mix's costs
        "celery_counts": _celery_counts(
            answered=1000,
            worker_cpu_s=9.9,
            received=150,  # 50 more received than run: countdown tasks due after the run
            run={"nutrition.announce_committed": 100},
            cpu_s={"nutrition.announce_committed": 0.2},
        ),
    }

    celery = load.celery_by_task(mix, solo)

    # 0.1 runs x 5 ms + 0.15 received x 3 ms
    assert celery["predicted_ms_per_request"] == pytest.approx(0.1 * 5.0 + 0.15 * 3.0)
    assert celery["tasks"]["nutrition.announce_committed"]["cpu_ms_per_run_alone"] == 5.0
    assert celery["tasks"]["nutrition.announce_committed"]["cpu_ms_per_run_in_mix"] == 2.0
    assert celery["tasks_received_per_request_from_alone"] == {
        "nutrition.announce_committed": pytest.approx(0.1)
    }


def test_celery_by_task_is_left_out_without_the_workers_counters():
    mix = {"endpoints": {"meal": {"requests": 1}}, "celery_counts": None}

    assert load.celery_by_task(mix, {"meal": {}}) is None


def test_a_run_waits_for_its_countdown_tasks_but_not_the_debounced_ones():
    received = {"goals.recompute_goal_progress": 2, "insights.compute_recommendations": 1}
    runs = iter([{}, {"goals.recompute_goal_progress": {"run": 2.0}}])

    due = load.wait_for_countdown_tasks(lambda: received, lambda: next(runs), seconds=5)

    assert due == {}


def test_a_run_stops_waiting_for_its_countdown_tasks_after_the_longest_countdown():
    due = load.wait_for_countdown_tasks(
        lambda: {"goals.recompute_goal_progress": 3}, lambda: {}, seconds=0
    )

    assert due == {"goals.recompute_goal_progress": 3}


def test_the_app_cpu_comes_from_the_run_at_the_mix_pace_and_the_rest_from_the_run_alone():
    alone = _alone(app_cpu_ms=2.0, app_cpu_ms_sql=2.0, app_cpu_ms_no_sql=1.0)
    paced = {"app_cpu_ms": 3.0, "app_cpu_ms_sql": 3.5, "app_cpu_ms_no_sql": 1.5}
    mix = {"sql_share": 0.5, "user_load_share": 0.0, "queries_per_request": 1.0}

    ms = load._adjusted_paced(alone, paced, mix)

    assert ms["app"] == pytest.approx(0.5 * 3.5 + 0.5 * 1.5)
    # the web server's CPU outside the app (1 ms alone) is kept
    assert ms["web"] == pytest.approx(1.0 + ms["app"])
    assert ms["postgresql"] == pytest.approx(0.5)


def test_a_kinds_cpu_per_run_comes_from_the_runs_at_the_mix_pace_when_it_ran_there():
    meal = _celery_counts(
        answered=100,
        worker_cpu_s=0.8,
        received=100,
        run={"nutrition.announce_committed": 100},
        cpu_s={"nutrition.announce_committed": 0.5},
    )
    paced = _celery_counts(
        answered=10,
        worker_cpu_s=1.0,
        received=10,
        run={"nutrition.announce_committed": 10},
        cpu_s={"nutrition.announce_committed": 0.07},
    )
    mix = {
        "endpoints": {"meal": {"requests": 100}},
        "celery_counts": _celery_counts(
            answered=100,
            worker_cpu_s=1.0,
            received=10,
            run={"nutrition.announce_committed": 10},
            cpu_s={"nutrition.announce_committed": 0.05},
        ),
    }

    celery = load.celery_by_task(
        mix, {"meal": {"celery_counts": meal}}, {"meal": {"celery_counts": paced}}
    )

    assert celery["tasks"]["nutrition.announce_committed"]["cpu_ms_per_run_alone"] == 7.0
    # Celery's own CPU per task stays the runs' as fast as answered: 3 ms
    assert celery["predicted_ms_per_request"] == pytest.approx(0.1 * 7.0 + 0.1 * 3.0)


def test_a_cache_state_the_paced_run_did_not_meet_is_priced_as_fast_as_answered():
    alone = _alone(app_cpu_ms=1.5, app_cpu_ms_sql=2.0, app_cpu_ms_no_sql=1.0)
    paced = {"app_cpu_ms": 0.9, "app_cpu_ms_sql": None, "app_cpu_ms_no_sql": 0.9}
    mix = {"sql_share": 0.8, "user_load_share": 0.0, "queries_per_request": 1.0}

    ms = load._adjusted_paced(alone, paced, mix)

    assert ms["app"] == pytest.approx(0.8 * 2.0 + 0.2 * 0.9)
