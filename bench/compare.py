"""Side-by-side comparison: HealthTrack as its Dockerfile runs it against a bare Django floor.

    python bench/compare.py            # `make bench-compare`: two interleaved sets, 20 s runs
    BENCH_COMPARE_DURATION=5 python bench/compare.py   # quicker, for iterating

1. A PostgreSQL cluster of its own in var/bench/compare-pg (initdb once, started on a free
   port, stopped at the end), durable as production must be: fsync, full_page_writes and
   synchronous_commit on (CI's shared cluster runs with them off). Redis: a redis-server of
   its own on a free port (bench/load.py's `start_redis`), so its CPU per request is this
   app's alone and no other benchmark's commands queue in front of its requests;
   BENCH_COMPARE_REDIS=shared uses REDIS_URL's server (default 127.0.0.1:6379), db
   BENCH_COMPARE_REDIS_DB (default 12), flushed first.
2. The dataset: bench/generate.py's patients (8 x 30 days) in database `ht_compare`.
3. The floor (bench/floor/: a bare Django 5.2 project, `startproject`'s default apps and
   middleware, one JSON view; gunicorn sync, 2 workers) and HealthTrack with the Dockerfile's
   own command line (`CMD`, bound to the loopback), `DJANGO_ENV=production`, keys from
   var/dev-keys.json, the per-IP API rate limits raised out of the way (the throttle still runs).
4. For each of two sets, every endpoint of the table in turn with `wrk -t1 -c8` (Debian's
   package; bench/compare.lua adds the Bearer token and POST bodies): a 3 s warm-up, then
   BENCH_COMPARE_DURATION (20) seconds measured. The floor runs first in each set; every
   endpoint's ratio is to the floor of its own set.
5. bench/results/compare.json: req/s, p50, p99, errors, CPU ms per request of the server's
   processes (and of PostgreSQL) per endpoint and set, the ratios, and the targets as ratios
   (floor taken as 5,300 req/s).
"""

from __future__ import annotations

import json
import os
import resource
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from common import RESULTS, ROOT, WORK, dockerfile_command, machine, stop

BIN = Path(sys.executable).parent
DURATION = int(os.environ.get("BENCH_COMPARE_DURATION", "20"))
WARMUP = int(os.environ.get("BENCH_COMPARE_WARMUP", "3"))
SETS = int(os.environ.get("BENCH_COMPARE_SETS", "2"))
CONNECTIONS = int(os.environ.get("BENCH_COMPARE_CONNECTIONS", "8"))
REDIS_DB = int(os.environ.get("BENCH_COMPARE_REDIS_DB", "12"))
REDIS = os.environ.get("BENCH_COMPARE_REDIS", "own")  # own | shared
ONLY = [x for x in os.environ.get("BENCH_COMPARE_ONLY", "").split(",") if x]
DATABASE = "ht_compare"
PATIENTS, DAYS = 8, 30
PG_DIR = WORK / "compare-pg"
LUA = ROOT / "bench" / "compare.lua"
FLOOR_RPS = 5300

# name: (target req/s, target p99 ms or None); the ratio target is req/s / FLOOR_RPS.
TARGETS = {
    "list_user": (1000, 40),
    "list_own": (1000, 40),
    "post_one_user": (250, None),
    "post_8_users": (500, None),
    "recommendations_cached": (2500, None),
    "summary_cached": (2500, None),
    "health": (0.9 * FLOOR_RPS, None),
}


def endpoints(patients: list[dict]) -> dict[str, dict]:
    """name -> how wrk calls it (path(s), token(s), method, body)."""
    one = patients[0]
    eight = patients[:8]
    return {
        "floor": {"server": "floor", "paths": ["/"]},
        "list_user": {"paths": [f"/api/v1/health-metrics/user/{one['id']}?limit=20"], "as": [one]},
        "list_own": {"paths": ["/api/v1/health-metrics?limit=20"], "as": [one]},
        "post_one_user": {
            "paths": ["/api/v1/health-metrics"],
            "as": [one],
            "method": "POST",
            "body": "reading",
        },
        "post_8_users": {
            "paths": ["/api/v1/health-metrics"],
            "as": eight,
            "method": "POST",
            "body": "reading",
        },
        "recommendations_cached": {
            "paths": [f"/api/v1/recommendations/{one['id']}"],
            "as": [one],
        },
        "summary_cached": {"paths": ["/api/v1/health-metrics/summary?days=30"], "as": [one]},
        "health": {"paths": ["/health"]},
    }


# --- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_binary(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        raise SystemExit(f"{name} not found: install PostgreSQL (.ci/services.sh does)")
    return str(found[-1])


class Postgres:
    """The bench's own durable cluster (initdb once in var/bench/compare-pg)."""

    SETTINGS = {
        "fsync": "on",
        "full_page_writes": "on",
        "synchronous_commit": "on",
        "shared_buffers": "512MB",
        "max_connections": "100",
        "jit": "off",
        "random_page_cost": "1.1",
        "max_wal_size": "4GB",
        "listen_addresses": "127.0.0.1",
    }

    def __init__(self) -> None:
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        self.data = PG_DIR / "data"
        if not (self.data / "PG_VERSION").exists():
            shutil.rmtree(PG_DIR, ignore_errors=True)
            PG_DIR.mkdir(parents=True)
            if self.as_root:
                shutil.chown(PG_DIR, "postgres", "postgres")
            self._run(pg_binary("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust")

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        subprocess.run([*prefix, *command], check=True, stdout=subprocess.DEVNULL, timeout=120)

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = f"-p {self.port} -k {PG_DIR} " + " ".join(
            f"-c {k}={v}" for k, v in self.SETTINGS.items()
        )
        self._run(
            pg_binary("pg_ctl"), "-D", str(self.data), "-l", str(PG_DIR / "server.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        self._run(pg_binary("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


def spawn(command: list[str], env: dict, cwd: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server for {url} exited (logs in {WORK})")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} not ready after {timeout:.0f} s")


def _proc_cpu(pid: int) -> tuple[float, list[int]]:
    tick = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = []
        for task in Path(f"/proc/{pid}/task").iterdir():
            children += (task / "children").read_text().split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0, []
    return (int(fields[11]) + int(fields[12])) / tick, [int(c) for c in children]


def cpu_seconds(root: int) -> dict[int, float]:
    """User+system CPU seconds of `root` and its descendants, per pid."""
    out: dict[int, float] = {}
    stack = [root]
    while stack:
        pid = stack.pop()
        if pid not in out:
            out[pid], children = _proc_cpu(pid)
            stack.extend(children)
    return out


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


# --- wrk ------------------------------------------------------------------------------------


def wrk(base: str, spec: dict, duration: int) -> dict:
    env = dict(
        os.environ,
        WRK_PATHS=",".join(spec["paths"]),
        WRK_TOKENS=",".join(p["token"] for p in spec.get("as", [])),
        WRK_METHOD=spec.get("method", "GET"),
        WRK_BODY=spec.get("body", ""),
    )
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration}s", "--timeout", "10s"]
    command += ["-s", str(LUA), base]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # wrk's own CPU (the kernel's accounting of the reaped child): the load generator shares
    # the cores, so the ratio to the floor also moves with what a response costs wrk to read
    wrk_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    line = next(x for x in reversed(out.splitlines()) if x.startswith("{"))
    raw = json.loads(line)
    seconds = raw["duration_us"] / 1e6
    errors = sum(raw[k] for k in ("connect", "read", "write", "status", "timeout"))
    return {
        "requests": raw["requests"],
        "wrk_cpu_s": round(wrk_cpu, 3),
        "req_per_s": round(raw["requests"] / seconds, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "errors": errors,
        **(
            {
                "error_kinds": {
                    k: raw[k] for k in ("connect", "read", "write", "status", "timeout") if raw[k]
                }
            }
            if errors
            else {}
        ),  # fmt: skip
    }


# --- main -----------------------------------------------------------------------------------


def setup(pg: Postgres, redis_url: str) -> tuple[list[dict], dict]:
    """The dataset and the patients' JWTs, minted with the keys the server gets."""
    from healthtrack import devkeys

    keys = devkeys.load_or_create(ROOT / "var" / "dev-keys.json")
    os.environ.update(keys)
    os.environ["DATABASE_URL"] = pg.url("postgres")
    os.environ["REDIS_URL"] = redis_url
    import generate
    from common import bench_patients, setup_django

    setup_django(DATABASE)
    generate.ensure(patients=PATIENTS, days=DAYS, force=True)  # same start each run
    return bench_patients(), keys


def server_envs(pg: Postgres, redis_url: str, keys: dict) -> tuple[dict, dict]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "BENCH_"))}
    for name in ("DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR"):
        base.pop(name, None)
    app = dict(
        base,
        **keys,
        DJANGO_ENV="production",
        DJANGO_SETTINGS_MODULE="healthtrack.settings",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        DATABASE_URL=pg.url(DATABASE),
        REDIS_URL=redis_url,
        # wrk is one client address and a few users: the per-IP and per-user limits are
        # raised out of its way (the throttles still run on every request); settings'
        # defaults are untouched.
        API_RATE_PER_IP="10000000/min",
        API_BURST_PER_IP="1000000/s",
        API_RATE_PER_USER="10000000/min",
        API_RATE_FRESH_RECOMMENDATIONS_PER_USER="10000000/min",
        PROMETHEUS_MULTIPROC_DIR=str(WORK / "compare-prometheus"),
        HEALTHTRACK_VAR_DIR=str(WORK / "compare-var"),
    )
    floor = dict(
        base,
        DJANGO_SETTINGS_MODULE="floor.settings",
        FLOOR_DATABASE_URL=pg.url(DATABASE),
        PYTHONPATH=str(ROOT / "bench"),
    )
    return app, floor


def main() -> dict:
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install wrk (Debian's package)")
    WORK.mkdir(parents=True, exist_ok=True)
    at_start = machine()  # the load average before this run added its own
    pg = Postgres()
    pg.start()
    app = floor = redis_server = None
    try:
        if REDIS == "shared":
            redis_base = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
            redis_url = redis_base.rsplit("/", 1)[0] + f"/{REDIS_DB}"
            subprocess.run(
                ["redis-cli", "-u", redis_url, "FLUSHDB"], check=True, stdout=subprocess.DEVNULL
            )
        else:
            from load import start_redis

            redis_server, redis_url = start_redis()
        patients, keys = setup(pg, redis_url)
        app_env, floor_env = server_envs(pg, redis_url, keys)
        shutil.rmtree(app_env["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
        Path(app_env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True)
        app_port, floor_port = free_port(), free_port()
        app = spawn(dockerfile_command(app_port), app_env, ROOT, WORK / "compare-app.log")
        floor_cmd = [str(BIN / "gunicorn"), "floor.wsgi", "-b", f"127.0.0.1:{floor_port}"]
        floor_cmd += ["--worker-class", "sync", "--workers", "2"]
        floor = spawn(floor_cmd, floor_env, ROOT / "bench", WORK / "compare-floor.log")
        wait_ready(f"http://127.0.0.1:{app_port}/health", app)
        wait_ready(f"http://127.0.0.1:{floor_port}/", floor)
        bases = {"app": f"http://127.0.0.1:{app_port}", "floor": f"http://127.0.0.1:{floor_port}"}
        roots = {"app": app.pid, "floor": floor.pid}
        table = endpoints(patients)
        if ONLY:
            table = {k: v for k, v in table.items() if k == "floor" or k in ONLY}
        print(f"== machine: {os.cpu_count()} cores, load {os.getloadavg()}", flush=True)
        sets = []
        for number in range(1, SETS + 1):
            results = {}
            for name, spec in table.items():
                server = spec.get("server", "app")
                wrk(bases[server], spec, WARMUP)
                cpu_before, pg_before = cpu_seconds(roots[server]), cpu_seconds(pg.postmaster_pid())
                redis_before = cpu_seconds(redis_server.pid) if redis_server else {}
                result = wrk(bases[server], spec, DURATION)
                cpu_after, pg_after = cpu_seconds(roots[server]), cpu_seconds(pg.postmaster_pid())
                redis_after = cpu_seconds(redis_server.pid) if redis_server else {}
                n = max(result["requests"], 1)
                result["cpu_ms_per_request"] = {
                    "web": round(cpu_delta(cpu_before, cpu_after) * 1000 / n, 2),
                    "postgresql": round(cpu_delta(pg_before, pg_after) * 1000 / n, 2),
                    "wrk": round(result.pop("wrk_cpu_s") * 1000 / n, 3),
                    # the bench's own redis-server (None: the shared one, everybody's CPU)
                    "redis": round(cpu_delta(redis_before, redis_after) * 1000 / n, 3)
                    if redis_server
                    else None,
                }
                # How evenly the workers shared the work (keep-alive connections stay with the
                # worker that accepted them): each worker's share of the server's CPU.
                used = sorted(
                    (after - cpu_before.get(pid, 0.0) for pid, after in cpu_after.items()),
                    reverse=True,
                )
                total = sum(used) or 1.0
                result["worker_cpu_shares"] = [
                    round(u / total, 2) for u in used if u / total > 0.02
                ]
                results[name] = result
            floor_rps = results["floor"]["req_per_s"]
            for result in results.values():
                result["ratio_to_floor"] = round(result["req_per_s"] / floor_rps, 3)
            sets.append(
                {"set": number, "load_average_after": os.getloadavg(), "endpoints": results}
            )
            print_set(number, results)
    finally:
        stop(app)
        stop(floor)
        stop(redis_server, timeout=10)
        pg.stop()
    out = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": at_start,
        "method": {
            "wrk": f"wrk -t1 -c{CONNECTIONS} -d{DURATION}s after a {WARMUP} s warm-up",
            "sets": SETS,
            "app": shlex.join(dockerfile_command(0)[1:]).replace("127.0.0.1:0", "127.0.0.1:PORT"),
            "floor": "bench/floor: bare Django 5.2, default middleware, gunicorn sync -w 2",
            "postgresql": Postgres.SETTINGS,
            "redis": "own server (no persistence)" if REDIS != "shared" else "REDIS_URL's server",
            "dataset": f"bench/generate.py, {PATIENTS} patients x {DAYS} days",
        },
        "targets": {
            name: {
                "req_per_s": round(rps),
                "ratio_to_floor": round(rps / FLOOR_RPS, 3),
                **({"p99_ms": p99} if p99 else {}),
            }
            for name, (rps, p99) in TARGETS.items()
        },
        "sets": sets,
    }
    out["verdict"] = verdict(out)
    if DURATION >= 20 and not ONLY:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "compare.json").write_text(json.dumps(out, indent=2) + "\n")
        write_readme(out)
    else:
        (WORK / "compare.json").write_text(json.dumps(out, indent=2) + "\n")
    return out


def verdict(out: dict) -> dict:
    """Per target row: met in every set (by the ratio to that set's floor, and p99)."""
    found = {}
    for name, target in out["targets"].items():
        rows = [s["endpoints"][name] for s in out["sets"] if name in s["endpoints"]]
        if not rows:
            continue
        found[name] = all(
            r["ratio_to_floor"] >= target["ratio_to_floor"]
            and r["errors"] == 0
            and r["p99_ms"] < target.get("p99_ms", float("inf"))
            for r in rows
        )
    return found


README = ROOT / "bench" / "README.md"
START, END = "<!-- compare:start -->", "<!-- compare:end -->"


def readme_table(out: dict) -> str:
    """The latest compare.json as the table bench/README.md shows."""
    m = out["machine"]
    lines = [
        f"**Side by side** (`make bench-compare`, {out['generated_at']}, {m['cpus']} cores, "
        f"{m['platform']}, load average at the start {m['loadavg_1_5_15']}; "
        f"{out['method']['wrk']}, "
        f"{out['method']['sets']} interleaved sets; ratio = req/s / the floor's req/s of the "
        "same set):",
        "",
        "| endpoint | "
        + " | ".join(f"set {s['set']} req/s (p50 / p99 ms)" for s in out["sets"])
        + " | ratio | target ratio | CPU ms/req | met |",
        "|---|" + "---:|" * (len(out["sets"]) + 4),
    ]
    for name in out["sets"][0]["endpoints"]:
        rows = [s["endpoints"][name] for s in out["sets"]]
        cells = [f"{r['req_per_s']:,.0f} ({r['p50_ms']} / {r['p99_ms']})" for r in rows]
        if any(r["errors"] for r in rows):
            cells = [c + f", {r['errors']} errors" for c, r in zip(cells, rows, strict=True)]
        ratios = "–".join(f"{r['ratio_to_floor']:.3f}" for r in rows)
        target = out["targets"].get(name)
        wanted = f"≥ {target['ratio_to_floor']:.3f}" if target else ""
        if target and "p99_ms" in target:
            wanted += f", p99 < {target['p99_ms']} ms"
        cpu = "–".join(f"{r['cpu_ms_per_request']['web']}" for r in rows)
        met = {True: "yes", False: "**no**"}.get(out["verdict"].get(name), "")
        lines.append(
            f"| {name} | " + " | ".join(cells) + f" | {ratios} | {wanted} | {cpu} | {met} |"
        )
    return "\n".join(lines)


def write_readme(out: dict) -> None:
    text = README.read_text()
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + START + "\n" + readme_table(out) + "\n" + END + rest.split(END, 1)[1]
        README.write_text(text)


def print_set(number: int, results: dict) -> None:
    print(f"\nset {number}")
    print(
        f"{'endpoint':<24}{'req/s':>9}{'p50':>8}{'p99':>8}{'err':>6}{'ratio':>7}{'cpu ms':>8}"
        f"{'wrk ms':>8}{'redis ms':>9}"
    )
    for name, r in results.items():
        cpu = r["cpu_ms_per_request"]
        print(
            f"{name:<24}{r['req_per_s']:>9}{r['p50_ms']:>8}{r['p99_ms']:>8}{r['errors']:>6}"
            f"{r['ratio_to_floor']:>7}{cpu['web']:>8}{cpu['wrk']:>8}"
            f"{'-' if cpu['redis'] is None else cpu['redis']:>9}  "
            f"{r['worker_cpu_shares']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
