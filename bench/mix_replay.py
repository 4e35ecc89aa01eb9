"""Why a request costs more in the load mix than the same endpoint alone (issue 15): the mix
replayed in-process over many patients, each request's CPU time by the state it finds.

Not a test and not part of `make bench` (bench/run.sh runs `bench_*.py`); prints a table.
`bench/bench_request_cpu.py` times every endpoint over 10 patients with warm caches, request
after request of one endpoint; `bench/load.py` plays the mix over 1,000 patients from a cold
cache, where an endpoint costs 15-30 % more app CPU. This replays bench/load.py's MIX (the
same requests as bench_request_cpu.py's `Caller`, production settings, PostgreSQL and Redis)
and files every request's CPU (`time.process_time`) and SQL statements under the state it met:

- `user_first`: the patient's first request (the JWT user cache entry is read from the
  database, the rate-limit windows are new);
- `user_reload`: a later request that read the user row again (the entry expired:
  `AUTH_USER_CACHE_SECONDS`), told by its statements;
- `ep_first`: the patient's first request of this endpoint;
- `after_write`: the patient wrote since their last request of this endpoint (their cached
  reads were dropped);
- `repeat`: none of those.

Then, everything warm, each read endpoint once more interleaved as in the mix (`MIXWARM`: the
reads only, no writes) and alone, request after request (`ALONE`), over the same patients: the
two differ only in what ran just before in the same process.

    BENCH_CPU_DB=ht_load_hmix BENCH_CPU_REDIS_DB=13 python bench/mix_replay.py \\
        [--requests 2500] [--patients 300]

The database needs bench/generate.py's dataset for at least `--patients` patients (bench/load.py
--patients N --database NAME makes one); Redis db BENCH_CPU_REDIS_DB is flushed first.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_request_cpu as cpu  # noqa: E402
from common import bench_patients  # noqa: E402

STATES = ("user_first", "user_reload", "ep_first", "after_write", "repeat")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2500, help="requests in the replay")
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--alone", type=int, default=150, help="requests per endpoint alone")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    cpu.configure()
    log = open(cpu.WORK / "mix_replay.log", "w")  # noqa: SIM115 - the access log, as the web server's
    saved_stderr = os.dup(2)
    os.dup2(log.fileno(), 2)
    try:
        import django

        django.setup()
        import redis
        from django.core.wsgi import get_wsgi_application
        from django.db import connection
        from load import optional_paths

        redis.from_url(os.environ["REDIS_URL"]).flushdb()
        app = get_wsgi_application()
        paths = optional_paths()
        callers = [cpu.Caller(app, p, paths) for p in bench_patients()[: args.patients + 1]]
        names = [n for n in cpu.MIX if n in paths or n not in ("recommendations", "goals")]
        weights = [cpu.MIX[n] for n in names]
        for name in names:  # the process warmed (imports, URL conf) by a patient not used after
            if name != "sync":
                getattr(callers[-1], name)()
        callers = callers[:-1]
        rng = random.Random(args.seed)

        statements: list[str] = []

        def count(execute, sql, params, many, context):
            statements.append(sql)
            return execute(sql, params, many, context)

        seen_user: set[int] = set()
        seen: set[tuple[int, str]] = set()
        dirty: dict[int, set[str]] = collections.defaultdict(set)
        rows = []
        for _ in range(args.requests):
            caller, name = rng.choice(callers), rng.choices(names, weights)[0]
            uid = caller.patient["id"]
            statements.clear()
            with connection.execute_wrapper(count):
                ms = cpu._call(caller, name)[0]
            reloaded = any('FROM "accounts_revokedtoken"' in sql for sql in statements)
            state = (
                "user_first"
                if uid not in seen_user
                else "user_reload"
                if reloaded
                else "ep_first"
                if (uid, name) not in seen
                else "after_write"
                if name in dirty[uid]
                else "repeat"
            )
            rows.append((name, state, ms, len(statements)))
            seen_user.add(uid)
            seen.add((uid, name))
            if name in cpu.WRITES:
                dirty[uid] = set(names)
            else:
                dirty[uid].discard(name)
        reads = [n for n in names if n not in cpu.WRITES]
        mixwarm = collections.defaultdict(list)
        for _ in range(args.alone * len(reads) // 2):
            name = rng.choices(reads, [cpu.MIX[n] for n in reads])[0]
            mixwarm[name].append(cpu._call(rng.choice(callers), name)[0])
        alone = {
            n: [cpu._call(rng.choice(callers), n)[0] for _ in range(args.alone)] for n in reads
        }
    finally:
        os.dup2(saved_stderr, 2)
        log.close()

    by = collections.defaultdict(list)
    for name, state, ms, queries in rows:
        by[name, state].append((ms, queries))
        by[name, "mix (all)"].append((ms, queries))
    out: dict = {}
    print(f"{'endpoint':<18}{'state':<12}{'n':>6}{'cpu ms mean':>13}{'median':>8}{'sql':>6}")
    for name in names:
        out[name] = {}
        for state in ("mix (all)", *STATES):
            values = by.get((name, state))
            if values:
                ms = [v[0] for v in values]
                q = statistics.fmean(v[1] for v in values)
                out[name][state] = {"n": len(ms), "mean": statistics.fmean(ms), "sql": q}
                print(
                    f"{name:<18}{state:<12}{len(ms):>6}{statistics.fmean(ms):>13.2f}"
                    f"{statistics.median(ms):>8.2f}{q:>6.2f}"
                )
        for label, values in (("MIXWARM", mixwarm.get(name)), ("ALONE", alone.get(name))):
            if values:
                out[name][label] = {"n": len(values), "mean": statistics.fmean(values)}
                print(
                    f"{name:<18}{label:<12}{len(values):>6}{statistics.fmean(values):>13.2f}"
                    f"{statistics.median(values):>8.2f}"
                )
    share = collections.Counter(state for _, state, _, _ in rows)
    print("states: " + ", ".join(f"{s} {share[s] / len(rows):.1%}" for s in STATES))
    return out


if __name__ == "__main__":
    main()
