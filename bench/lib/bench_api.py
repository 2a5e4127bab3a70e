"""api-create: POST /tasks with dual-write on, against pgbench running the
API's own create statement on the same database, at the same concurrency."""

import os

import report
import workload
from load import pgbench, wrk
from stack import DEV_TOKEN, AuthzServer, PgBouncer, TaskApi, cpu_seconds, mem_kib

CONCURRENCIES = (1, 16, 64)
WARMUP_S = 3
# task-api's pool sessions defer the outbox trigger's NOTIFY (its notifier sends
# the wake-ups after commit, from a connection of its own); pgbench's sessions
# run the statement the same way. The notifier's NOTIFYs are load that the API
# carries and pgbench does not.
API_SESSION = {"fgac.outbox_notify": "deferred"}


def settings():
    return {"seconds_per_run": int(os.environ.get("BENCH_DURATION", "15")), "concurrency": list(CONCURRENCIES),
            "api_env": "FGAC_TASKS_DUAL_WRITE=true, other settings default (API_DB_POOL_SIZE=8)",
            "worker_running": False}


PGBOUNCER_CONCURRENCY = 16


def pgbouncer_run(pg, authz, seconds, direct):
    """The same creates through PgBouncer in transaction mode (DATABASE_STATEMENTS=unnamed, the session
    settings on the database as README's Deploying says), beside the direct run at the same concurrency."""
    pg.sql("ALTER DATABASE postgres SET statement_timeout = '5s'")
    pg.sql("ALTER DATABASE postgres SET fgac.outbox_notify = 'deferred'")
    bouncer = PgBouncer(pg)
    api = TaskApi(pg, authz, dual_write=True, name="task-api-pgbouncer",
                  extra_env={"DATABASE_URL": bouncer.url, "DATABASE_STATEMENTS": "unnamed"})
    try:
        c = PGBOUNCER_CONCURRENCY
        wrk(api.port, "create_task.lua", [workload.AGENT_NAME, DEV_TOKEN, "pgb-warm"], c, WARMUP_S, "/tasks")
        pg.sql("CHECKPOINT")
        r = wrk(api.port, "create_task.lua", [workload.AGENT_NAME, DEV_TOKEN, "pgb"], c, seconds, "/tasks")
    finally:
        api.stop()
        bouncer.stop()
        pg.sql("ALTER DATABASE postgres RESET statement_timeout")
        pg.sql("ALTER DATABASE postgres RESET fgac.outbox_notify")
    a = direct["api"]
    print(f"  via PgBouncer (transaction mode, DATABASE_STATEMENTS=unnamed) c={c}: {r['rate_per_s']}/s "
          f"p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms, {r['error_count']} errors; direct (prepared) "
          f"{a['rate_per_s']}/s p50 {a['p50_ms']} ms p99 {a['p99_ms']} ms; ratio {round(r['rate_per_s'] / a['rate_per_s'], 3)}")
    return {"concurrency": c, "pgbouncer": r, "direct": a, "rate_ratio": round(r["rate_per_s"] / a["rate_per_s"], 3)}


def run():
    cfg = settings()
    seconds = cfg["seconds_per_run"]
    cond, pg = report.begin("api-create: POST /tasks (dual-write on) vs pgbench of the same statement")
    authz = AuthzServer()
    api = TaskApi(pg, authz, dual_write=True)
    api.create_agent(workload.AGENT_NAME)
    stmt = workload.capture_create_statement(pg, api)
    script, defines = workload.create_script(stmt)
    how = "between BEGIN and COMMIT, as the API sends it" if stmt["explicit_transaction"] else \
        "alone (autocommit), as the API sends it"
    print(f"statement: {stmt['name']}, captured from the API's own execution; pgbench runs it {how}")

    wrk(api.port, "create_task.lua", [workload.AGENT_NAME, DEV_TOKEN, "warm"], 16, WARMUP_S, "/tasks")
    pgbench(pg, script, 16, WARMUP_S, defines, session_options=API_SESSION)

    rows = []
    for c in CONCURRENCIES:
        pg.sql("CHECKPOINT")
        cpu0 = cpu_seconds(api.pid)
        a = wrk(api.port, "create_task.lua", [workload.AGENT_NAME, DEV_TOKEN, f"c{c}"], c, seconds, "/tasks")
        a["api_cpu_s_per_1000"] = round((cpu_seconds(api.pid) - cpu0) / max(a["requests"], 1) * 1000, 3)
        pg.sql("CHECKPOINT")
        b = pgbench(pg, script, c, seconds, defines, session_options=API_SESSION)
        rows.append({"concurrency": c, "api": a, "pgbench": b,
                     "rate_ratio": round(a["rate_per_s"] / b["rate_per_s"], 3)})
        print(f"  c={c}: api {a['rate_per_s']}/s p50 {a['p50_ms']} ms p99 {a['p99_ms']} ms; "
              f"pgbench {b['rate_per_s']}/s p50 {b['p50_ms']} ms p99 {b['p99_ms']} ms")
    rss_peak = round(mem_kib(api.pid, "VmHWM") / 1024, 1)
    api.stop()
    pooled = pgbouncer_run(pg, authz, seconds, next(r for r in rows if r["concurrency"] == PGBOUNCER_CONCURRENCY))
    tasks = int(pg.scalar("SELECT count(*) FROM tasks"))
    outbox = int(pg.scalar("SELECT count(*) FROM authz_outbox"))
    authz.stop()
    pg.destroy()

    print()
    report.print_table(
        ["conc", "api/s", "api p50", "api p99", "errors", "pgbench/s", "pgb p50", "pgb p99", "api/pgbench"],
        [[r["concurrency"], r["api"]["rate_per_s"], r["api"]["p50_ms"], r["api"]["p99_ms"], r["api"]["error_count"],
          r["pgbench"]["rate_per_s"], r["pgbench"]["p50_ms"], r["pgbench"]["p99_ms"], r["rate_ratio"]]
         for r in rows])
    print(f"task-api peak RSS {rss_peak} MiB; {tasks} tasks and {outbox} outbox rows written (latencies in ms)")
    at16 = next(r for r in rows if r["concurrency"] == 16)
    targets = [
        report.target("API rate / pgbench rate at concurrency 16", at16["rate_ratio"], ">=", 0.70),
        report.target("API p99 at concurrency 16 (ms)", at16["api"]["p99_ms"], "<", 25),
        report.target("task-api peak RSS (MiB)", rss_peak, "<", 64),
    ]
    report.print_targets(targets)
    return report.write_result("api-create", {**cfg, "statement": stmt["sql"], "pgbench_script": script,
                                              "pgbench_session": API_SESSION},
                               {"runs": rows, "api_rss_peak_mib": rss_peak, "pgbouncer": pooled}, targets, cond)
