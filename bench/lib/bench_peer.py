"""peer: the same drain and the same steady-state run with graphile-worker,
whose task makes the same register call, at the same concurrency, against
the same database; outbox-worker's figures beside it. Each pair runs twice:
against the reference authz server (whose one thread bounds both drains)
and against authz-sink at 20 ms (where each queue's own cost shows)."""

import os

import report
import workload
from bench_worker import DEFAULT_CONCURRENCY, capture_statement, drain_once, drain_settings, measure_ceiling, \
    steady_settings
from stack import AuthzServer, OutboxWorker, PeerWorker, Sink, peer_migrate, truncate

SINK_LATENCY_MS = 20
SINK_DRAIN_ROWS = int(os.environ.get("BENCH_PEER_SINK_ROWS", "20000"))
SINK_STEADY_SECONDS = int(os.environ.get("BENCH_PEER_SINK_SECONDS", "30"))

FIGURES = (("rate_per_s", "drain delivered/s", "higher"),
           ("cpu_s_per_1000", "drain CPU-s per 1,000", "lower"),
           ("rss_peak_mib", "drain peak RSS MiB", "lower"),
           ("lag_p50_ms", "steady lag p50 ms", "lower"),
           ("lag_p99_ms", "steady lag p99 ms", "lower"),
           ("steady_cpu_s_per_1000", "steady CPU-s per 1,000", "lower"),
           ("steady_rss_peak_mib", "steady peak RSS MiB", "lower"))


def peer_drain(pg, authz, rows, concurrency):
    truncate(pg)
    pg.sql("DELETE FROM graphile_worker._private_jobs")
    agent_id = workload.create_agent_sql(pg)
    if hasattr(authz, "restart"):
        authz.restart()
    workload.fill_peer_jobs(pg, rows, agent_id)
    return workload.drain(pg, rows, lambda: PeerWorker(pg, authz.url, concurrency=concurrency),
                          timeout_s=max(600, rows // 10))


def ours_sink_drain(pg, sink, rows, concurrency):
    truncate(pg)
    agent_id = workload.create_agent_sql(pg)
    workload.fill_outbox(pg, rows, agent_id)
    return workload.drain(pg, rows, lambda: OutboxWorker(pg, sink.url, concurrency=concurrency),
                          timeout_s=max(300, rows // 20))


def steady_run(pg, authz, script, defines, rate, seconds, start):
    truncate(pg)
    pg.sql("DELETE FROM graphile_worker._private_jobs")
    workload.create_agent_sql(pg)
    if hasattr(authz, "restart"):
        authz.restart()
    worker = start()
    r = workload.steady(pg, script, defines, rate, seconds, worker)
    worker.stop()
    return r


def flat(d, s):
    """One worker's figures: its drain `d` and its steady state `s`."""
    return {"rate_per_s": d["rate_per_s"], "cpu_s_per_1000": d["cpu_s_per_1000"],
            "rss_peak_mib": d["rss_peak_mib"], "lag_p50_ms": s["lag_p50_ms"], "lag_p99_ms": s["lag_p99_ms"],
            "steady_cpu_s_per_1000": s["cpu_s_per_1000"], "steady_rss_peak_mib": s["rss_peak_mib"],
            "drain_lag_p50_ms": d["lag_p50_ms"], "drain_lag_p99_ms": d["lag_p99_ms"],
            "drain_postgres_cpu_s_per_1000": d["postgres_cpu_s_per_1000"]}


def against_sink(pg, rate, ours, peer):
    """Both workers' drains and steady states against authz-sink; `ours` and `peer` are (script, defines)."""
    sink = Sink(SINK_LATENCY_MS)
    print(f"  against authz-sink at {SINK_LATENCY_MS} ms ({SINK_DRAIN_ROWS}-row drains, {SINK_STEADY_SECONDS} s steady "
          f"at {rate}/s):")
    ours_sink_d = ours_sink_drain(pg, sink, SINK_DRAIN_ROWS, DEFAULT_CONCURRENCY)
    peer_sink_d = peer_drain(pg, sink, SINK_DRAIN_ROWS, DEFAULT_CONCURRENCY)
    ours_sink_s = steady_run(pg, sink, *ours, rate, SINK_STEADY_SECONDS,
                             lambda: _ready(OutboxWorker(pg, sink.url, concurrency=DEFAULT_CONCURRENCY)))
    peer_sink_s = steady_run(pg, sink, *peer, rate, SINK_STEADY_SECONDS,
                             lambda: PeerWorker(pg, sink.url, concurrency=DEFAULT_CONCURRENCY))
    print(f"    drain: outbox-worker {ours_sink_d['rate_per_s']}/s, graphile-worker {peer_sink_d['rate_per_s']}/s; "
          f"steady lag p99: outbox-worker {ours_sink_s['lag_p99_ms']} ms, graphile-worker {peer_sink_s['lag_p99_ms']} ms")
    sink.stop()
    return ours_sink_d, peer_sink_d, ours_sink_s, peer_sink_s


def compare(ours, peer, ours_sink, peer_sink):
    """Prints each figure of both workers against the server and the sink; returns one target per figure."""
    print()
    table, targets = [], []
    for where, a_fig, b_fig in (("server", ours, peer), ("sink", ours_sink, peer_sink)):
        for key, label, better in FIGURES:
            a, b = a_fig[key], b_fig[key]
            # Ratio oriented so that > 1 means outbox-worker is ahead.
            ahead = (a / b) if better == "higher" else (b / a if a else None)
            table.append([f"{where}: {label}", a, b, round(ahead, 2) if ahead else "-"])
            targets.append(report.target(f"{where}: ahead of graphile-worker on {label} (x)",
                                         round(ahead, 2) if ahead else None, ">=", 1.0))
    report.print_table(["figure", "outbox-worker", "graphile-worker", "advantage (x)"], table)
    print(f"  drain: Postgres CPU-s per 1,000: outbox-worker {ours['drain_postgres_cpu_s_per_1000']}, "
          f"graphile-worker {peer['drain_postgres_cpu_s_per_1000']}")
    return targets


def run():
    d_cfg, s_cfg = drain_settings(), steady_settings()
    rows, seconds = d_cfg["rows"], s_cfg["seconds"]
    cond, pg = report.begin(f"peer: graphile-worker vs outbox-worker, {rows}-row drain and {seconds} s steady state")
    peer_migrate(pg)
    authz = AuthzServer()

    drain_prev, steady_prev = report.load_result("worker-drain"), report.load_result("steady-lag")
    ceiling = (drain_prev["results"]["ceiling"]["rate_per_s"] if drain_prev
               else measure_ceiling(authz, d_cfg["ceiling_seconds"])["rate_per_s"])
    rate = int(os.environ.get("BENCH_STEADY_RATE") or (steady_prev["settings"]["rate_per_s"] if steady_prev else ceiling / 2))
    stmt = capture_statement(pg, authz)
    ours_script, ours_defines = workload.create_script(stmt)
    peer_script, peer_defines = workload.peer_create_script(stmt)

    if drain_prev:
        print("  outbox-worker drain against the server: this run's worker-drain")
        ours_drain = drain_prev["results"]["drain"]
    else:
        ours_drain = drain_once(pg, authz, rows, DEFAULT_CONCURRENCY)
    # The same creates for both (pgbench with the API's statement; graphile-worker's adds its job in
    # the same transaction), so steady-lag's API-driven run is not borrowed here.
    ours_steady = steady_run(pg, authz, ours_script, ours_defines, rate, seconds,
                             lambda: _ready(OutboxWorker(pg, authz.url, concurrency=DEFAULT_CONCURRENCY)))
    peer_d = peer_drain(pg, authz, rows, DEFAULT_CONCURRENCY)
    print(f"  graphile-worker drain: {peer_d['rate_per_s']}/s")
    peer_s = steady_run(pg, authz, peer_script, peer_defines, rate, seconds,
                        lambda: PeerWorker(pg, authz.url, concurrency=DEFAULT_CONCURRENCY))
    print(f"  graphile-worker steady: lag p50 {peer_s['lag_p50_ms']} ms, p99 {peer_s['lag_p99_ms']} ms")
    authz.stop()

    ours_sink_d, peer_sink_d, ours_sink_s, peer_sink_s = against_sink(pg, rate, (ours_script, ours_defines),
                                                                      (peer_script, peer_defines))
    pg.destroy()

    ours, peer = flat(ours_drain, ours_steady), flat(peer_d, peer_s)
    ours_sink, peer_sink = flat(ours_sink_d, ours_sink_s), flat(peer_sink_d, peer_sink_s)
    targets = compare(ours, peer, ours_sink, peer_sink)
    report.print_targets(targets)
    settings = {"rows": rows, "steady_seconds": seconds, "steady_rate_per_s": rate, "concurrency": DEFAULT_CONCURRENCY,
                "ceiling_per_s": ceiling,
                "graphile_worker": f"concurrency {DEFAULT_CONCURRENCY}, maxPoolSize {DEFAULT_CONCURRENCY}, "
                                   "other options default (LISTEN on, pollInterval 2000 ms), warn-level logger",
                "peer_script": peer_script}
    settings.update({"sink_latency_ms": SINK_LATENCY_MS, "sink_drain_rows": SINK_DRAIN_ROWS,
                     "sink_steady_seconds": SINK_STEADY_SECONDS})
    return report.write_result("peer", settings, {"outbox_worker": ours, "graphile_worker": peer,
                                                  "outbox_worker_sink": ours_sink, "graphile_worker_sink": peer_sink,
                                                  "graphile_drain": peer_d, "graphile_steady": peer_s,
                                                  "outbox_drain": ours_drain, "outbox_steady": ours_steady,
                                                  "sink_runs": {"outbox_drain": ours_sink_d, "graphile_drain": peer_sink_d,
                                                                "outbox_steady": ours_sink_s,
                                                                "graphile_steady": peer_sink_s}},
                               targets, cond)


def _ready(worker):
    worker.wait_ready()
    return worker
