"""api-read: what per-task authorization adds to GET /tasks/{id}. The same
task-api binary is started three times, with FGAC_TASKS_ENFORCE=off (the
baseline), shadow and enforce, against one Postgres and one authz server
(the reference server, real SpiceDB), and read with wrk over tasks the worker
has registered and over pending tasks (decided locally, no authz call). The
authz server's own check latency is measured directly beside it."""

import http.client
import json
import os
import re
import tempfile
import time

import report
import workload
from load import percentile, wrk
from stack import DEV_PRINCIPAL, DEV_TOKEN, AuthzServer, OutboxWorker, TaskApi, metric_sum, scrape

MODES = ("off", "shadow", "enforce")
CONCURRENCIES = (1, 16)
PENDING_CONCURRENCY = 16
WARMUP_S = 3
DRAIN_TIMEOUT_S = 120


def settings():
    return {"seconds_per_run": int(os.environ.get("BENCH_DURATION", "15")),
            "registered_tasks": int(os.environ.get("BENCH_READ_TASKS", "200")),
            "pending_tasks": int(os.environ.get("BENCH_READ_PENDING", "50")),
            "direct_checks": int(os.environ.get("BENCH_READ_CHECKS", "2000")),
            "modes": list(MODES), "concurrency": list(CONCURRENCIES), "pending_concurrency": PENDING_CONCURRENCY,
            "api_env": "FGAC_TASKS_ENFORCE=off|shadow|enforce, FGAC_TASKS_DUAL_WRITE=true, other settings default",
            "worker_running": False}


# ---------------------------------------------------------------- the tasks


def create_tasks(api, n, prefix):
    ids = []
    for i in range(n):
        status, body = api.post("/tasks", {"agent_name": workload.AGENT_NAME, "name": f"{prefix}-{i}",
                                           "params": {"k": 1}, "task_metadata": {}})
        if status != 201:
            raise RuntimeError(f"creating task {prefix}-{i} failed: {status} {body}")
        ids.append(body["id"])
    return ids


def register_all(pg, authz):
    """Runs outbox-worker until every task is registered and the outbox is empty, then stops it."""
    worker = OutboxWorker(pg, authz.url)
    worker.wait_ready()
    deadline = time.time() + DRAIN_TIMEOUT_S
    while True:
        outbox = int(pg.scalar("SELECT count(*) FROM authz_outbox"))
        unsynced = int(pg.scalar("SELECT count(*) FROM tasks WHERE authz_synced_at IS NULL"))
        if outbox == 0 and unsynced == 0:
            break
        if time.time() > deadline or not worker.process.alive():
            raise RuntimeError(f"outbox not drained: {outbox} outbox rows, {unsynced} tasks unsynced\n"
                               + worker.process.tail())
        time.sleep(workload.DRAIN_POLL_S)
    worker.stop()


def ids_file(ids, name):
    fd, path = tempfile.mkstemp(prefix=f"fgac-bench-{name}-", suffix=".txt")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(ids) + "\n")
    return path


# ---------------------------------------------------------------- the API's authz metrics


def authz_figures(before, after):
    """What the API's /metrics say about one run: checks made, their mean latency, shadow drops, decisions."""
    def delta(name, **labels):
        return metric_sum(after, name, **labels) - metric_sum(before, name, **labels)

    classes = {m.group(1) for key in after
               if key.startswith("task_authz_checks_total{") and 'outcome="error"' in key
               for m in [re.search(r'exception_class="([^"]*)"', key)] if m}
    count = delta("task_authz_check_duration_seconds_count")
    seconds = delta("task_authz_check_duration_seconds_sum")
    return {"checks": int(delta("task_authz_checks_total")),
            "checks_by_outcome": {o: int(delta("task_authz_checks_total", outcome=o))
                                  for o in ("allowed", "denied", "error")},
            "errors_by_class": {c: int(delta("task_authz_checks_total", outcome="error", exception_class=c))
                                for c in sorted(classes)},
            "check_mean_ms": round(seconds / count * 1000, 3) if count else None,
            "shadow_dropped": int(delta("task_authz_shadow_dropped_total")),
            "decisions_by_source": {s: int(delta("task_authz_decisions_total", source=s))
                                    for s in ("spicedb", "pending_creator", "no_subject")}}


def settled(api, timeout_s=15):
    """/metrics once no shadow decision is in flight (each ends within the
    check timeout) and the decisions stopped moving (requests wrk left
    unanswered when it stopped are finished), so that no run counts what
    another one started."""
    deadline = time.time() + timeout_s
    last = None
    while True:
        m = scrape(api.monitor_port)
        moved = metric_sum(m, "task_authz_decisions_total") + metric_sum(m, "task_authz_checks_total")
        if (metric_sum(m, "task_authz_shadow_in_flight") == 0 and moved == last) or time.time() > deadline:
            return m
        last = moved
        time.sleep(0.2)


def read_run(api, path, connections, seconds):
    before = settled(api)
    r = wrk(api.port, "get_task.lua", [DEV_TOKEN, path], connections, seconds, "/tasks")
    r["authz"] = authz_figures(before, settled(api))
    r["bad_responses"] = r["non_2xx"] + r["error_count"]
    r["checks_per_request"] = round(r["authz"]["checks"] / r["requests"], 3) if r["requests"] else None
    return r


# ---------------------------------------------------------------- the check itself


def direct_checks(authz, tasks, n):
    """n POST /v1/authz/check, one at a time on one keep-alive connection, with
    the body the API sends for a read (alice, the task's zedtoken); latency as
    this Python client sees it (its own overhead included)."""
    conn = http.client.HTTPConnection("127.0.0.1", authz.port, timeout=10)
    headers = {"Content-Type": "application/json"}
    bodies = [json.dumps({"principal": DEV_PRINCIPAL, "resource": {"type": "task", "selector": task_id},
                          "operation": "read", **({"zedtoken": z} if z else {})}) for task_id, z in tasks]
    latencies, statuses = [], {}
    try:
        for i in range(n):
            t0 = time.perf_counter()
            conn.request("POST", "/v1/authz/check", body=bodies[i % len(bodies)], headers=headers)
            res = conn.getresponse()
            res.read()
            latencies.append(time.perf_counter() - t0)
            statuses[res.status] = statuses.get(res.status, 0) + 1
    finally:
        conn.close()
    latencies.sort()
    return {"requests": n, "concurrency": 1, "statuses": {str(k): v for k, v in statuses.items()},
            "p50_ms": round(percentile(latencies, 50) * 1000, 3), "p99_ms": round(percentile(latencies, 99) * 1000, 3),
            "mean_ms": round(sum(latencies) / n * 1000, 3), "max_ms": round(latencies[-1] * 1000, 3)}


# ---------------------------------------------------------------- the run


def added(run, base):
    return {"p50_added_ms": round(run["p50_ms"] - base["p50_ms"], 3),
            "p99_added_ms": round(run["p99_ms"] - base["p99_ms"], 3),
            "p50_ratio": round(run["p50_ms"] / base["p50_ms"], 2) if base["p50_ms"] else None,
            "p99_ratio": round(run["p99_ms"] / base["p99_ms"], 2) if base["p99_ms"] else None}


def mode_runs(pg, authz, files, seconds):
    """Every mode's reads of the registered tasks at each concurrency, then of the pending ones."""
    runs = []
    for mode in MODES:
        api = TaskApi(pg, authz, dual_write=True, extra_env={"FGAC_TASKS_ENFORCE": mode}, name=f"task-api-{mode}")
        wrk(api.port, "get_task.lua", [DEV_TOKEN, files["registered"]], 16, WARMUP_S, "/tasks")
        plan = [("registered", c) for c in CONCURRENCIES] + [("pending", PENDING_CONCURRENCY)]
        for tasks, c in plan:
            r = read_run(api, files[tasks], c, seconds)
            runs.append({"mode": mode, "tasks": tasks, "concurrency": c, **r})
            a = r["authz"]
            print(f"  {mode} {tasks} c={c}: {r['rate_per_s']}/s p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms, "
                  f"{r['bad_responses']} non-2xx or errors; {a['checks']} checks"
                  + (f" (mean {a['check_mean_ms']} ms)" if a["check_mean_ms"] is not None else "")
                  + (f", {a['shadow_dropped']} shadow dropped" if mode == "shadow" else ""))
        api.stop()
    return runs


def print_runs(runs, direct):
    print()
    report.print_table(
        ["mode", "tasks", "conc", "req/s", "p50", "p99", "non-2xx+err", "checks/req", "check mean", "shadow dropped",
         "p50 added", "p99 added", "p50 x", "p99 x"],
        [[r["mode"], r["tasks"], r["concurrency"], r["rate_per_s"], r["p50_ms"], r["p99_ms"], r["bad_responses"],
          r["checks_per_request"], r["authz"]["check_mean_ms"] if r["authz"]["check_mean_ms"] is not None else "-",
          r["authz"]["shadow_dropped"] if r["mode"] == "shadow" else "-",
          *([r["vs_off"]["p50_added_ms"], r["vs_off"]["p99_added_ms"], r["vs_off"]["p50_ratio"],
             r["vs_off"]["p99_ratio"]] if r["vs_off"] else ["-"] * 4)]
         for r in runs])
    print("latencies in ms; 'added' and 'x' are against mode=off on the same tasks at the same concurrency; "
          "'check mean' is task_authz_check_duration_seconds sum/count over the run")
    print(f"authz server's check measured directly (concurrency 1): p50 {direct['p50_ms']} ms, "
          f"p99 {direct['p99_ms']} ms, mean {direct['mean_ms']} ms")
    warn_unexpected(runs)


def warn_unexpected(runs):
    # A shadow decision that fails (an exception in the API) is logged at info and counted nowhere else:
    # checks well short of the requests in shadow on registered tasks are the sign of one.
    for r in runs:
        a = r["authz"]
        if a["checks_by_outcome"]["error"] or a["checks_by_outcome"]["denied"]:
            print(f"warning: {r['mode']} {r['tasks']} c={r['concurrency']}: checks {a['checks_by_outcome']}, "
                  f"errors by class {a['errors_by_class']}")
        if r["mode"] != "off" and r["tasks"] == "registered" and \
                a["checks"] + a["shadow_dropped"] < 0.99 * (r["requests"] - r["bad_responses"]):
            print(f"warning: {r['mode']} {r['tasks']} c={r['concurrency']}: {a['checks']} checks and "
                  f"{a['shadow_dropped']} shadow drops for {r['requests']} requests")


def run():
    cfg = settings()
    seconds = cfg["seconds_per_run"]
    cond, pg = report.begin("api-read: GET /tasks/{id} with FGAC_TASKS_ENFORCE=off (baseline), shadow, enforce")
    authz = AuthzServer()
    setup_api = TaskApi(pg, authz, dual_write=True, name="task-api-setup")
    setup_api.create_agent(workload.AGENT_NAME)
    registered = create_tasks(setup_api, cfg["registered_tasks"], "registered")
    register_all(pg, authz)
    pending = create_tasks(setup_api, cfg["pending_tasks"], "pending")  # no worker runs from here on
    setup_api.stop()
    tokens = dict(pg.sql("SELECT id::text, coalesce(authz_zedtoken, '') FROM tasks WHERE authz_synced_at IS NOT NULL"))
    if len(tokens) != len(registered) or any(not tokens.get(i) for i in registered):
        raise RuntimeError("some registered tasks have no zedtoken")
    print(f"{len(registered)} tasks registered by outbox-worker (outbox empty, worker stopped), "
          f"{len(pending)} pending (never registered), all created by user-alice")
    files = {"registered": ids_file(registered, "registered"), "pending": ids_file(pending, "pending")}

    direct = direct_checks(authz, [(i, tokens[i]) for i in registered], cfg["direct_checks"])
    print(f"authz server's own check, {direct['requests']} POST /v1/authz/check at concurrency 1 from Python: "
          f"p50 {direct['p50_ms']} ms p99 {direct['p99_ms']} ms (statuses {direct['statuses']})")

    runs = mode_runs(pg, authz, files, seconds)
    for path in files.values():
        os.unlink(path)
    authz.stop()
    pg.destroy()

    def find(mode, tasks, c):
        return next(r for r in runs if r["mode"] == mode and r["tasks"] == tasks and r["concurrency"] == c)

    for r in runs:
        r["vs_off"] = None if r["mode"] == "off" else added(r, find("off", r["tasks"], r["concurrency"]))

    print_runs(runs, direct)
    bad = sum(r["bad_responses"] for r in runs)
    print("responses: all 2xx, no socket errors" if bad == 0 else
          f"responses: {bad} non-2xx or socket errors (see bench/results/api-read.json)")

    targets = [
        report.target("enforce p99 added at concurrency 16 (ms)",
                      find("enforce", "registered", 16)["vs_off"]["p99_added_ms"], "<", 5),
        report.target("shadow p99 added at concurrency 16 (ms)",
                      find("shadow", "registered", 16)["vs_off"]["p99_added_ms"], "<", 1),
        report.target("non-2xx responses and socket errors, all runs", bad, "<", 1),
    ]
    report.print_targets(targets)
    return report.write_result("api-read", cfg, {"runs": runs, "direct_check": direct}, targets, cond)
