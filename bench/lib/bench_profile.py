"""profile: the API's create path and the worker's delivery loop under
callgrind (instruction counts: repeatable, unlike timings on a shared VM),
and their system calls under strace -c (the kernel side, which callgrind does
not see and which dominates the worker's CPU). Counters are zeroed after a
warm-up and read after a fixed amount of work, so the figures are per request
and per delivery."""

import http.client
import json
import os
import re
import signal
import subprocess
import time

import report
import workload
from stack import AuthzServer, OutboxWorker, Postgres, TaskApi, migrate

RESULTS = report.RESULTS_DIR
CALLGRIND = ["valgrind", "--tool=callgrind", "--trace-children=no", "--separate-threads=no"]


def settings():
    return {"api_requests": int(os.environ.get("BENCH_PROFILE_REQUESTS", "500")),
            "worker_deliveries": int(os.environ.get("BENCH_PROFILE_DELIVERIES", "1000")), "tool": "callgrind"}


def control(pid, *args):
    subprocess.run(["callgrind_control", *args, str(pid)], capture_output=True, check=True)


def explicit_dump(prefix, pid):
    """The dump callgrind_control --dump wrote (PREFIX.PID.1), not the one written at exit."""
    return os.path.join(RESULTS, f"{prefix}{pid}.1")


def annotate(path, per, top=25):
    """Total instructions per unit of work, and the top functions (inclusive and self)."""
    out = {}
    # Self costs are left out: at -O2 most of the event loop is inlined into main, so callgrind_annotate
    # books it as main's own cost; the inclusive view still shows where the instructions go.
    for mode in ("inclusive",):
        r = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", path], capture_output=True,
                           text=True, check=True)
        total = int(re.search(r"([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", r.stdout).group(1).replace(",", ""))
        funcs = []
        for m in re.finditer(r"^\s*([\d,]+) \(\s*([\d.]+)%\)\s+(\S.*)$", r.stdout, re.M):
            name = m.group(3)
            if "PROGRAM TOTALS" in name:
                continue
            funcs.append({"ir_per_unit": round(int(m.group(1).replace(",", "")) / per), "percent": float(m.group(2)),
                          "function": name[:200]})
            if len(funcs) >= top:
                break
        out[mode] = funcs
        out["ir_per_unit"] = round(total / per)
    return out


class KeepAliveClient:
    """POST /tasks over one keep-alive connection, as a real client (and wrk) would."""

    def __init__(self, port, agent):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.agent = agent

    def create(self, name):
        body = json.dumps({"agent_name": self.agent, "name": name, "params": {"k": 1}, "task_metadata": {}})
        self.conn.request("POST", "/tasks", body=body, headers={"Authorization": "Bearer dev-user-token",
                                                                 "Content-Type": "application/json"})
        res = self.conn.getresponse()
        res.read()
        if res.status != 201:
            raise RuntimeError(f"create failed: {res.status}")


def profile_api(pg, authz, n):
    dump_prefix = "callgrind.api."
    api = TaskApi(pg, authz, dual_write=True, name="task-api-callgrind",
                  wrapper=CALLGRIND + [f"--callgrind-out-file={RESULTS}/{dump_prefix}%p"])
    api.create_agent(workload.AGENT_NAME)
    client = KeepAliveClient(api.port, workload.AGENT_NAME)
    for i in range(50):
        client.create(f"warm-{i}")
    control(api.pid, "--zero")
    for i in range(n):
        client.create(f"prof-{i}")
    control(api.pid, "--dump")
    time.sleep(1)
    api.stop()
    return annotate(explicit_dump(dump_prefix, api.pid), n)


def profile_worker(pg, authz, n):
    dump_prefix = "callgrind.worker."
    agent_id = workload.create_agent_sql(pg)
    worker = OutboxWorker(pg, authz.url, name="outbox-worker-callgrind",
                          wrapper=CALLGRIND + [f"--callgrind-out-file={RESULTS}/{dump_prefix}%p"])
    worker.wait_ready()
    workload.fill_outbox(pg, 50, agent_id)
    workload.wait_delivered(pg, 120)
    control(worker.pid, "--zero")
    pg.sql("TRUNCATE task_agents, tasks, authz_outbox")
    workload.fill_outbox(pg, n, agent_id)
    if not workload.wait_delivered(pg, 600):
        raise RuntimeError("the worker under callgrind did not drain in time")
    control(worker.pid, "--dump")
    time.sleep(1)
    worker.stop()
    return annotate(explicit_dump(dump_prefix, worker.pid), n)


def syscalls(pid, work, timeout=600):
    """Runs work() with strace -c -f attached to pid; {syscall: calls}."""
    out = os.path.join(RESULTS, f"strace.{pid}.txt")
    tracer = subprocess.Popen(["strace", "-c", "-f", "-o", out, "-p", str(pid)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    time.sleep(1)  # attached to every thread
    work()
    tracer.send_signal(signal.SIGINT)
    tracer.wait(timeout)
    calls = {}
    with open(out) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
                calls[parts[-1]] = int(parts[3])
    return calls


def trace_api(pg, authz, n):
    api = TaskApi(pg, authz, dual_write=True, name="task-api-strace")
    api.create_agent(workload.AGENT_NAME + "-strace")
    client = KeepAliveClient(api.port, workload.AGENT_NAME + "-strace")
    client.create("strace-warm")

    def work():
        for i in range(n):
            client.create(f"strace-{i}")

    calls = syscalls(api.pid, work)
    api.stop()
    return per_unit(calls, n)


def trace_worker(pg, authz, n):
    agent_id = workload.create_agent_sql(pg)
    worker = OutboxWorker(pg, authz.url, name="outbox-worker-strace")
    worker.wait_ready()

    def work():
        workload.fill_outbox(pg, n, agent_id)
        workload.wait_delivered(pg, 600)

    calls = syscalls(worker.pid, work)
    worker.stop()
    return per_unit(calls, n)


def per_unit(calls, n):
    top = sorted(calls.items(), key=lambda kv: -kv[1])[:8]
    return {"syscalls_per_unit": round(sum(calls.values()) / n, 1),
            "top": {name: round(count / n, 2) for name, count in top}}


def print_profile(title, prof, unit):
    print(f"\n{title}: {prof['ir_per_unit']:,} instructions and {prof['syscalls']['syscalls_per_unit']} system"
          f" calls per {unit}")
    print("  system calls: " + ", ".join(f"{k} {v}" for k, v in prof["syscalls"]["top"].items()))
    print("  inclusive (top 25):")
    for f in prof["inclusive"][:25]:
        print(f"    {f['percent']:5.1f}%  {f['ir_per_unit']:>9,}  {f['function'][:110]}")


def run():
    cfg = settings()
    cond = report.conditions()
    print("== profile: callgrind over the API create path and the worker delivery loop ==")
    report.print_conditions(cond)
    os.makedirs(RESULTS, exist_ok=True)
    for f in os.listdir(RESULTS):
        if f.startswith(("callgrind.", "strace.")):
            os.remove(os.path.join(RESULTS, f))
    pg = Postgres(report.PG_SETTINGS)
    migrate(pg)
    authz = AuthzServer()
    api = profile_api(pg, authz, cfg["api_requests"])
    pg.sql("TRUNCATE task_agents, tasks, authz_outbox, agents")
    worker = profile_worker(pg, authz, cfg["worker_deliveries"])
    pg.sql("TRUNCATE task_agents, tasks, authz_outbox, agents")
    api["syscalls"] = trace_api(pg, authz, cfg["api_requests"])
    pg.sql("TRUNCATE task_agents, tasks, authz_outbox, agents")
    worker["syscalls"] = trace_worker(pg, authz, cfg["worker_deliveries"])
    authz.stop()
    pg.destroy()
    print_profile("task-api, POST /tasks", api, "request")
    print_profile("outbox-worker, delivery loop", worker, "delivery")
    print(f"\ncallgrind files: {os.path.relpath(RESULTS, report.REPO)}/callgrind.* (callgrind_annotate FILE)")
    return report.write_result("profile", cfg, {"api_create": api, "worker_delivery": worker}, [], cond)
