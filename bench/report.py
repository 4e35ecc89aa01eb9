"""Rewrite the figures table of bench/README.md from bench/results/*.json (`make bench` runs it).

Only the part between the `figures:start` and `figures:end` markers is replaced.
"""

from __future__ import annotations

import json
import math
import re

from common import RESULTS, ROOT

README = ROOT / "bench" / "README.md"
START, END = "<!-- figures:start -->", "<!-- figures:end -->"


def _load(name: str) -> dict | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def _machine(m: dict) -> str:
    load = m.get("loadavg_before") or m.get("loadavg_1_5_15")
    return f"{m.get('when', '?')}, {m.get('cpus', '?')} cores, load average before {load}"


UTILISATION = 0.65  # plan nodes to run at most this busy (the HPA's CPU target)
NODE_CORES = 2


def web_ms(cpu_ms: dict):
    """The web server's figure; results saved before issue 15's fifth round name it gunicorn."""
    return cpu_ms.get("web", cpu_ms.get("gunicorn", 0))


def server_command(config: dict) -> str:
    if "web" in config:
        return f"python {config['web']}"
    return f"gunicorn {config['gunicorn']}"


def nodes_needed(rpm: int, cpu_ms: dict) -> dict:
    """Cores and 2-core nodes per tier for `rpm` requests/min of the mix, from the CPU each
    request cost each tier in the load test (CPU-bound tiers; I/O headroom not modelled)."""
    rps = rpm / 60

    def cores(ms: float) -> float:
        return rps * ms / 1000 / UTILISATION

    web = cores(web_ms(cpu_ms))
    worker = cores(cpu_ms.get("celery", 0))
    db = cores(cpu_ms.get("postgresql", 0))
    redis = cores(cpu_ms.get("redis", 0))
    return {
        "web_nodes": max(2, math.ceil(web / NODE_CORES)),
        "worker_nodes": max(1, math.ceil(worker / NODE_CORES)),
        "db_cores": round(db, 1),
        "redis_cores": round(redis, 2),
    }


def capacity_table(load: dict) -> str:
    cpu = {k: v for k, v in load["cpu_ms_per_request"].items() if k != "wrk"}
    model = load.get("cost_model")
    basis = f"the load test's CPU ms per request per tier: {cpu}"
    if model:
        basis += (
            f"; the cost model predicts {model['predicted_cpu_ms_per_request']['node']} ms for the "
            f"node's tiers against {model['measured_cpu_ms_per_request']['node']} measured "
            f"({model['error_pct']['node']} %)"
        )
    rows = [
        f"**Nodes needed** ({basis}; 2-core nodes at {UTILISATION:.0%} CPU, at least 2 web "
        "nodes; docs/scaling.md explains the model):",
        "",
        "| requests/min | web nodes | worker nodes | PostgreSQL cores (primary + replicas) "
        "| Redis cores |",
        "|---:|---:|---:|---:|---:|",
    ]
    for rpm in (10_000, 100_000, 1_000_000):
        n = nodes_needed(rpm, cpu)
        rows.append(
            f"| {rpm:,} | {n['web_nodes']} | {n['worker_nodes']} | {n['db_cores']} "
            f"| {n['redis_cores']} |"
        )
    return "\n".join(rows)


def cost_model_table(model: dict) -> str:
    """Per endpoint: CPU ms per request alone and as the model carries it into the mix, against
    the app CPU each endpoint used in the mix; then the mix's totals and the error."""
    p, m, e = (
        model["predicted_cpu_ms_per_request"],
        model["measured_cpu_ms_per_request"],
        model["error_pct"],
    )
    rpm = model["capacity_requests_per_minute"]
    lines = [
        "**Cost model** (each endpoint alone under the mix's load, carried over to the mix's cache "
        'state; `bench/load.py`, docs/scaling.md "Load test and cost model"):',
        "",
        "| endpoint | share % | web server ms alone | PostgreSQL ms alone | ran SQL alone / in mix "
        "| app ms model | app ms in mix | error % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, x in model["endpoints"].items():
        c = x["cpu_ms_per_request_alone"]
        lines.append(
            f"| {name} | {x['share'] * 100:.1f} | {web_ms(c)} | {c['postgresql']} "
            f"| {x['sql_share_alone']:.2f} / {x['sql_share_in_mix']:.2f} | {x['app_cpu_ms_model']} "
            f"| {x['app_cpu_ms_in_mix']} | {x['app_cpu_error_pct']} |"
        )
    lines += [
        "",
        "| CPU ms per request of the mix | predicted | measured | error % |",
        "|---|---:|---:|---:|",
        *(f"| {t} | {p[t]} | {m[t]} | {e[t]} |" for t in p),
        f"| requests/min on {model['cores']} cores | {rpm['predicted']:,} | {rpm['load_test']:,} "
        f"| {e['capacity_rpm']} |",
        "",
        f"Within {model['tolerance_pct']} %: **{'yes' if model['within_tolerance'] else 'no'}** "
        f"(without the cache state, the node's error is {e['node_without_cache_state']} %).",
    ]
    return "\n".join(lines)


def render() -> str:
    lines: list[str] = []
    load = _load("load.json")
    if load:
        o, c = load["overall"], load["config"]
        lines += [
            f"**Load test** (`bench/load.py`; {_machine(load['machine'])}): "
            f"{c['patients']:,} patients, {c['dataset_measurements']:,} measurements, "
            f"{c['postgres']}; `{c['generator']}` paced to {c['target_rate_per_min']:,}/min "
            f"for {c['duration_s']} s; `{server_command(c)}`.",
            "",
            "| endpoint | requests | errors | p50 ms | p95 ms | p99 ms | queries/req | cache hit "
            "| app CPU ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, e in load["endpoints"].items():
            hit = "" if e["cache_hit_rate"] is None else f"{e['cache_hit_rate']:.2f}"
            lines.append(
                f"| {name} | {e['requests']:,} | {e['errors']} | {e['p50_ms']} | {e['p95_ms']} "
                f"| {e['p99_ms']} | {e['queries_per_request']} | {hit} | {e.get('app_cpu_ms')} |"
            )
        hit = "" if o["cache_hit_rate"] is None else f"{o['cache_hit_rate']:.2f}"
        lines += [
            f"| **all** | {o['requests']:,} | {o['errors']} | {o['p50_ms']} | {o['p95_ms']} "
            f"| {o['p99_ms']} | {o['queries_per_request']} | {hit} | {o.get('app_cpu_ms')} |",
            "",
            f"Throughput **{o['requests_per_minute']:,} requests/min**; target (>= 20,000/min, "
            f"p95 < 50 ms, 0 errors) **{'met' if o['meets_target'] else 'not met'}**. "
            f"CPU cores used: {load.get('cpu_seconds_per_second')}; CPU ms per request: "
            f"{load.get('cpu_ms_per_request')} (~"
            f"{load.get('capacity_estimate_per_min_on_all_cores', 0):,}/min if the machine's "
            "cores did nothing else). PostgreSQL per second: "
            f"{load.get('database_per_second')}.",
            "",
        ]
    if load and load.get("cost_model"):
        lines += cost_model_table(load["cost_model"]), ""
    if load and load.get("cpu_ms_per_request"):
        lines += capacity_table(load), ""
    metrics = _load("metrics.json")
    if metrics:
        lines += [
            f"**Micro-benchmarks** (`bench/bench_metrics.py`, in-process, median; "
            f"{metrics.get('when')}, {metrics['environment'].get('cpus')} cores):",
            "",
            "| figure | ms |",
            "|---|---:|",
            *(f"| {k} | {v} |" for k, v in metrics["figures_ms_median"].items()),
            "",
        ]
    writes = _load("db_writes.json")
    if writes:
        lines += [
            f"**Database write ceiling** (`bench/bench_db_writes.py`, the app's write "
            f"transactions as SQL, no app in front; {_machine(writes['machine'])}):",
            "",
            "| transaction | clients | transactions/s | measurement rows/s |",
            "|---|---:|---:|---:|",
            *(
                f"| {kind}{' (' + str(writes['sync_rows']) + ' rows)' if kind == 'sync' else ''} "
                f"| {r['clients']} | {r['transactions_per_s']} | {r['rows_per_s']} |"
                for kind in ("sync", "single")
                for r in writes[kind]
            ),
            "",
        ]
    cpu, cpu_before = _load("request_cpu.json"), _load("request_cpu-before.json")
    if cpu:
        before = (cpu_before or {}).get("endpoints", {})
        lines += [
            f"**Application CPU per request** (`bench/bench_request_cpu.py`: in-process, "
            f"production settings and middleware, JWT, PostgreSQL + Redis, median of "
            f"{next(iter(cpu['endpoints'].values()))['runs']} per endpoint; "
            f"{_machine(cpu['machine'])}; before = `request_cpu-before.json`, "
            f"{(cpu_before or {}).get('machine', {}).get('when', 'n/a')}):",
            "",
            "| endpoint | weight % | CPU ms before | CPU ms now | SQL before | SQL now |",
            "|---|---:|---:|---:|---:|---:|",
            *(
                f"| {n} | {cpu['mix_weights'].get(n, '')} "
                f"| {before.get(n, {}).get('cpu_ms_median', '')} | {e['cpu_ms_median']} "
                f"| {before.get(n, {}).get('queries', '')} | {e['queries']} |"
                for n, e in cpu["endpoints"].items()
            ),
            f"| **mix** | 100 | {(cpu_before or {}).get('mix_cpu_ms_per_request', '')} "
            f"| **{cpu['mix_cpu_ms_per_request']}** | | |",
            "",
            f"Two cores doing nothing but this app's Python: at most "
            f"**{cpu['two_core_ceiling_req_per_min']:,} requests/min** of the mix (PostgreSQL, "
            "Redis, the load generator and the web server's own HTTP work not counted).",
            "",
        ]
    for name in sorted(p.name for p in RESULTS.glob("*.json")):
        if name in {
            "load.json",
            "metrics.json",
            "scale.json",
            "db_writes.json",
            "request_cpu.json",
            "request_cpu-before.json",
            "load-before.json",
        }:
            continue
        other = _load(name)
        if not isinstance(other, dict):
            continue
        figures = next(
            (other[k] for k in ("figures_ms_median", "figures_ms", "figures") if k in other), None
        )
        if not isinstance(figures, dict):
            continue
        flat = {}
        for key, value in figures.items():
            if isinstance(value, dict):
                flat.update({f"{key}.{k}": v for k, v in value.items()})
            else:
                flat[key] = value
        numbers = {k: v for k, v in flat.items() if isinstance(v, int | float)}
        when = other.get("when") or other.get("ran_at") or ""
        lines += [
            f"**{name}** ({when}):",
            "",
            "| figure | value |",
            "|---|---:|",
            *(f"| {k} | {v} |" for k, v in numbers.items()),
            "",
        ]
    scale = _load("scale.json")
    if scale:
        small, big = scale["small"], scale["big"]
        lines += [
            f"**Rows vs latency** (`bench/scale.py`, median ms; {_machine(scale['machine'])}):",
            "",
            f"| request | {small['measurements']:,} rows | {big['measurements']:,} rows |",
            "|---|---:|---:|",
            *(
                f"| {k} | {small['median_ms'][k]} | {big['median_ms'][k]} |"
                for k in small["median_ms"]
            ),
            "",
        ]
        part = scale.get("partitioning")
        if part:
            lines += [
                f"**Monthly partitions** ({part['partitions']} partitions, "
                f"{part['rows']:,} rows; SQL only, median ms):",
                "",
                "| query | plain table | partitioned |",
                "|---|---:|---:|",
                *(
                    f"| {k} | {v['metrics_healthmetric']} | {v['bench_metric_part']} |"
                    for k, v in part["median_ms"].items()
                ),
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    text = README.read_text()
    block = f"{START}\n{render()}{END}"
    text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    README.write_text(text)
    print(f"figures written to {README.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
