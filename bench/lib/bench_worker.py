"""worker-drain and steady-lag: outbox-worker against the reference authz
server's own ceiling for register calls."""

import os

import report
import workload
from load import wrk
from stack import AuthzServer, OutboxWorker, TaskApi, metric_sum, scrape, truncate

INJECTED_LATENCY_MS = 20
LATENCY_CONCURRENCIES = (8, 32, 128)
DEFAULT_CONCURRENCY = 32


def drain_settings():
    return {"rows": int(os.environ.get("BENCH_DRAIN_ROWS", "50000")),
            "latency_rows": int(os.environ.get("BENCH_LATENCY_ROWS", "10000")),
            "ceiling_seconds": int(os.environ.get("BENCH_CEILING_SECONDS", "20")),
            "worker_concurrency": DEFAULT_CONCURRENCY, "worker_env": "defaults (WORKER_BATCH_SIZE=100, LISTEN on)",
            "injected_latency_ms": INJECTED_LATENCY_MS, "latency_concurrency": list(LATENCY_CONCURRENCIES)}


def steady_settings():
    return {"seconds": int(os.environ.get("BENCH_STEADY_SECONDS", "60")), "load_clients": 4,
            "worker_concurrency": DEFAULT_CONCURRENCY, "poll_interval_ms": 1000}


def register_ceiling(authz, agent_id, connections, seconds, tag):
    """The authz server's register rate with a plain keep-alive client (wrk)
    sending the worker's exact body, from an empty graph."""
    return wrk(authz.port, "register.lua", [agent_id, tag], connections, seconds, "/v1/authz/register")


def server_loop(authz):
    loop = authz.stats()["event_loop"]
    return loop["busy_s"], loop["idle_s"]


def drain_once(pg, authz, rows, concurrency, latency_ms=0):
    """One drain; also how busy the authz server's one thread was during it
    (its event loop utilization from the worker's start to the last delivery):
    near 1.0 the worker kept the server at its ceiling under the drain's own
    load (Postgres and the worker on the same cores), which is then
    delivered/s ÷ utilization."""
    truncate(pg)
    agent_id = workload.create_agent_sql(pg)
    authz.restart()
    if latency_ms:
        authz.faults({"status": 200, "latency_ms": latency_ms, "rate": 1.0, "ops": ["register"]})
    workload.fill_outbox(pg, rows, agent_id)
    loop0 = {}

    def start_worker():
        loop0["busy"], loop0["idle"] = server_loop(authz)
        return OutboxWorker(pg, authz.url, concurrency=concurrency)

    def at_done():
        busy, idle = server_loop(authz)
        d_busy, d_idle = busy - loop0["busy"], idle - loop0["idle"]
        return {"server_loop_utilization": round(d_busy / (d_busy + d_idle), 3) if d_busy + d_idle > 0 else None}

    out = workload.drain(pg, rows, start_worker, timeout_s=max(300, rows // 20), on_done=at_done)
    util = out.get("server_loop_utilization")
    if util and out.get("rate_per_s"):
        out["server_ceiling_under_drain_per_s"] = round(out["rate_per_s"] / util, 1)
    return out


def measure_ceiling(authz, seconds, connections=DEFAULT_CONCURRENCY, latency_ms=0, tag=1):
    authz.restart()
    if latency_ms:
        authz.faults({"status": 200, "latency_ms": latency_ms, "rate": 1.0, "ops": ["register"]})
    agent_id = "3f6d2a1e-0000-4000-8000-000000000001"
    return register_ceiling(authz, agent_id, connections, seconds, tag)


def run_drain():
    cfg = drain_settings()
    cond, pg = report.begin(f"worker-drain: {cfg['rows']} pending outbox rows vs the authz server's register ceiling")
    authz = AuthzServer()

    ceiling = measure_ceiling(authz, cfg["ceiling_seconds"])
    print(f"  authz register ceiling (wrk, {DEFAULT_CONCURRENCY} connections): {ceiling['rate_per_s']}/s, "
          f"p50 {ceiling['p50_ms']} ms")
    main = drain_once(pg, authz, cfg["rows"], DEFAULT_CONCURRENCY)
    main["ratio_to_ceiling"] = round(main["rate_per_s"] / ceiling["rate_per_s"], 3)
    print(f"  worker drain: {main['rate_per_s']}/s ({main['ratio_to_ceiling']:.0%} of the ceiling), "
          f"{main['cpu_s_per_1000']} CPU-s/1000, RSS {main['rss_peak_mib']} MiB; the authz server's thread was busy "
          f"{main.get('server_loop_utilization')} of the drain (its ceiling under the drain's load: "
          f"{main.get('server_ceiling_under_drain_per_s')}/s)")

    latency_runs = []
    for c in LATENCY_CONCURRENCIES:
        ceil_c = measure_ceiling(authz, max(5, cfg["ceiling_seconds"] // 2), c, INJECTED_LATENCY_MS, tag=100 + c)
        run = drain_once(pg, authz, cfg["latency_rows"], c, INJECTED_LATENCY_MS)
        ideal = c * 1000 / INJECTED_LATENCY_MS
        run.update({"concurrency": c, "ceiling_per_s": ceil_c["rate_per_s"], "latency_bound_per_s": ideal,
                    "ratio_to_ceiling": round(run["rate_per_s"] / ceil_c["rate_per_s"], 3)})
        latency_runs.append(run)
        print(f"  +{INJECTED_LATENCY_MS} ms, {c} in flight: {run['rate_per_s']}/s (server ceiling at {c} connections "
              f"{ceil_c['rate_per_s']}/s, {c}/{INJECTED_LATENCY_MS} ms = {ideal:.0f}/s)")
    authz.stop()
    pg.destroy()

    print()
    report.print_table(["run", "delivered/s", "ceiling/s", "ratio", "lag p50 ms", "lag p99 ms", "CPU-s/1000",
                        "RSS MiB", "PG CPU-s/1000"],
                       [[f"drain c={DEFAULT_CONCURRENCY}", main["rate_per_s"], ceiling["rate_per_s"],
                         main["ratio_to_ceiling"], main["lag_p50_ms"], main["lag_p99_ms"], main["cpu_s_per_1000"],
                         main["rss_peak_mib"], main["postgres_cpu_s_per_1000"]]] +
                       [[f"+20ms c={r['concurrency']}", r["rate_per_s"], r["ceiling_per_s"], r["ratio_to_ceiling"],
                         r["lag_p50_ms"], r["lag_p99_ms"], r["cpu_s_per_1000"], r["rss_peak_mib"],
                         r["postgres_cpu_s_per_1000"]] for r in latency_runs])
    r8, r32, r128 = latency_runs
    targets = [
        report.target("authz server register ceiling, wrk (/s)", ceiling["rate_per_s"], ">=", 1500),
        report.target("authz server register ceiling under the drain's load, over its writes (/s)",
                      main.get("server_ceiling_under_drain_per_s"), ">=", 1500),
        report.target("drain rate / authz register ceiling (wrk, machine to itself)", main["ratio_to_ceiling"],
                      ">=", 0.90),
        report.target("drain rate / the server's ceiling under the drain's load (its thread's busy share)",
                      main.get("server_loop_utilization"), ">=", 0.90),
        report.target("worker CPU-seconds per 1,000 deliveries", main["cpu_s_per_1000"], "<", 0.5),
        report.target("worker peak RSS (MiB)", main["rss_peak_mib"], "<", 32),
        # "Scales with the configured concurrency": it rises with every step, and at each step the worker
        # gets 90% of what the server itself sustains at that many connections with the same latency.
        report.target("+20 ms: rate gain per concurrency step (min of 32/8 and 128/32)",
                      round(min(r32["rate_per_s"] / r8["rate_per_s"], r128["rate_per_s"] / r32["rate_per_s"]), 2),
                      ">=", 1.0),
    ] + [report.target(f"+20 ms: rate at {r['concurrency']} in flight / server ceiling at {r['concurrency']}",
                       r["ratio_to_ceiling"], ">=", 0.90) for r in (r8, r32, r128)]
    report.print_targets(targets)
    return report.write_result("worker-drain", cfg, {"ceiling": ceiling, "drain": main, "latency_runs": latency_runs},
                               targets, cond)


def run_steady(ceiling_per_s=None):
    cfg = steady_settings()
    cond, pg = report.begin(f"steady-lag: creates through the API at half the register ceiling for {cfg['seconds']} s")
    authz = AuthzServer()
    if ceiling_per_s is None:
        previous = report.load_result("worker-drain")
        if previous:
            ceiling_per_s = previous["results"]["ceiling"]["rate_per_s"]
        else:
            ceiling_per_s = measure_ceiling(authz, 10)["rate_per_s"]
    # BENCH_STEADY_RATE: a fixed rate instead (half the batching server's ceiling can be more than the
    # API, the worker, Postgres and the server together sustain on 2 cores).
    rate = int(os.environ.get("BENCH_STEADY_RATE") or ceiling_per_s / 2)
    clients = cfg["load_clients"]
    # Each connection waits between its creates so that together they make about `rate`
    # (the create itself takes ~1-2 ms here; the rate reached is what is reported).
    think_ms = max(0, int(clients * 1000 / rate) - 2)
    print(f"  register ceiling {ceiling_per_s}/s: creating about {rate} tasks/s through task-api "
          f"(wrk, {clients} connections, {think_ms} ms between a connection's creates)")

    runs = {}
    for mode, poll_only in (("listen", False), ("poll-only", True)):
        truncate(pg)
        authz.restart()
        api = TaskApi(pg, authz, dual_write=True, name=f"task-api-steady-{mode}")
        api.create_agent(workload.AGENT_NAME)
        worker = OutboxWorker(pg, authz.url, concurrency=DEFAULT_CONCURRENCY, poll_only=poll_only)
        worker.wait_ready()
        runs[mode] = workload.steady_api(pg, api, clients, think_ms, rate, cfg["seconds"], worker)
        runs[mode]["authz_call_mean_ms"] = authz_call_mean_ms(worker)
        worker.stop()
        api.stop()
        r = runs[mode]
        print(f"  {mode}: {r['created_per_s']} creates/s, lag p50 {r['lag_p50_ms']} ms, p99 {r['lag_p99_ms']} ms "
              f"over {r['delivered']} deliveries (create p99 {r['create_p99_ms']} ms)")
    authz.stop()
    pg.destroy()

    print()
    report.print_table(["mode", "created/s", "delivered", "lag p50 ms", "lag p99 ms", "lag max ms", "authz call ms",
                        "CPU-s/1000", "RSS MiB", "create p99 ms"],
                       [[m, r["created_per_s"], r["delivered"], r["lag_p50_ms"], r["lag_p99_ms"], r["lag_max_ms"],
                         r["authz_call_mean_ms"], r["cpu_s_per_1000"], r["rss_peak_mib"], r["create_p99_ms"]]
                        for m, r in runs.items()])
    targets = [report.target("steady-state lag p99, creates through the API, LISTEN/NOTIFY (ms)",
                             runs["listen"]["lag_p99_ms"], "<", 50)]
    report.print_targets(targets)
    return report.write_result("steady-lag", {**cfg, "rate_per_s": rate, "ceiling_per_s": ceiling_per_s,
                                              "think_ms": think_ms, "creates": "task-api POST /tasks (wrk)"},
                               {"runs": runs}, targets, cond)


def authz_call_mean_ms(worker):
    """The mean register call as the worker timed it: the part of the lag spent in the authz server."""
    m = scrape(worker.monitor_port)
    total = metric_sum(m, "task_fgac_dual_write_request_duration_seconds_sum")
    count = metric_sum(m, "task_fgac_dual_write_request_duration_seconds_count")
    return round(total / count * 1000, 1) if count else None


def capture_statement(pg, authz):
    """The API's create statement, captured from a short-lived task-api."""
    api = TaskApi(pg, authz, dual_write=True, name="task-api-capture")
    api.create_agent(workload.AGENT_NAME)
    stmt = workload.capture_create_statement(pg, api)
    api.stop()
    return stmt
