"""backfill: a million tasks created with dual-write off, then `taskctl
backfill` registers them through outbox-worker and the reference authz server
while task-api takes live creates. The backfill is killed once part-way and
started again (it must resume, registering every task once). Figures: time to
all synced, rate against the server's register ceiling, the live creates'
p99 while it runs (against the same creates before it), their registration
lag, and the backfill's own progress lines."""

import os
import threading
import time

import report
import workload
from bench_worker import measure_ceiling
from load import wrk
from stack import (DEV_TOKEN, AuthzServer, OutboxWorker, Process, TaskApi, bin_dir, cpu_seconds, mem_kib,
                   metric_sum, scrape)

CHUNK = 100_000  # tasks per INSERT while filling
LIVE_CLIENTS = 2
LIVE_THINK_MS = 40  # each live connection waits this long between creates: ~45 creates/s in all
LIVE_WINDOW_S = 10  # wrk runs back to back in windows this long while the backfill runs
KILL_AT = 0.3  # the first backfill run is killed (SIGKILL) once this share of the tasks is synced
POLL_S = 0.5


def settings():
    return {"tasks": int(os.environ.get("BENCH_BACKFILL_TASKS", "1000000")),
            "worker_concurrency": int(os.environ.get("BENCH_BACKFILL_CONCURRENCY", "64")),
            "ceiling_seconds": int(os.environ.get("BENCH_CEILING_SECONDS", "20")),
            "taskctl_args": os.environ.get("BENCH_BACKFILL_ARGS", ""),
            "taskctl": "backfill (defaults: --batch 1000 --max-pending 1000)", "live_clients": LIVE_CLIENTS,
            "live_think_ms": LIVE_THINK_MS, "live_window_s": LIVE_WINDOW_S, "kill_at_fraction": KILL_AT}


def fill_flag_off(pg, n, agent_id):
    """n tasks as the API writes them with dual-write off: task and link, no outbox row."""
    for start in range(0, n, CHUNK):
        count = min(CHUNK, n - start)
        pg.sql(f"WITH t AS (INSERT INTO tasks (id, name, status, params, task_metadata, creator_user_id, created_at,"
               f" updated_at) SELECT gen_random_uuid(), 'flag-off-' || g, 'RUNNING', '{{\"k\":1}}', '{{}}',"
               f" 'user-alice', now(), now() FROM generate_series({start + 1}, {start + count}) g RETURNING id)"
               f" INSERT INTO task_agents (task_id, agent_id, created_at) SELECT id, '{agent_id}', now() FROM t",
               timeout=1800)
    pg.sql("VACUUM ANALYZE tasks, task_agents", timeout=1800)
    pg.sql("CHECKPOINT")


def synced(pg):
    return int(pg.scalar("SELECT count(*) FROM tasks WHERE authz_synced_at IS NOT NULL AND name LIKE 'flag-off-%'"))


class LiveCreates:
    """Creates through the API in back-to-back wrk windows until stopped."""

    def __init__(self, api):
        self.api = api
        self.windows = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def one_window(self, prefix):
        return wrk(self.api.port, "create_task.lua", [workload.AGENT_NAME, DEV_TOKEN, prefix, LIVE_THINK_MS],
                   LIVE_CLIENTS, LIVE_WINDOW_S, "/tasks")

    def start(self):
        self._thread.start()

    def _run(self):
        n = 0
        while not self._stop.is_set():
            n += 1
            self.windows.append(self.one_window(f"live-{n}"))

    def stop(self):
        self._stop.set()
        self._thread.join()


def backfill_process(pg, name):
    # BENCH_BACKFILL_ARGS: extra taskctl options, e.g. "--rate 1500" to leave the live traffic headroom.
    extra = os.environ.get("BENCH_BACKFILL_ARGS", "").split()
    return Process(name, [os.path.join(bin_dir(), "taskctl"), "backfill", *extra], env={"DATABASE_URL": pg.url})


def run_backfill(pg, total):
    """First run killed at KILL_AT, second run to the end; returns their logs and timings."""
    t0 = time.time()
    first = backfill_process(pg, "taskctl-backfill-1")
    while synced(pg) < total * KILL_AT and first.alive():
        time.sleep(POLL_S)
    killed_at = synced(pg)
    first.stop(sig=9)
    second = backfill_process(pg, "taskctl-backfill-2")
    second.proc.wait()
    enqueue_done = time.time() - t0
    while synced(pg) < total:
        time.sleep(POLL_S)
    return {"killed_at_synced": killed_at, "first_log": first.tail(600), "second_log": second.tail(1500),
            "second_exit": second.proc.returncode, "enqueue_s": round(enqueue_done, 1), "t0": t0}


def live_lag(pg):
    row = pg.sql("""
      SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY lag), percentile_cont(0.99) WITHIN GROUP (ORDER BY lag)
        FROM (SELECT extract(epoch FROM t.authz_synced_at - pg_xact_commit_timestamp(ta.xmin)) AS lag
                FROM tasks t JOIN task_agents ta ON ta.task_id = t.id
               WHERE t.name LIKE 'live-%' AND t.authz_synced_at IS NOT NULL) d""")[0]
    return {"live_delivered": int(row[0]), "live_lag_p50_ms": round(float(row[1] or 0) * 1000, 1),
            "live_lag_p99_ms": round(float(row[2] or 0) * 1000, 1)}


def print_summary(n, results, second_log):
    print(f"  first run killed at {results['killed_at_synced']} synced; second run exit "
          f"{results['second_run_exit']}, its output:")
    for line in second_log.strip().splitlines()[-6:]:
        print(f"    | {line}")
    print(f"  all {n} synced in {results['elapsed_to_all_synced_s']} s: {results['rate_per_s']}/s "
          f"({results['ratio_to_ceiling']:.0%} of the ceiling); registers delivered {results['registers_delivered']:.0f} "
          f"for {n} + {results['live_created']} live tasks")
    print(f"  live creates during it: p99 worst window {results['live_p99_worst_window_ms']} ms, median window "
          f"{results['live_p99_median_window_ms']} ms (before: {results['live_before']['p99_ms']} ms); their "
          f"registration lag p50 {results['live_lag_p50_ms']} ms, p99 {results['live_lag_p99_ms']} ms")


def run():
    cfg = settings()
    n = cfg["tasks"]
    cond, pg = report.begin(f"backfill: {n} tasks created with dual-write off, then taskctl backfill with live creates")
    authz = AuthzServer()
    ceiling = measure_ceiling(authz, cfg["ceiling_seconds"], connections=cfg["worker_concurrency"])
    print(f"  authz register ceiling (wrk, {cfg['worker_concurrency']} connections): {ceiling['rate_per_s']}/s")
    authz.restart()
    agent_id = workload.create_agent_sql(pg)
    t_fill = time.time()
    fill_flag_off(pg, n, agent_id)
    print(f"  filled {n} flag-off tasks in {time.time() - t_fill:.0f} s")

    api = TaskApi(pg, authz, dual_write=True, name="task-api-backfill")
    worker = OutboxWorker(pg, authz.url, concurrency=cfg["worker_concurrency"])
    worker.wait_ready()
    live = LiveCreates(api)
    before = live.one_window("before")
    print(f"  live creates before: {before['rate_per_s']}/s, p50 {before['p50_ms']} ms, p99 {before['p99_ms']} ms")

    pg_cpu0, worker_cpu0 = pg.backends_cpu(), cpu_seconds(worker.pid)
    live.start()
    bf = run_backfill(pg, n)
    live.stop()
    elapsed = time.time() - bf["t0"]
    worker_cpu = cpu_seconds(worker.pid) - worker_cpu0
    pg_cpu = pg.backends_cpu() - pg_cpu0
    registers = metric_sum(scrape(worker.monitor_port), "task_fgac_dual_write_success_total", op="register")
    # Every task the API created, the "before" window's too.
    live_created = int(pg.scalar("SELECT count(*) FROM tasks WHERE name NOT LIKE 'flag-off-%'"))
    lag = live_lag(pg)
    rss = round(mem_kib(worker.pid, "VmHWM") / 1024, 1)
    worker.stop()
    api.stop()
    authz.stop()
    pg.destroy()

    during = [w for w in live.windows if w["requests"]]
    worst_p99 = max((w["p99_ms"] for w in during), default=None)
    rate = round(n / elapsed, 1)
    results = {
        "ceiling": ceiling, "elapsed_to_all_synced_s": round(elapsed, 1), "rate_per_s": rate,
        "ratio_to_ceiling": round(rate / ceiling["rate_per_s"], 3), "enqueue_s": bf["enqueue_s"],
        "killed_at_synced": bf["killed_at_synced"], "second_run_exit": bf["second_exit"],
        "registers_delivered": registers, "live_created": live_created,
        "duplicates_or_losses": registers - (n + live_created),
        "live_before": before, "live_windows": during, "live_p99_worst_window_ms": worst_p99,
        "live_p99_median_window_ms": sorted(w["p99_ms"] for w in during)[len(during) // 2] if during else None,
        **lag, "worker_cpu_s_per_1000": round(worker_cpu / n * 1000, 3),
        "postgres_cpu_s_per_1000": round(pg_cpu / n * 1000, 3), "worker_rss_peak_mib": rss,
        "progress_first_run": bf["first_log"], "progress_second_run": bf["second_log"]}
    print_summary(n, results, bf["second_log"])
    targets = [
        report.target("backfill rate / authz register ceiling", results["ratio_to_ceiling"], ">=", 0.90),
        report.target("live create p99 while it runs, worst 10 s window (ms)", worst_p99, "<", 25),
        report.target("registers delivered minus tasks (0: none lost, none twice)",
                      abs(results["duplicates_or_losses"]), "<", 1),
    ]
    report.print_targets(targets)
    return report.write_result("backfill", cfg, results, targets, cond)
