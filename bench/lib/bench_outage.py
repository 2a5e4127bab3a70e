"""outage: API create latency while authz is healthy and while it is fully
down, then the time to drain the backlog once it is back.

The reference server answers authn too, and an API cannot create anything
without authn; so the API authenticates against one server process and the
worker registers against another, and "authz down" stops the second one
outright (connection refused), as a real authz outage would look to the worker."""

import os
import time

import report
import workload
from load import wrk
from stack import DEV_TOKEN, AuthzServer, OutboxWorker, TaskApi, scrape

CONCURRENCY = 16


def settings():
    return {"seconds_per_phase": int(os.environ.get("BENCH_OUTAGE_SECONDS", "10")), "api_concurrency": CONCURRENCY,
            "worker_concurrency": 32, "worker_env": "defaults (backoff base 200 ms, cap 60 s)"}


def pending(pg):
    return int(pg.scalar("SELECT count(*) FROM authz_outbox WHERE dead_at IS NULL"))


def print_phases(healthy, down):
    print()
    report.print_table(["phase", "api/s", "p50 ms", "p99 ms", "errors", "backlog after"],
                       [[name, phase["rate_per_s"], phase["p50_ms"], phase["p99_ms"], phase["error_count"],
                         phase["backlog_after"]] for name, phase in (("healthy", healthy), ("authz down", down))])


def run():
    cfg = settings()
    seconds = cfg["seconds_per_phase"]
    cond, pg = report.begin(f"outage: POST /tasks at concurrency {CONCURRENCY}, authz healthy then down ({seconds} s each)")
    authn = AuthzServer("authz-authn")
    authz = AuthzServer("authz-register")
    api = TaskApi(pg, authn, dual_write=True)
    api.create_agent(workload.AGENT_NAME)
    worker = OutboxWorker(pg, authz.url, concurrency=cfg["worker_concurrency"])
    worker.wait_ready()
    wrk(api.port, "create_task.lua", [workload.AGENT_NAME, DEV_TOKEN, "warm"], CONCURRENCY, 3, "/tasks")
    workload.wait_delivered(pg, 120)

    pg.sql("CHECKPOINT")
    healthy = wrk(api.port, "create_task.lua", [workload.AGENT_NAME, DEV_TOKEN, "healthy"], CONCURRENCY, seconds,
                  "/tasks")
    healthy["backlog_after"] = pending(pg)
    print(f"  healthy: {healthy['rate_per_s']}/s p50 {healthy['p50_ms']} ms p99 {healthy['p99_ms']} ms, "
          f"backlog {healthy['backlog_after']}")

    authz.stop()
    down = wrk(api.port, "create_task.lua", [workload.AGENT_NAME, DEV_TOKEN, "down"], CONCURRENCY, seconds, "/tasks")
    backlog = pending(pg)
    down["backlog_after"] = backlog
    print(f"  authz down: {down['rate_per_s']}/s p50 {down['p50_ms']} ms p99 {down['p99_ms']} ms, backlog {backlog}")

    wait_backoff = float(pg.scalar("SELECT coalesce(extract(epoch FROM max(next_attempt_at) - now()), 0) "
                                   "FROM authz_outbox WHERE dead_at IS NULL"))
    t_recover = time.time()
    authz.start()
    drained = workload.wait_delivered(pg, 900, worker.process)
    drain_s = round(time.time() - t_recover, 1)
    metrics = scrape(worker.monitor_port)
    retries = sum(v for k, v in metrics.items() if k.startswith("task_fgac_dual_write_retries_total"))
    dead = int(pg.scalar("SELECT count(*) FROM authz_outbox WHERE dead_at IS NOT NULL"))
    worker.stop()
    api.stop()
    authn.stop()
    authz.stop()
    pg.destroy()

    recovery = {"backlog_rows": backlog, "drained": drained, "drain_s": drain_s,
                "rate_per_s": round(backlog / drain_s, 1) if drain_s else None,
                "longest_backoff_left_at_recovery_s": round(max(wait_backoff, 0), 1),
                "retries_total": int(retries), "dead_lettered": dead}
    print_phases(healthy, down)
    print(f"  recovery: {backlog} rows drained in {drain_s} s ({recovery['rate_per_s']}/s); the longest backoff "
          f"still to wait at recovery was {recovery['longest_backoff_left_at_recovery_s']} s; "
          f"{recovery['retries_total']} retries, {dead} dead-lettered")
    ratios = {"p50": round(down["p50_ms"] / healthy["p50_ms"], 2), "p99": round(down["p99_ms"] / healthy["p99_ms"], 2)}
    targets = [report.target("down/healthy API p50 ratio (close to 1; no worse than 1.1)", ratios["p50"], "<", 1.1),
               report.target("down/healthy API p99 ratio (close to 1; no worse than 1.1)", ratios["p99"], "<", 1.1),
               report.target("API errors while authz is down", down["error_count"], "<", 1)]
    report.print_targets(targets)
    return report.write_result("outage", cfg, {"healthy": healthy, "down": down, "ratios": ratios,
                                               "recovery": recovery}, targets, cond)
