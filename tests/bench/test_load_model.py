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
