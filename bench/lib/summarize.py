"""Prints the latest results (bench/results/*.json, or the directory given)
as the Markdown tables BENCHMARKS.md holds: python3 bench/lib/summarize.py [DIR]"""

import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
from report import RESULTS_DIR  # noqa: E402

ORDER = ("api-create", "api-read", "worker-drain", "steady-lag", "peer", "outage")


def load(directory, name):
    path = os.path.join(directory, f"{name}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
    return "\n".join(lines)


def print_api_create(api):
    print("\n" + table(["concurrency", "API /s", "API p50 ms", "API p99 ms", "pgbench /s", "pgbench p50 ms",
                        "pgbench p99 ms", "API / pgbench"],
                       [[r["concurrency"], r["api"]["rate_per_s"], r["api"]["p50_ms"], r["api"]["p99_ms"],
                         r["pgbench"]["rate_per_s"], r["pgbench"]["p50_ms"], r["pgbench"]["p99_ms"],
                         r["rate_ratio"]] for r in api["results"]["runs"]]))


def print_api_read(read):
    def added(r, key):
        return r["vs_off"][key] if r["vs_off"] else "-"
    print("\n" + table(["mode", "tasks", "concurrency", "req/s", "p50 ms", "p99 ms", "non-2xx + errors",
                        "checks/req", "check mean ms", "p50 added ms", "p99 added ms"],
                       [[r["mode"], r["tasks"], r["concurrency"], r["rate_per_s"], r["p50_ms"], r["p99_ms"],
                         r["bad_responses"], r["checks_per_request"], r["authz"]["check_mean_ms"] or "-",
                         added(r, "p50_added_ms"), added(r, "p99_added_ms")] for r in read["results"]["runs"]]))
    d = read["results"]["direct_check"]
    print(f"\nauthz server's check, directly (concurrency 1): p50 {d['p50_ms']} ms, p99 {d['p99_ms']} ms")


def print_worker_drain(drain):
    res = drain["results"]
    d = res["drain"]
    runs = [["backlog, no injected latency", 32, d["rate_per_s"], res["ceiling"]["rate_per_s"],
             d["ratio_to_ceiling"], d["lag_p50_ms"], d["lag_p99_ms"], d["cpu_s_per_1000"], d["rss_peak_mib"],
             d["postgres_cpu_s_per_1000"]]]
    runs += [[f"+{drain['settings']['injected_latency_ms']} ms authz latency", r["concurrency"], r["rate_per_s"],
              r["ceiling_per_s"], r["ratio_to_ceiling"], r["lag_p50_ms"], r["lag_p99_ms"], r["cpu_s_per_1000"],
              r["rss_peak_mib"], r["postgres_cpu_s_per_1000"]] for r in res["latency_runs"]]
    print("\n" + table(["run", "in flight", "delivered/s", "server ceiling/s", "ratio", "lag p50 ms",
                        "lag p99 ms", "worker CPU-s/1000", "worker RSS MiB", "Postgres CPU-s/1000"], runs))


def print_steady(steady):
    print("\n" + table(["mode", "created/s", "delivered", "lag p50 ms", "lag p99 ms", "lag max ms",
                        "authz call mean ms", "CPU-s/1000", "RSS MiB"],
                       [[m, r["created_per_s"], r["delivered"], r["lag_p50_ms"], r["lag_p99_ms"], r["lag_max_ms"],
                         r.get("authz_call_mean_ms"), r["cpu_s_per_1000"], r["rss_peak_mib"]]
                        for m, r in steady["results"]["runs"].items()]))


def print_peer(peer):
    ours, theirs = peer["results"]["outbox_worker"], peer["results"]["graphile_worker"]
    keys = [("rate_per_s", "drain delivered/s"), ("cpu_s_per_1000", "drain CPU-s per 1,000"),
            ("rss_peak_mib", "drain peak RSS MiB"), ("drain_postgres_cpu_s_per_1000", "drain Postgres CPU-s/1000"),
            ("lag_p50_ms", "steady lag p50 ms"), ("lag_p99_ms", "steady lag p99 ms"),
            ("steady_cpu_s_per_1000", "steady CPU-s per 1,000"), ("steady_rss_peak_mib", "steady peak RSS MiB")]
    print("\n" + table(["figure", "outbox-worker", "graphile-worker"],
                       [[label, ours[k], theirs[k]] for k, label in keys]))


def print_outage(outage):
    r = outage["results"]
    print("\n" + table(["phase", "API /s", "p50 ms", "p99 ms", "errors", "backlog after"],
                       [[p, r[k]["rate_per_s"], r[k]["p50_ms"], r[k]["p99_ms"], r[k]["error_count"],
                         r[k]["backlog_after"]] for p, k in (("authz healthy", "healthy"), ("authz down", "down"))]))
    print(f"\nrecovery: {json.dumps(r['recovery'])}")


# The benchmarks whose figures get a table of their own, in the order printed.
DETAILS = {"api-create": print_api_create, "api-read": print_api_read, "worker-drain": print_worker_drain,
           "steady-lag": print_steady, "peer": print_peer, "outage": print_outage}


def main(directory):
    docs = {name: load(directory, name) for name in ORDER}
    rows = []
    for name, doc in docs.items():
        if not doc:
            continue
        for t in doc["targets"]:
            rows.append([name, t["target"], t["figure"], t["rule"], "met" if t["met"] else "**missed**"])
    print(table(["benchmark", "figure", "measured", "target", ""], rows))
    print()
    for name, doc in docs.items():
        if doc:
            c = doc["conditions"]
            print(f"- {name}: finished {doc['finished_at']}, commit {c['commit']}, load average at start "
                  f"{' '.join(c.get('load_average_at_start', ['?']))}")
    for name, details in DETAILS.items():
        if docs[name]:
            details(docs[name])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else RESULTS_DIR)
