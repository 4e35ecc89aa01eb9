"""bench/load.lua under wrk against a small local server: several connections per wrk thread,
each answer matched to its own request by the X-Request-ID the server echoes, the bodies as
the mix writes them, the connections paced."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import load  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")

PATHS = {"recommendations": "/api/v1/recommendations/{id}", "goals": "/api/v1/health-goals"}


class Echo(BaseHTTPRequestHandler):
    """Answers every request 200 (a POST 201) with its X-Request-ID, as the app does; a GET of
    the summary sleeps a little, so answers come back in another order than asked."""

    protocol_version = "HTTP/1.1"
    seen: list[dict] = []

    def _answer(self, status: int) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen.append(
            {
                "method": self.command,
                "path": self.path,
                "id": self.headers.get("X-Request-ID"),
                "key": self.headers.get("Idempotency-Key"),
                "body": body,
            }
        )
        if self.path.endswith("/summary"):
            threading.Event().wait(0.02)
        payload = b"{}"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Request-ID", self.headers.get("X-Request-ID", "none"))
        self.send_header("X-Bench-Queries", "1")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):  # noqa: N802 - http.server's name
        self._answer(200)

    def do_POST(self):  # noqa: N802
        self._answer(201)

    def log_message(self, *args):
        pass


class EchoServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # wrk closes its connections when its time is up, mid-answer: not a failure.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _run(tmp_path: Path, *, connections: int, threads: int, rate: float, seconds: int):
    Echo.seen = []
    server = EchoServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    users = tmp_path / "users.tsv"
    users.write_text("".join(f"{i} {100 + i} token{i}\n" for i in range(1, 21)))
    mix = tmp_path / "mix.txt"
    mix.write_text(load.mix_lines(load.mix_weights(load.KINDS["design"], PATHS), PATHS))
    env = dict(
        os.environ,
        LOAD_USERS=str(users),
        LOAD_MIX=str(mix),
        LOAD_RATE=str(rate),
        LOAD_OUT=str(tmp_path / "thread"),
    )
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", str(load.LUA)]
    try:
        done = subprocess.run(
            [*command, f"http://127.0.0.1:{server.server_port}"],
            env=env,
            capture_output=True,
            timeout=seconds + 30,
            check=True,
        )
    finally:
        server.shutdown()
        server.server_close()
    lines = [
        line.split("\t")
        for path in sorted(tmp_path.glob("thread.*.tsv"))
        for line in path.read_text().splitlines()
    ]
    return lines, list(Echo.seen), done.stdout.decode()


def test_every_answer_is_matched_to_its_own_request_with_several_connections_a_thread(tmp_path):
    lines, seen, _ = _run(tmp_path, connections=8, threads=2, rate=0, seconds=2)

    names = {name for name, *_ in lines}
    assert names <= set(load.mix_weights(load.KINDS["design"], PATHS))
    assert len(lines) >= 20
    ids = [request["id"] for request in seen]
    assert len(set(ids)) == len(ids)  # every request its own id
    # the recorded endpoint is the one the request went to (written before its answer)
    answered = [line for line in lines if line[0] == "summary"]
    assert answered
    assert all(int(line[3]) >= 20_000 for line in answered)  # its latency: the 20 ms sleep


def test_bodies_keep_their_shape_and_every_sync_its_own_key_and_external_ids(tmp_path):
    _, seen, _ = _run(tmp_path, connections=8, threads=2, rate=0, seconds=2)

    syncs = [request for request in seen if request["path"].endswith("/sync")]
    assert syncs
    keys = [request["key"] for request in syncs]
    assert len(set(keys)) == len(keys)
    external = []
    for request in syncs:
        samples = json.loads(request["body"])["samples"]
        assert 60 <= len(samples) <= 1440
        times = [sample["recorded_at"] for sample in samples]
        assert times == sorted(times)
        assert all(len(t) == 20 and t.endswith(":00Z") and t[10] == "T" for t in times)
        external += [sample["external_id"] for sample in samples]
        assert samples[0]["external_id"] == f"{request['key']}-0"
    assert len(set(external)) == len(external)
    posted = [r for r in seen if r["method"] == "POST"]
    readings = [json.loads(r["body"]) for r in posted if r["path"] == "/api/v1/health-metrics"]
    assert readings
    assert all(set(r) == {"metric_type", "value", "recorded_at"} for r in readings)


def test_connections_sharing_a_thread_are_paced_each_at_the_rate(tmp_path):
    # 6 connections at 2 requests a second over 3 s: at most their first request plus 2 a
    # second each; as fast as answered the local server would take hundreds
    lines, _, _ = _run(tmp_path, connections=6, threads=2, rate=2, seconds=3)

    assert 6 <= len(lines) <= 6 * (1 + 2 * 3)
