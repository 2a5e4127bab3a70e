"""worker-sink: outbox-worker's own limit. One worker drains a backlog
against authz-sink (bench/sink), which answers every call after a fixed
latency and does nothing else, so the ceiling is Little's law (in flight ÷
latency) until the worker's CPU, Postgres or the machine's cores bind."""

import os
import time

import report
import workload
from stack import (CLK_TCK, OutboxWorker, Postgres, Sink, children_cpu_by_pid, cpu_seconds, machine_busy_seconds,
                   mem_kib, migrate, thread_cpu_seconds, truncate)

IN_FLIGHT = (32, 128, 512)
DEFAULT_LATENCY_MS = 20
DEFAULT_BATCH_SIZE = 100
SINK_THREADS = 2
SERVICE_TOKEN = "bench-sink-token"
# Rows per run: this many seconds at the Little's-law limit.
SECONDS_AT_LIMIT = 20
# Start-up excluded: the window opens this long after the first answered call.
WARMUP_S = 2.0
# ... and closes before the tail, where fewer rows are left than calls in flight.
WINDOW_END_FRACTION = 0.9
SAMPLE_S = 0.25
# A run far below the limit stops measuring here instead of draining every row.
DEFAULT_MAX_SECONDS = 60
LITTLE_RATIO = 0.90  # at or above: the latency bound the run
SATURATED = 0.90  # a share of a core (or of all cores) at or above this is saturated
SINK_NEAR_LIMIT = 0.5  # of its threads' cores: warn that the sink may be the limit


def settings():
    latency_ms = int(os.environ.get("BENCH_SINK_LATENCY_MS", str(DEFAULT_LATENCY_MS)))
    rows = os.environ.get("BENCH_SINK_ROWS")
    return {"latency_ms": latency_ms, "in_flight": list(IN_FLIGHT),
            "rows": {c: int(rows) if rows else rows_for(c, latency_ms) for c in IN_FLIGHT},
            "max_seconds": int(os.environ.get("BENCH_SINK_MAX_SECONDS", str(DEFAULT_MAX_SECONDS))),
            "warmup_s": WARMUP_S, "window_end_fraction": WINDOW_END_FRACTION, "sink_threads": SINK_THREADS,
            "worker_env": {c: worker_env(c) for c in IN_FLIGHT}}


def rows_for(in_flight, latency_ms):
    return int(in_flight * 1000 / latency_ms * SECONDS_AT_LIMIT)


def worker_env(in_flight):
    # A claim takes at most WORKER_BATCH_SIZE rows: at least as many as may be
    # in flight, so one claim can refill every free slot (start-up included).
    return {"WORKER_CONCURRENCY": str(in_flight), "WORKER_BATCH_SIZE": str(max(DEFAULT_BATCH_SIZE, in_flight)),
            "AUTHZ_SERVICE_TOKEN": SERVICE_TOKEN}


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[:3]


def commit_counters(pg):
    """Commits in this database and WAL flushes (count, ms spent in them) since the stats were reset."""
    row = pg.sql("SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),"
                 " wal_sync, wal_sync_time FROM pg_stat_wal")[0]
    return {"commits": int(row[0]), "wal_syncs": int(row[1]), "wal_sync_ms": float(row[2])}


def sample(t0, pg, worker, sink):
    s = sink.stats()
    return {"t": time.time() - t0, "calls": sum(s["calls"].values()), "rejected": s["rejected"],
            "sink_cpu": s["process"]["cpu_s"], "worker_cpu": cpu_seconds(worker.pid),
            "worker_io_cpu": thread_cpu_seconds(worker.pid, worker.pid), "pg_cpu": pg.cluster_cpu(),
            "pg_by_pid": children_cpu_by_pid(pg.postmaster_pid), "machine": machine_busy_seconds()}


def window(samples, rows, max_seconds):
    """The steady part: from WARMUP_S after the first answer to the last
    sample before WINDOW_END_FRACTION of the rows, max_seconds long at most."""
    first = next((s for s in samples if s["calls"] > 0), None)
    if first is None:
        return None, None
    start = next((s for s in samples if s["t"] >= first["t"] + WARMUP_S), None)
    if start is None:
        return None, None
    ends = [s for s in samples if s["calls"] <= rows * WINDOW_END_FRACTION and s["t"] <= start["t"] + max_seconds]
    end = ends[-1] if ends else None
    if start is None or end is None or end["t"] - start["t"] < 1.0:
        return None, None
    return start, end


def verdict(ratio, shares, cores, sink_threads, wal_busy):
    """Which resource bound the run, from the window's CPU shares (cores used)."""
    if ratio >= LITTLE_RATIO:
        return "latency (Little's law)"
    # Niced work (another user's build) yields its core to ours: not counted as taking it.
    if shares["machine"] - shares["niced"] >= SATURATED * cores:
        biggest = max(("worker", "postgres", "sink", "other"), key=lambda k: shares[k])
        return f"the machine's {cores} cores (largest share: {biggest} {shares[biggest]:.2f})"
    if shares["worker_io_thread"] >= SATURATED:
        return "worker CPU (its I/O thread)"
    if shares["postgres_busiest"] >= SATURATED:
        return "Postgres CPU (one process)"
    if shares["sink"] >= SATURATED * sink_threads:
        return "the sink (raise --threads)"
    if wal_busy >= SATURATED:
        return f"Postgres WAL flushes (an fsync in progress {wal_busy:.0%} of the run)"
    return "no CPU saturated: waits (the worker's claim/complete round trips, Postgres commits)"


def sample_drain(t0, pg, worker, sink, rows, max_seconds):
    """Samples until one sample past the window's end: the tail of the drain is not measured."""
    samples = []
    first_t = None
    while worker.process.alive():
        s = sample(t0, pg, worker, sink)
        samples.append(s)
        if first_t is None and s["calls"] > 0:
            first_t = s["t"]
        if s["calls"] > rows * WINDOW_END_FRACTION or (first_t is not None and
                                                        s["t"] > first_t + WARMUP_S + max_seconds):
            return samples
        time.sleep(SAMPLE_S)
    raise RuntimeError("outbox-worker exited:\n" + worker.process.tail())


def cpu_shares(start, end):
    """Cores each part used between two samples."""
    dt = end["t"] - start["t"]
    busiest_pg = max((cpu - start["pg_by_pid"].get(pid, 0.0) for pid, cpu in end["pg_by_pid"].items()),
                     default=0.0)
    shares = {"worker": (end["worker_cpu"] - start["worker_cpu"]) / dt,
              "worker_io_thread": (end["worker_io_cpu"] - start["worker_io_cpu"]) / dt,
              "postgres": (end["pg_cpu"] - start["pg_cpu"]) / dt, "postgres_busiest": busiest_pg / dt,
              "sink": (end["sink_cpu"] - start["sink_cpu"]) / dt, "machine": (end["machine"][0] - start["machine"][0]) / dt,
              "niced": (end["machine"][1] - start["machine"][1]) / dt}
    # Everything else on the machine (the harness, other users), niced work included.
    shares["other"] = max(0.0, shares["machine"] - shares["worker"] - shares["postgres"] - shares["sink"])
    return shares


def run_once(pg, sink, in_flight, rows, latency_ms, max_seconds, cores):
    truncate(pg)
    agent_id = workload.create_agent_sql(pg)
    workload.fill_outbox(pg, rows, agent_id)
    sink.reset()
    load = loadavg()
    commits0 = commit_counters(pg)
    t0 = time.time()
    worker = OutboxWorker(pg, sink.url, concurrency=in_flight, extra_env=worker_env(in_flight),
                          name=f"outbox-worker-sink-{in_flight}")
    samples = sample_drain(t0, pg, worker, sink, rows, max_seconds)
    rss_peak_mib = round(mem_kib(worker.pid, "VmHWM") / 1024, 1)
    worker_cpu_life = cpu_seconds(worker.pid)
    peak_waiting = sink.stats()["peak_waiting"]
    worker.stop()
    run_s = time.time() - t0
    commits1 = commit_counters(pg)
    db_delivered = int(pg.scalar("SELECT count(*) FROM tasks WHERE authz_synced_at IS NOT NULL"))

    start, end = window(samples, rows, max_seconds)
    if start is None:
        raise RuntimeError(f"no steady window in the {in_flight}-in-flight run ({len(samples)} samples)")
    dt = end["t"] - start["t"]
    calls = end["calls"] - start["calls"]
    limit = in_flight * 1000 / latency_ms
    rate = calls / dt
    shares = cpu_shares(start, end)
    ratio = rate / limit
    wal_busy = (commits1["wal_sync_ms"] - commits0["wal_sync_ms"]) / 1000 / run_s
    per_delivery = {k: round((commits1[k] - commits0[k]) / max(db_delivered, 1), 2) for k in ("commits", "wal_syncs")}
    out = {"in_flight": in_flight, "rows": rows, "worker_env": worker_env(in_flight), "load_average_at_start": load,
           "window_s": [round(start["t"], 2), round(end["t"], 2)], "window_calls": calls,
           "rate_per_s": round(rate, 1), "little_limit_per_s": round(limit, 1), "ratio": round(ratio, 3),
           "mean_in_flight_at_sink": round(rate * latency_ms / 1000, 1), "peak_waiting_at_sink": peak_waiting,
           # Little's law per slot: each delivery holds a slot this long, of which latency_ms at the sink.
           "slot_ms_per_delivery": round(in_flight / rate * 1000, 1),
           "worker_cpu_s_per_1000": round((end["worker_cpu"] - start["worker_cpu"]) / calls * 1000, 3),
           "worker_cpu_s_per_1000_whole_life": round(worker_cpu_life / max(end["calls"], 1) * 1000, 3),
           "postgres_cpu_s_per_1000": round((end["pg_cpu"] - start["pg_cpu"]) / calls * 1000, 3),
           "sink_cpu_s_per_1000": round((end["sink_cpu"] - start["sink_cpu"]) / calls * 1000, 3),
           "worker_rss_peak_mib": rss_peak_mib, "sink_rss_peak_mib": sink.rss_peak_mib(),
           "cores_used": {k: round(v, 2) for k, v in shares.items()},
           "answered": samples[-1]["calls"], "db_delivered": db_delivered, "rejected": samples[-1]["rejected"],
           "commits_per_delivery": per_delivery["commits"], "wal_syncs_per_delivery": per_delivery["wal_syncs"],
           "wal_sync_busy_fraction": round(wal_busy, 3),
           "bound_by": verdict(ratio, shares, cores, sink.threads, wal_busy)}
    if shares["sink"] >= SINK_NEAR_LIMIT * sink.threads:
        print(f"  warning: the sink used {shares['sink']:.2f} of its {sink.threads} threads' cores")
    return out


def run():
    cfg = settings()
    cond = report.conditions()
    cores = os.cpu_count()
    print(f"== worker-sink: outbox-worker against authz-sink at {cfg['latency_ms']} ms, "
          f"{', '.join(map(str, IN_FLIGHT))} in flight ==")
    report.print_conditions(cond)
    print(f"  one worker per run, WORKER_CONCURRENCY = in flight, WORKER_BATCH_SIZE = max(100, in flight), "
          f"LISTEN on; authz-sink --threads {SINK_THREADS} --latency-ms {cfg['latency_ms']}; window from "
          f"{WARMUP_S:.0f} s after the first answer to {WINDOW_END_FRACTION:.0%} of the rows or "
          f"{cfg['max_seconds']} s; CPU from /proc (clock tick {1 / CLK_TCK:.2f} s)")
    pg = Postgres(report.PG_SETTINGS)
    migrate(pg)
    # The time spent in WAL fsyncs (pg_stat_wal.wal_sync_time): is one flush at a time the limit?
    pg.sql("ALTER SYSTEM SET track_wal_io_timing = on")
    pg.sql("SELECT pg_reload_conf()")
    sink = Sink(cfg["latency_ms"], threads=SINK_THREADS, service_token=SERVICE_TOKEN)
    runs = []
    for c in IN_FLIGHT:
        r = run_once(pg, sink, c, cfg["rows"][c], cfg["latency_ms"], cfg["max_seconds"], cores)
        runs.append(r)
        u = r["cores_used"]
        print(f"  {c} in flight ({r['rows']} rows, load {' '.join(r['load_average_at_start'])}): "
              f"{r['rate_per_s']}/s = {r['ratio']:.2f} x {c}/{cfg['latency_ms']} ms ({r['little_limit_per_s']:.0f}/s), "
              f"a slot held {r['slot_ms_per_delivery']} ms per delivery, at most {r['peak_waiting_at_sink']} calls "
              f"waiting at the sink; "
              f"cores: worker {u['worker']:.2f} (I/O thread {u['worker_io_thread']:.2f}), postgres {u['postgres']:.2f} "
              f"(busiest {u['postgres_busiest']:.2f}), sink {u['sink']:.2f}, other {u['other']:.2f} "
              f"(niced {u['niced']:.2f}), "
              f"machine {u['machine']:.2f}/{cores}; {r['commits_per_delivery']} commits and {r['wal_syncs_per_delivery']} "
              f"WAL fsyncs per delivery, an fsync in progress {r['wal_sync_busy_fraction']:.0%} of the time; "
              f"bound by {r['bound_by']}")
    sink.stop()
    pg.destroy()

    print()
    report.print_table(["in flight", "delivered/s", "limit/s", "ratio", "mean in flight", "worker CPU-s/1000",
                        "PG CPU-s/1000", "sink CPU-s/1000", "worker RSS MiB", "bound by"],
                       [[r["in_flight"], r["rate_per_s"], r["little_limit_per_s"], r["ratio"],
                         r["mean_in_flight_at_sink"], r["worker_cpu_s_per_1000"], r["postgres_cpu_s_per_1000"],
                         r["sink_cpu_s_per_1000"], r["worker_rss_peak_mib"], r["bound_by"]] for r in runs])
    by_c = {r["in_flight"]: r for r in runs}
    targets = []
    for c in IN_FLIGHT:
        r = by_c[c]
        if c == 512:
            targets.append(report.target(f"{c} in flight: deliveries/s", r["rate_per_s"], ">=", 4000))
        else:
            targets.append(report.target(f"{c} in flight: delivered/s / ({c}/{cfg['latency_ms']} ms)", r["ratio"],
                                         ">=", LITTLE_RATIO))
        targets += [report.target(f"{c} in flight: worker CPU-s per 1,000 deliveries", r["worker_cpu_s_per_1000"],
                                  "<", 0.10),
                    report.target(f"{c} in flight: Postgres CPU-s per 1,000 deliveries",
                                  r["postgres_cpu_s_per_1000"], "<", 0.30),
                    report.target(f"{c} in flight: worker peak RSS (MiB)", r["worker_rss_peak_mib"], "<", 32)]
    report.print_targets(targets)
    return report.write_result("worker-sink", cfg, {"runs": runs}, targets, cond)
