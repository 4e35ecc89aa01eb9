"""With PROMETHEUS_MULTIPROC_DIR, /metrics on the web server (healthtrack/server.py) sums
every worker's values."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.healthtrack.servers import http, server_env, web_server

# The worker or server runs in another process, on the real clock.
pytestmark = pytest.mark.real_clock

TOKEN = "multiproc-scrape-token-42"
BATCH = 24
MAX_BATCHES = 20  # the kernel hands connections to either worker; more batches until both served


def test_metrics_sum_the_requests_of_every_web_server_worker(tmp_path):
    prom = tmp_path / "prom"
    env = server_env(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(prom), METRICS_TOKEN=TOKEN)
    with web_server(env, workers=2, log=tmp_path / "web.log") as server:

        def health_count() -> float:
            status, _, body = http(
                "GET", server.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            assert status == 200
            found = re.search(
                r'healthtrack_http_request_duration_seconds_count\{method="GET",'
                r'route="health",status="2xx"\} ([0-9.e+]+)',
                body.decode(),
            )
            return float(found.group(1)) if found else 0.0

        assert health_count() == 0
        sent = 0
        with ThreadPoolExecutor(max_workers=6) as pool:
            for _ in range(MAX_BATCHES):
                statuses = list(
                    pool.map(lambda _: http("GET", server.url + "/health")[0], range(BATCH))
                )
                assert statuses == [200] * BATCH
                sent += BATCH
                if len(worker_pids(prom)) == 2:
                    break
        assert health_count() == sent
        assert http("GET", server.url + "/metrics")[0] == 404  # no token, no session
    # Both workers answered requests (each wrote its own file) and the scrape summed them.
    assert len(worker_pids(prom)) == 2


def worker_pids(prom) -> set[str]:
    return {re.search(r"_(\d+)\.db$", f.name).group(1) for f in prom.glob("histogram_*.db")}
