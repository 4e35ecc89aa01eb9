"""healthtrack/server.py: the HTTP server as the Dockerfile runs it (granian, WSGI)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from healthtrack import server
from tests.healthtrack.servers import (
    ROOT,
    free_port,
    http,
    server_env,
    wait_until,
    web_server,
)

# The server runs in other processes, on the real clock.
pytestmark = pytest.mark.real_clock


def test_the_dockerfile_runs_the_server_module():
    cmd = next(
        line for line in (ROOT / "Dockerfile").read_text().splitlines() if line[:4] == "CMD "
    )
    command = json.loads(cmd[4:])
    assert command[:3] == ["python", "-m", "healthtrack.server"]
    args = server.parse_args(command[3:])
    assert args.bind == "0.0.0.0:8000"
    assert args.workers == 4
    assert args.timeout == 60


def test_the_server_keeps_no_connection_open_and_one_request_per_worker():
    built = server.build(server.parse_args(["-b", "127.0.0.1:0", "--workers", "2"]))
    assert built.http1_settings.keep_alive is False
    assert built.backpressure == 1
    assert built.blocking_threads == 1
    assert built.log_access is False  # the app writes one access line per request
    assert built.respawn_failed_workers is True
    assert built.workers_kill_timeout == 30


def test_a_start_empties_the_prometheus_directory(tmp_path, monkeypatch):
    (tmp_path / "counter_123.db").write_bytes(b"old")
    (tmp_path / "keep.txt").write_text("not a metric file")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    server.empty_prometheus_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_a_request_is_overdue_only_past_the_timeout():
    app = server.RequestTimeout(lambda environ, start_response: [b""], seconds=60)
    assert not app.overdue(time.monotonic())  # no request running
    app.started = {1: 100.0, 2: 150.0}  # two threads' requests
    assert not app.overdue(159.0)
    assert app.overdue(160.5)
    del app.started[1]
    assert not app.overdue(160.5)
    app({}, None)
    assert app.started == {2: 150.0}  # this thread's request finished and was forgotten


def test_the_process_environment_is_not_in_a_requests_environ(monkeypatch):
    monkeypatch.setenv("JWT_SIGNING_KEY", "not-for-request-meta")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid")  # a header's name: the scope's
    names = server.process_environment_names()
    assert "JWT_SIGNING_KEY" in names
    assert "HTTP_PROXY" not in names
    assert "SERVER_NAME" not in names
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return [b""]

    wrapped = server.RequestTimeout(app, seconds=60, drop=names)
    # granian's WSGI environ: the process environment, then the request's scope over it.
    environ = {**os.environ, "REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_HOST": "x"}
    wrapped(environ, None)
    assert "JWT_SIGNING_KEY" not in seen
    assert seen["REQUEST_METHOD"] == "GET"
    assert seen["HTTP_HOST"] == "x"


def test_a_request_past_the_timeout_ends_its_worker(tmp_path):
    script = textwrap.dedent(
        """
        import logging, sys, time
        logging.basicConfig(stream=sys.stdout, level=logging.INFO)
        from healthtrack.server import RequestTimeout

        def slow(environ, start_response):
            time.sleep(30)

        app = RequestTimeout(slow, seconds=0.5)
        app.watch(interval=0.1)
        app({}, None)
        print("not reached")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "request timeout" in done.stdout
    assert "not reached" not in done.stdout


def test_the_server_logs_json_replaces_a_dead_worker_and_stops_on_sigterm(tmp_path):
    env = server_env(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"))
    with web_server(env, workers=2, log=tmp_path / "web.log") as web:
        assert http("GET", web.url + "/health")[0] == 200
        workers = web.workers()
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        wait_until(lambda: len(web.workers()) == 2 and workers[0] not in web.workers(), timeout=30)
        wait_until(lambda: http("GET", web.url + "/health")[0] == 200, timeout=30)
        # A SIGTERM in the first milliseconds of a new worker waits out the graceful timeout
        # (its handlers are not set yet): let it settle, as a rolling deploy does.
        time.sleep(3)
        web.process.send_signal(signal.SIGTERM)
        assert web.process.wait(timeout=30) == 0
    lines = [json.loads(line) for line in web.log.read_text().splitlines() if line.strip()]
    messages = [line["message"] for line in lines if line["logger"].startswith("_granian")]
    assert any(m.startswith("Listening at: http://127.0.0.1:") for m in messages)
    assert any("Unexpected exit from worker-1" in m for m in messages)
    assert any(m.startswith("Respawning worker-1") for m in messages)
    assert messages[-1] == "Granian shutdown completed, see ya!"


# A server of two workers around a WSGI app whose /slow request runs until a file exists.
_HELD_SERVER = """
import os, sys, time
from healthtrack import server

port, started, release = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        open(started, "w").close()
        while not os.path.exists(release):
            time.sleep(0.01)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]

built = server.build(server.parse_args(["-b", f"127.0.0.1:{port}", "--workers", "2"]))
server._app = server.RequestTimeout(app, seconds=60)
built.serve(target_loader=server.load_application, wrap_loader=False)
"""


def test_a_busy_worker_takes_no_connection_while_another_is_free(tmp_path):
    """The workers share one accept queue: while one worker runs a long request, every new
    connection goes to the free one (with a listening socket per worker, SO_REUSEPORT, about
    half of them would wait in the busy worker's queue until its request ends)."""
    port = free_port()
    started, release = tmp_path / "started", tmp_path / "release"
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", _HELD_SERVER, str(port), str(started), str(release)],
        cwd=ROOT,
        env=server_env(tmp_path),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    slow: dict = {}
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/"), timeout=60)
        thread = threading.Thread(
            target=lambda: slow.update(status=http("GET", f"http://127.0.0.1:{port}/slow")[0])
        )
        thread.start()
        wait_until(started.exists, timeout=30)
        # Each on a new connection (no keep-alive); a request held behind /slow would never
        # be answered before `release` exists, and its timeout fails the test.
        for _ in range(16):
            assert http("GET", f"http://127.0.0.1:{port}/quick", timeout=20)[0] == 200
        assert slow == {}  # the long request was running all along
        release.touch()
        thread.join(timeout=30)
        assert slow == {"status": 200}
    finally:
        release.touch()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _answers(url: str) -> bool:
    try:
        return http("GET", url, timeout=2)[0] == 200
    except OSError:
        return False


_PRELOAD = """
import gc, sys
from django.db import connection
import healthtrack.wsgi  # what the main process loads first (Django set up)

connection.ensure_connection()
before = {name: name in sys.modules for name in ("insights.views", "metrics.api.views")}
from healthtrack import server
server.preload()
print(before, {name: name in sys.modules for name in before}, connection.connection is None,
      gc.get_freeze_count() > 0)
"""


def test_the_urlconf_and_views_are_loaded_before_the_fork_with_no_connection_left_open(tmp_path):
    """`preload` (run by `main` before the workers are forked) imports what a worker's first
    request would import, closes the database connection the workers must not share, and
    freezes the loaded objects out of the collector's generations."""
    done = subprocess.run(
        [sys.executable, "-c", _PRELOAD],
        cwd=ROOT,
        env=server_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = done.stdout.strip().rsplit("\n", 1)[-1]
    assert line == (
        "{'insights.views': False, 'metrics.api.views': False} "
        "{'insights.views': True, 'metrics.api.views': True} True True"
    )
