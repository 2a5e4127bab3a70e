"""What the benchmarks put into the database and how they read the outcome:
the API's own create statement (captured from the running API), backlogs
for either worker, drains and steady-state runs, and the lag from the
enqueuing transaction to the recorded delivery."""

import json
import re
import time

from stack import DEV_PRINCIPAL, DEV_TOKEN, Usage, cpu_seconds, mem_kib

AGENT_NAME = "bench-agent"
PRINCIPAL_JSON = json.dumps(DEV_PRINCIPAL)
DRAIN_POLL_S = 0.5

# ---------------------------------------------------------------- the API's create statement


def capture_create_statement(pg, api):
    """Logs every statement for one POST /tasks and returns the API's create
    statement with its parameters, exactly as the API executed them."""
    pg.sql("ALTER SYSTEM SET log_statement = 'all'")
    pg.sql("SELECT pg_reload_conf()")
    time.sleep(0.5)  # backends pick the reload up before their next command
    status, task = api.post("/tasks", {"agent_name": AGENT_NAME, "name": "capture-probe", "params": {"k": 1},
                                       "task_metadata": {}})
    pg.sql("ALTER SYSTEM RESET log_statement")
    pg.sql("SELECT pg_reload_conf()")
    if status != 201:
        raise RuntimeError(f"probe create failed: {status} {task}")
    # Records start with the log_line_prefix marker (see PG_SETTINGS).
    records = re.split(r"\n(?=@@\d+@@ )", pg.log_text())
    for i, rec in enumerate(records):
        m = re.match(r"@@(\d+)@@ LOG:  execute (outbox_insert_task_and_enqueue): (.*)", rec, re.S)
        if not m:
            continue
        detail = next((r for r in records[i + 1:] if r.startswith(f"@@{m.group(1)}@@ DETAIL:  parameters:")), None)
        if detail is None:
            continue
        params = {}
        for pm in re.finditer(r"\$(\d+) = (NULL|'((?:[^']|'')*)')", detail):
            params[int(pm.group(1))] = None if pm.group(2) == "NULL" else pm.group(3).replace("''", "'")
        if task["id"] not in params.values():
            continue  # another create (the warm-up), not the probe
        # Did the API wrap it in BEGIN ... COMMIT (three round trips) or run it alone (autocommit)?
        before = next((r for r in reversed(records[:i]) if r.startswith(f"@@{m.group(1)}@@ LOG:  ")), "")
        return {"name": m.group(2), "sql": m.group(3).strip(), "params": params, "task_id": task["id"],
                "task_name": "capture-probe", "explicit_transaction": before.endswith("statement: BEGIN")}
    raise RuntimeError("could not find the API's create statement in the server log")


def create_script(stmt, dual_write=True):
    """The API's create statement as a pgbench script, between BEGIN and
    COMMIT only if the API sends them too. The task id is drawn server-side
    (gen_random_uuid(): pgbench cannot format a UUID) and the name is a fresh
    random number per transaction; every other parameter keeps the API's value."""
    defines = {}

    def substitute(m):
        n = int(m.group(1))
        value = stmt["params"][n]
        if value is None:
            return "NULL"
        if value == stmt["task_id"]:
            return "gen_random_uuid()"
        if value == stmt["task_name"]:
            return ":name"
        if value in ("true", "t", "false", "f"):  # the dual-write flag
            value = "true" if dual_write else "false"
        defines[f"p{n}"] = value
        return f":p{n}"

    body = re.sub(r"\$(\d+)", substitute, stmt["sql"])
    script = "\\set name random(1, 9000000000000000000)\n"
    if stmt["explicit_transaction"]:
        script += "BEGIN;\n" + body + ";\nCOMMIT;\n"
    else:
        script += body + ";\n"
    return script, defines


def peer_create_script(stmt):
    """For graphile-worker: the same create statement with dual-write off (no
    outbox row), and in the same transaction graphile-worker's own enqueue."""
    script, defines = create_script({**stmt, "explicit_transaction": False}, dual_write=False)
    add_job = ("SELECT graphile_worker.add_job('register', json_build_object("
               "'resource_id', t.id, 'parent_id', ta.agent_id, 'principal', :principal::json)) "
               "FROM tasks t JOIN task_agents ta ON ta.task_id = t.id WHERE t.name = :name::text;\n")
    defines["principal"] = PRINCIPAL_JSON
    head, create = script.split("\n", 1)
    return head + "\nBEGIN;\n" + create + add_job + "COMMIT;\n", defines


# ---------------------------------------------------------------- backlogs


def create_agent_sql(pg):
    return pg.scalar(f"INSERT INTO agents (id, name, description) VALUES (gen_random_uuid(), '{AGENT_NAME}', "
                     "'benchmark') ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id")


def _insert_tasks(n, agent_id):
    return (f"WITH t AS (INSERT INTO tasks (id, name, status, params, task_metadata, creator_user_id, created_at,"
            f" updated_at) SELECT gen_random_uuid(), 'backlog-' || g, 'RUNNING', '{{\"k\":1}}', '{{}}',"
            f" 'user-alice', now(), now() FROM generate_series(1, {n}) g RETURNING id),"
            f" l AS (INSERT INTO task_agents (task_id, agent_id, created_at)"
            f" SELECT id, '{agent_id}', now() FROM t)")


def fill_outbox(pg, n, agent_id):
    """n tasks created with dual-write on: each has its pending register row."""
    pg.sql(_insert_tasks(n, agent_id) +
           " INSERT INTO authz_outbox (resource_type, resource_id, parent_type, parent_id, principal, desired,"
           f" generation, enqueued_at) SELECT 'task', id::text, 'agent', '{agent_id}', '{PRINCIPAL_JSON}'::jsonb,"
           " 'present', 1, now() FROM t")
    pg.sql("VACUUM ANALYZE tasks, task_agents, authz_outbox")
    pg.sql("CHECKPOINT")


def fill_peer_jobs(pg, n, agent_id):
    """n tasks with dual-write off, each with its graphile-worker register job."""
    pg.sql(_insert_tasks(n, agent_id) +
           " SELECT count(graphile_worker.add_job('register', json_build_object('resource_id', id, 'parent_id',"
           f" '{agent_id}', 'principal', '{PRINCIPAL_JSON}'::json))) FROM t")
    pg.sql("VACUUM ANALYZE")
    pg.sql("CHECKPOINT")


# ---------------------------------------------------------------- outcomes


def undelivered(pg):
    return int(pg.scalar("SELECT count(*) FROM tasks WHERE authz_synced_at IS NULL AND name <> 'capture-probe'"))


def wait_delivered(pg, timeout_s, process=None):
    deadline = time.time() + timeout_s
    while True:
        left = undelivered(pg)
        if left == 0:
            return True
        if time.time() > deadline or (process is not None and not process.alive()):
            return False
        time.sleep(DRAIN_POLL_S)


def delivery_stats(pg):
    """Deliveries and lag from the commit of the task's creating transaction
    to the completion that recorded the acknowledged register (authz_synced_at,
    the completing statement's now()). The commit time is that of the task's
    task_agents row (track_commit_timestamp): written by the same transaction
    and, unlike the task row, never updated by a worker."""
    row = pg.sql("""
      WITH d AS (
        SELECT t.authz_synced_at AS delivered,
               extract(epoch FROM t.authz_synced_at - pg_xact_commit_timestamp(ta.xmin)) AS lag
          FROM tasks t JOIN task_agents ta ON ta.task_id = t.id
         WHERE t.authz_synced_at IS NOT NULL AND t.name <> 'capture-probe')
      SELECT count(*), extract(epoch FROM min(delivered)), extract(epoch FROM max(delivered)),
             percentile_cont(0.5) WITHIN GROUP (ORDER BY lag), percentile_cont(0.99) WITHIN GROUP (ORDER BY lag),
             max(lag)
        FROM d""")[0]
    if int(row[0]) == 0:
        return {"delivered": 0}
    return {"delivered": int(row[0]), "first_at": float(row[1]), "last_at": float(row[2]),
            "lag_p50_ms": round(float(row[3]) * 1000, 1), "lag_p99_ms": round(float(row[4]) * 1000, 1),
            "lag_max_ms": round(float(row[5]) * 1000, 1)}


def process_figures(pid, deliveries):
    cpu = cpu_seconds(pid)
    return {"cpu_s": round(cpu, 2), "cpu_s_per_1000": round(cpu / max(deliveries, 1) * 1000, 3),
            "rss_peak_mib": round(mem_kib(pid, "VmHWM") / 1024, 1)}


def drain(pg, n, start_worker, timeout_s, on_done=None):
    """Starts a worker over a backlog of n rows and waits until all are
    delivered; on_done() runs the moment they are (its result is kept)."""
    pg_cpu0 = pg.backends_cpu()
    t0 = time.time()
    worker = start_worker()
    done = wait_delivered(pg, timeout_s, worker.process)
    at_done = on_done() if on_done else None
    figures = process_figures(worker.pid, n)
    pg_cpu = pg.backends_cpu() - pg_cpu0
    worker.stop()
    stats = delivery_stats(pg)
    # Delivered/s in each fifth of the drain: flat unless something (the growing graph, vacuum) slows it down.
    fifths = pg.sql("""
      SELECT q, (count(*) - 1) / nullif(extract(epoch FROM max(authz_synced_at) - min(authz_synced_at)), 0)
        FROM (SELECT authz_synced_at, ntile(5) OVER (ORDER BY authz_synced_at) AS q
                FROM tasks WHERE authz_synced_at IS NOT NULL) x
       GROUP BY q ORDER BY q""")
    stats["rate_by_fifth_per_s"] = [round(float(r[1]), 1) if r[1] else None for r in fifths]
    out = {"rows": n, "completed": done, **stats, **figures, **(at_done or {}),
           "postgres_cpu_s_per_1000": round(pg_cpu / max(n, 1) * 1000, 3)}
    if stats["delivered"]:
        out["wall_s"] = round(stats["last_at"] - t0, 2)
        # From the first delivery to the last: start-up (process, connections) excluded for either worker.
        span = stats["last_at"] - stats["first_at"]
        out["rate_per_s"] = round((stats["delivered"] - 1) / span, 1) if span > 0 else None
        out["rate_incl_startup_per_s"] = round(stats["delivered"] / out["wall_s"], 1)
    return out


def steady(pg, script, defines, rate, seconds, worker, clients=4):
    """Creates tasks at a fixed rate (pgbench -R: Poisson arrivals) while a
    worker keeps up; lag over every task of the run."""
    from load import pgbench  # noqa: PLC0415 - keeps this module free of the load tools otherwise

    def load():
        r = pgbench(pg, script, clients, seconds, defines, rate=rate)
        return {"created_per_s": r["rate_per_s"], "create_tx_p50_ms": r["p50_ms"], "create_tx_p99_ms": r["p99_ms"]}

    return _steady(pg, rate, seconds, worker, load)


def steady_api(pg, api, clients, think_ms, rate, seconds, worker):
    """Creates tasks through task-api (wrk, paced by think time) while a
    worker keeps up: the API's own commit and post-commit NOTIFY path. Lag
    over every task of the run."""
    from load import wrk  # noqa: PLC0415 - keeps this module free of the load tools otherwise

    def load():
        r = wrk(api.port, "create_task.lua", [AGENT_NAME, DEV_TOKEN, "steady", think_ms], clients, seconds, "/tasks")
        return {"created_per_s": r["rate_per_s"], "create_errors": r["error_count"], "create_p50_ms": r["p50_ms"],
                "create_p99_ms": r["p99_ms"]}

    return _steady(pg, rate, seconds, worker, load)


def _steady(pg, rate, seconds, worker, load):
    """Runs load() (the creates) while the worker keeps up, then waits for the last delivery."""
    usage = Usage(worker.pid)
    pg_cpu0 = pg.backends_cpu()
    created = load()
    done = wait_delivered(pg, 60, worker.process)
    used = usage.read()
    pg_cpu = pg.backends_cpu() - pg_cpu0
    stats = delivery_stats(pg)
    delivered = max(stats["delivered"], 1)
    return {"target_rate_per_s": rate, "seconds": seconds, **created, "completed": done, **stats,
            "cpu_s": used["cpu_s"], "cpu_s_per_1000": round(used["cpu_s"] / delivered * 1000, 3),
            "rss_peak_mib": used["rss_peak_mib"], "postgres_cpu_s_per_1000": round(pg_cpu / delivered * 1000, 3)}
