"""Renders docs/dashboard.png: the rollout dashboard's key panels from a real run.

Starts a throwaway stack (Postgres, the reference authz server, task-api,
outbox-worker) and a throwaway Prometheus scraping it every second, drives a
scripted rollout (flag off -> flag on -> backfill -> authz outage -> recovery ->
a few dead letters -> requeue), then runs the panels' own PromQL from
deploy/grafana/fgac-rollout.json through /api/v1/query_range and plots them.

  render_dashboard.py [--out PNG] [--data-out JSON] [--keep]
  render_dashboard.py --from-data JSON [--out PNG]      re-plot a saved run

Called by deploy/tests/render-dashboard, which installs what is missing first.
Environment: BIN_DIR (task-api, outbox-worker, taskctl), PG_BINDIR,
RATE_INTERVAL (what $__rate_interval becomes; default 15s).
"""
import argparse
import datetime
import http.client
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DASHBOARD = os.path.join(REPO, "deploy", "grafana", "fgac-rollout.json")
AUTHZ_SERVER = os.path.join(REPO, "deploy", "local", "authz-server", "server.js")

SCRAPE_INTERVAL_S = 1
QUERY_STEP_S = 1
TOKENS = ["dev-user-token", "dev-user2-token", "dev-sa-token"]

# The scenario, in seconds from the start of the load.
FLAG_OFF_S = 50          # flag off: creator columns fill, no outbox rows
BACKFILL_AFTER_ON_S = 30  # flag on, steady, then `taskctl backfill`
OUTAGE_AFTER_BACKFILL_S = 40
OUTAGE_S = 40            # authz answers 503 to register and deregister
RECOVERY_S = 80          # worker drains the backlog (backoff tail up to the 60 s cap)
DEAD_FAULT_S = 3         # authz answers 400 to register: permanent, dead-lettered
REQUEUE_AFTER_S = 30     # `taskctl outbox requeue --all`
TAIL_S = 25              # load after the requeue

# (panel ids from the dashboard JSON, title override or None, y unit, legend place, log y axis)
PANELS = [
    ([1, 2], "Dual-write attempts / successes by op", "ops", "upper right", False),
    ([4], None, "ops", "center right", False),
    ([5, 10], "Failures (dead-lettered) and dead letters", "short", "upper left", False),
    ([6], None, "s", "upper left", True),
    ([8], None, "short", "upper left", False),
    ([9], None, "s", "upper left", False),
    ([12], None, "ops", "lower center", False),
    ([16], None, "reqps", "center left", False),
    ([14], None, "s", "upper left", False),
]


def log(msg):
    print(f"[render-dashboard {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, resp.read()


def http_json(method, url, body=None, timeout=5.0):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def wait_http(name, url, proc=None, timeout_s=60):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode} before it was ready")
        try:
            if http_get(url, timeout=1)[0] == 200:
                return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{name} not ready at {url} after {timeout_s}s")


# ---------------------------------------------------------------- the stack

class Stack:
    def __init__(self, workdir, bin_dir, pg_bin):
        self.workdir = workdir
        self.logs = os.path.join(workdir, "logs")
        os.makedirs(self.logs)
        self.pg_bin = pg_bin
        self.procs = {}
        self.pg_dir = None
        self.as_pg = []
        # Copies, so a rebuild in the source tree during the run cannot swap a binary under us.
        self.bin = os.path.join(workdir, "bin")
        os.makedirs(self.bin)
        for name in ("task-api", "outbox-worker", "taskctl"):
            src = os.path.join(bin_dir, name)
            if not os.access(src, os.X_OK):
                raise RuntimeError(f"{src} is missing (build the project, or set BIN_DIR)")
            shutil.copy2(src, self.bin)
        self.ports = {k: free_port() for k in ("pg", "authz", "api", "api_monitor", "worker_monitor", "prometheus")}
        self.db_url = f"postgresql://postgres@127.0.0.1:{self.ports['pg']}/postgres"
        self.authz_url = f"http://127.0.0.1:{self.ports['authz']}"
        self.api_url = f"http://127.0.0.1:{self.ports['api']}"
        self.prom_url = f"http://127.0.0.1:{self.ports['prometheus']}"

    # Environment for a child: ours minus anything the binaries would read.
    def env(self, extra):
        prefixes = ("API_", "WORKER_", "AUTHN_", "AUTHZ_", "FGAC_", "AGENTEX_", "PG")
        names = {"DATABASE_URL", "MONITOR_ADDR", "LOG_LEVEL", "AUTH_DISABLED", "PRINCIPALS_FILE"}
        env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes) and k not in names}
        env.update(extra)
        return env

    def spawn(self, name, argv, extra_env):
        out = open(os.path.join(self.logs, f"{name}.log"), "a")
        proc = subprocess.Popen(argv, env=self.env(extra_env), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        self.procs[name] = proc
        return proc

    def stop(self, name, timeout_s=25):
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def start_postgres(self):
        self.pg_dir = tempfile.mkdtemp(prefix="fgac-render-pg-")
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            pw = pwd.getpwnam("postgres")
            os.chown(self.pg_dir, pw.pw_uid, pw.pw_gid)
            self.as_pg = ["runuser", "-u", "postgres", "--"]
        data = os.path.join(self.pg_dir, "data")
        subprocess.run(self.as_pg + [f"{self.pg_bin}/initdb", "-D", data, "-A", "trust", "-U", "postgres",
                                     "-E", "UTF8", "--no-sync", "--no-instructions"],
                       check=True, stdout=subprocess.DEVNULL)
        options = (f"-p {self.ports['pg']} -k {self.pg_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
                   " -c synchronous_commit=off -c full_page_writes=off")
        subprocess.run(self.as_pg + [f"{self.pg_bin}/pg_ctl", "-D", data, "-o", options,
                                     "-l", os.path.join(self.pg_dir, "server.log"), "-w", "-t", "60", "start"],
                       check=True, stdout=subprocess.DEVNULL)

    def stop_postgres(self):
        if not self.pg_dir:
            return
        subprocess.run(self.as_pg + [f"{self.pg_bin}/pg_ctl", "-D", os.path.join(self.pg_dir, "data"),
                                     "-m", "fast", "-w", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.pg_dir, ignore_errors=True)
        self.pg_dir = None

    def taskctl(self, *args):
        result = subprocess.run([os.path.join(self.bin, "taskctl"), *args],
                                env=self.env({"DATABASE_URL": self.db_url, "AGENTEX_AUTH_URL": self.authz_url}),
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"taskctl {' '.join(args)} failed ({result.returncode}): {result.stderr}{result.stdout}")
        return result.stdout

    def start_authz(self):
        proc = self.spawn("authz-server", ["node", AUTHZ_SERVER],
                          {"AUTHZ_HOST": "127.0.0.1", "AUTHZ_PORT": str(self.ports["authz"])})
        wait_http("authz server", f"{self.authz_url}/healthz", proc)

    def start_api(self, dual_write):
        proc = self.spawn("task-api", [os.path.join(self.bin, "task-api")], {
            "DATABASE_URL": self.db_url, "AGENTEX_AUTH_URL": self.authz_url,
            "FGAC_TASKS_DUAL_WRITE": "true" if dual_write else "false",
            "API_ADDR": "127.0.0.1", "API_PORT": str(self.ports["api"]), "MONITOR_ADDR": "127.0.0.1",
            "API_MONITOR_PORT": str(self.ports["api_monitor"])})
        wait_http("task-api", f"http://127.0.0.1:{self.ports['api_monitor']}/readyz", proc)

    def start_worker(self):
        proc = self.spawn("outbox-worker", [os.path.join(self.bin, "outbox-worker")], {
            "DATABASE_URL": self.db_url, "AGENTEX_AUTH_URL": self.authz_url, "MONITOR_ADDR": "127.0.0.1",
            "WORKER_MONITOR_PORT": str(self.ports["worker_monitor"]), "WORKER_ID": "render-worker"})
        wait_http("outbox-worker", f"http://127.0.0.1:{self.ports['worker_monitor']}/readyz", proc)

    def start_prometheus(self):
        binary = "/usr/bin/prometheus" if os.access("/usr/bin/prometheus", os.X_OK) else shutil.which("prometheus")
        config = os.path.join(self.workdir, "prometheus.yml")
        with open(config, "w") as f:
            f.write(f"global: {{scrape_interval: {SCRAPE_INTERVAL_S}s, evaluation_interval: {SCRAPE_INTERVAL_S}s}}\n"
                    "scrape_configs:\n")
            for job, port in (("task-api", self.ports["api_monitor"]), ("outbox-worker", self.ports["worker_monitor"])):
                f.write(f"  - job_name: {job}\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n")
        proc = self.spawn("prometheus", [binary, f"--config.file={config}",
                                         f"--storage.tsdb.path={self.workdir}/prometheus-data",
                                         f"--web.listen-address=127.0.0.1:{self.ports['prometheus']}",
                                         "--log.level=warn"], {})
        wait_http("prometheus", f"{self.prom_url}/-/ready", proc)

    def stop_all(self):
        for name in ("prometheus", "task-api", "outbox-worker", "authz-server"):
            self.stop(name)
        self.stop_postgres()

    def log_tails(self):
        for name in sorted(os.listdir(self.logs)):
            with open(os.path.join(self.logs, name), errors="replace") as f:
                tail = f.read()[-1500:]
            print(f"--- {name} (tail)\n{tail}", file=sys.stderr)

    # ------------------------------------------------------------ helpers

    def faults(self, spec):
        if spec is None:
            req = urllib.request.Request(f"{self.authz_url}/_admin/faults", method="DELETE")
            urllib.request.urlopen(req, timeout=5).close()
        else:
            http_json("POST", f"{self.authz_url}/_admin/faults", spec)

    def worker_gauge(self, name):
        _, body = http_get(f"http://127.0.0.1:{self.ports['worker_monitor']}/metrics")
        for line in body.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None


# ---------------------------------------------------------------- the load

class Load(threading.Thread):
    """A modest, steady mix: ~3 creates/s, ~1 delete/s, reads, a few client errors."""

    def __init__(self, api_url, agents):
        super().__init__(daemon=True)
        self.host, self.port = urllib.parse.urlsplit(api_url).hostname, urllib.parse.urlsplit(api_url).port
        self.agents = agents
        self.running = threading.Event()
        self.stopped = threading.Event()
        self.idle = threading.Event()
        self.protect = False  # tasks created meanwhile are never deleted (the dead letters' story)
        self.tasks = []       # (id, created_monotonic)
        self.protected = set()
        self.counts = {}
        self.conn = None
        self.n = 0

    def call(self, method, path, token, body=None):
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
                headers = {"Authorization": f"Bearer {token}"}
                data = None
                if body is not None:
                    data = json.dumps(body)
                    headers["Content-Type"] = "application/json"
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                self.counts[resp.status] = self.counts.get(resp.status, 0) + 1
                return resp.status, (json.loads(raw) if raw else None)
            except (OSError, http.client.HTTPException, ValueError):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 1:
                    self.counts["conn-error"] = self.counts.get("conn-error", 0) + 1
        return None, None

    def tick(self):
        self.n += 1
        token = TOKENS[self.n % 3]
        agent = self.agents[self.n % len(self.agents)]
        name = f"t-{uuid.uuid4().hex[:12]}"
        if token == "dev-sa-token" and self.n % 2:
            status, body = self.call("POST", f"/agents/name/{agent}/rpc", token,
                                     {"jsonrpc": "2.0", "id": self.n, "method": "task/create",
                                      "params": {"name": name, "params": {}}})
            task = (body or {}).get("result") if status == 200 else None
        else:
            status, task = self.call("POST", "/tasks", token, {"agent_name": agent, "name": name,
                                                               "params": {"n": self.n}, "task_metadata": {}})
            task = task if status == 201 else None
        if task and "id" in task:
            self.tasks.append((task["id"], time.monotonic()))
            if self.protect:
                self.protected.add(task["id"])
        if self.n % 3 == 0:  # delete a task that is a few seconds old (its register usually delivered)
            old = [i for i, (tid, at) in enumerate(self.tasks)
                   if time.monotonic() - at > 5 and tid not in self.protected]
            if old:
                tid, _ = self.tasks.pop(random.choice(old))
                self.call("DELETE", f"/tasks/{tid}", TOKENS[0])
        if self.n % 3 == 1 and self.tasks:
            self.call("GET", f"/tasks/{random.choice(self.tasks)[0]}", TOKENS[0])
        if self.n % 15 == 0:
            self.call("GET", f"/tasks?agent_name={agent}&limit=20&page_number=1", token)
        if self.n % 20 == 0:
            self.call("GET", f"/tasks/{uuid.uuid4()}", token)  # 404
        if self.n % 40 == 0:
            self.call("GET", "/tasks/not-a-uuid", token)       # 422

    def run(self):
        while not self.stopped.is_set():
            if not self.running.is_set():
                if self.conn is not None:
                    self.conn.close()
                    self.conn = None
                self.idle.set()
                self.running.wait(0.2)
                continue
            self.idle.clear()
            started = time.monotonic()
            self.tick()
            time.sleep(max(0.0, 0.33 - (time.monotonic() - started)))

    def pause(self):
        self.running.clear()
        self.idle.wait(15)

    def resume(self):
        self.idle.clear()
        self.running.set()


# ---------------------------------------------------------------- scenario

def start_stack(stack, agents):
    stack.start_postgres()
    log(f"Postgres on 127.0.0.1:{stack.ports['pg']}; applying migrations")
    stack.taskctl("migrate")
    stack.start_authz()
    stack.start_worker()
    stack.start_api(dual_write=False)
    stack.start_prometheus()
    log(f"stack up: API {stack.api_url}, Prometheus {stack.prom_url}, logs in {stack.logs}")
    for agent in agents:
        req = urllib.request.Request(f"{stack.api_url}/agents", data=json.dumps({"name": agent}).encode(),
                                     method="POST", headers={"Content-Type": "application/json",
                                                             "Authorization": "Bearer dev-user-token"})
        urllib.request.urlopen(req, timeout=5).close()
    time.sleep(3 * SCRAPE_INTERVAL_S)


def inject_fault(stack, spans, fault, label, colour):
    """The authz server answers `fault` for its for_s seconds; the span is drawn on the picture."""
    t0 = time.time()
    stack.faults(fault)
    time.sleep(fault["for_s"])
    stack.faults(None)
    spans.append((label, t0, time.time(), colour))


def wind_down(stack, load):
    """Stops the load, waits for the outbox to empty, and lets Prometheus scrape the quiet end."""
    load.pause()
    load.stopped.set()
    t_load_end = time.time()
    log(f"load stopped; responses: {dict(sorted(load.counts.items(), key=str))}")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if stack.worker_gauge("authz_outbox_pending") == 0 and stack.worker_gauge("authz_outbox_dead") == 0:
            break
        time.sleep(1)
    log("  " + stack.taskctl("outbox", "status").strip().replace("\n", "\n  "))
    time.sleep(max(0.0, 12 - (time.time() - t_load_end)))  # a few scrapes of the quiet end


def run_scenario(stack):
    events = []   # (label, unix time)
    spans = []    # (label, unix start, unix end, colour)
    now = time.time
    agents = ["render-agent-a", "render-agent-b"]
    start_stack(stack, agents)

    load = Load(stack.api_url, agents)
    load.start()
    t_start = now()
    log(f"phase 1: flag off, load for {FLAG_OFF_S}s")
    load.resume()
    time.sleep(FLAG_OFF_S)

    log("phase 2: flag on (restarting task-api with FGAC_TASKS_DUAL_WRITE=true)")
    load.pause()
    stack.stop("task-api")
    stack.start_api(dual_write=True)
    t_on = now()
    spans.append(("flag off", t_start, t_on, "#9e9e9e"))
    events.append(("flag on", t_on))
    load.resume()
    time.sleep(BACKFILL_AFTER_ON_S)

    log("phase 3: taskctl backfill (registers the flag-off tasks)")
    events.append(("backfill", now()))
    out = stack.taskctl("backfill")
    log("  " + out.strip().replace("\n", "\n  "))
    time.sleep(OUTAGE_AFTER_BACKFILL_S)

    log(f"phase 4: authz outage, 503 on register/deregister for {OUTAGE_S}s")
    inject_fault(stack, spans, {"status": 503, "rate": 1.0, "ops": ["register", "deregister"], "for_s": OUTAGE_S},
                 "authz 503", "#e53935")
    log(f"phase 5: recovery, {RECOVERY_S}s")
    time.sleep(RECOVERY_S)

    log(f"phase 6: authz answers 400 to register for {DEAD_FAULT_S}s (dead letters)")
    load.protect = True
    inject_fault(stack, spans, {"status": 400, "rate": 1.0, "ops": ["register"], "for_s": DEAD_FAULT_S},
                 "authz 400", "#fb8c00")
    load.protect = False
    time.sleep(REQUEUE_AFTER_S)
    log("  " + stack.taskctl("outbox", "status").strip().replace("\n", "\n  "))

    log("phase 7: taskctl outbox requeue --all")
    events.append(("requeue", now()))
    log("  " + stack.taskctl("outbox", "requeue", "--all").strip())
    time.sleep(TAIL_S)
    wind_down(stack, load)
    return {"start": t_start - 5, "load_start": t_start, "end": now(), "events": events, "spans": spans}


def dashboard_panels():
    """The dashboard's title and its panels by id."""
    with open(DASHBOARD) as f:
        dashboard = json.load(f)
    by_id = {}
    for panel in dashboard["panels"]:
        by_id[panel.get("id")] = panel
        for sub in panel.get("panels", []):
            by_id[sub.get("id")] = sub
    return dashboard, by_id


def threshold_lines(panel):
    """The thresholds a panel draws as lines in Grafana."""
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    if defaults.get("custom", {}).get("thresholdsStyle", {}).get("mode") != "line":
        return []
    return [step["value"] for step in defaults.get("thresholds", {}).get("steps", []) if step.get("value") is not None]


def query_panels(prom_url, timeline, rate_interval):
    dashboard, by_id = dashboard_panels()
    panels = []
    for ids, title, unit, _, _ in PANELS:
        queries = []
        for pid in ids:
            panel = by_id[pid]
            for target in panel["targets"]:
                expr = target["expr"].replace("$__rate_interval", rate_interval)
                params = {"query": expr, "start": f"{timeline['start']:.3f}", "end": f"{timeline['end']:.3f}",
                          "step": f"{QUERY_STEP_S}s"}
                url = f"{prom_url}/api/v1/query_range?" + urllib.parse.urlencode(params)
                with urllib.request.urlopen(url, timeout=30) as resp:
                    body = json.load(resp)
                if body.get("status") != "success":
                    raise RuntimeError(f"{panel['title']}: {body}")
                queries.append({"panel": panel["title"], "panel_type": panel.get("type"), "expr": expr,
                                "legend": target.get("legendFormat", ""), "result": body["data"]["result"]})
        panels.append({"title": title or by_id[ids[0]]["title"], "unit": unit, "queries": queries})
    # The lag histogram's bucket bounds: a quantile between two bounds is a linear interpolation.
    params = {"query": 'count by (le) (task_fgac_dual_write_lag_seconds_bucket{job="outbox-worker"})',
              "time": f"{timeline['end']:.3f}"}
    with urllib.request.urlopen(f"{prom_url}/api/v1/query?" + urllib.parse.urlencode(params), timeout=30) as resp:
        les = [r["metric"]["le"] for r in json.load(resp)["data"]["result"]]
    lag_buckets = sorted(float(le) for le in les if le != "+Inf")
    return {"dashboard": dashboard.get("title"), "rate_interval": rate_interval, "scrape_interval_s": SCRAPE_INTERVAL_S,
            "timeline": timeline, "panels": panels, "lag_buckets": lag_buckets}


# ---------------------------------------------------------------- plot

def legend_of(fmt, metric):
    out = fmt
    for k, v in metric.items():
        out = out.replace("{{" + k + "}}", v)
    return out.replace("{{", "").replace("}}", "").strip() or "value"


def plot_series(ax, panel, t0, palette, fixed):
    """Draws every series of the panel's queries; returns how many were drawn and their peak."""
    n, peak = 0, 0.0
    for q in panel["queries"]:
        for series in q["result"]:
            label = legend_of(q["legend"], series["metric"])
            xs, ys = [], []
            for ts, value in series["values"]:
                v = float(value)
                xs.append(float(ts) - t0)
                ys.append(v if v == v and abs(v) != float("inf") else float("nan"))
            if not xs or all(y != y for y in ys):
                continue
            colour = fixed.get(series["metric"].get("op") or series["metric"].get("creator_kind"))
            style = {"lw": 1.4}
            if "attempts" in q["expr"] or label.startswith("p50"):
                style = {"lw": 1.1, "ls": "--"}
            if q["panel"] == "Dead letters":
                label, style, colour = "dead rows (authz_outbox_dead)", {"lw": 2.0}, "#6d4c41"
            elif q["panel"].startswith("Failures"):
                label = f"{label} (increase)"
            elif "attempts" in q["expr"]:
                label = f"{label} attempts"
            elif "success" in q["expr"]:
                label = f"{label} successes"
            if colour is None:
                colour = palette[(n + 2) % len(palette)] if panel["title"].startswith("Dual") else None
            ax.plot(xs, ys, label=label, color=colour, **style)
            peak = max([peak] + [y for y in ys if y == y])
            n += 1
    return n, peak


def scale_axis(ax, panel, log_y, peak, lag_buckets):
    """The y scale, its unit label and the note on interpolated quantiles."""
    from matplotlib.ticker import FuncFormatter
    if log_y:
        ax.set_yscale("log")
        ax.set_ylim(0.005, 5000)  # room above the data for the note
        ax.yaxis.set_major_formatter(FuncFormatter(
            lambda y, _: f"{y * 1000:g} ms" if y < 1 else f"{y:g} s"))
    else:
        ax.set_ylim(0, peak * 1.2 if peak > 0 else 1)  # headroom for legends and notes
    if log_y and len(lag_buckets) >= 2:
        below, top = lag_buckets[-2:]
        if peak > below:
            ax.text(0.99, 0.97, f"above {below:g} s a quantile is interpolated inside the histogram's\n"
                    f"{below:g}-{top:g} s bucket; Oldest pending age bounds the real lag",
                    transform=ax.transAxes, ha="right", va="top", fontsize=7.5, color="#555")
    unit = panel["unit"]
    if unit == "s":
        ax.set_ylabel("seconds")
    elif unit in ("ops", "reqps"):
        ax.set_ylabel("per second")
    else:
        ax.set_ylabel("rows")


def draw_thresholds(ax, thresholds, unit, t_end):
    suffix = " s" if unit == "s" else ""
    for value in thresholds:
        if value <= ax.get_ylim()[1]:
            ax.axhline(value, color="#d32f2f", ls="--", lw=1)
            ax.text(t_end, value, f"dashboard threshold {value:g}{suffix} ", color="#d32f2f", fontsize=7.5,
                    ha="right", va="bottom")
        else:
            ax.text(0.99, 0.97, f"dashboard threshold {value:g}{suffix} (above this scale)",
                    transform=ax.transAxes, color="#d32f2f", fontsize=7.5, ha="right", va="top")


def plot_panel(ax, panel, spec, data, by_id, style):
    """One dashboard panel on its axes; `style` holds t0, t_first, t_end, palette, fixed and first_row."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator
    ids, _, _, legend_loc, log_y = spec
    t0 = style["t0"]
    thresholds = [v for pid in ids for v in threshold_lines(by_id[pid])]
    title = panel["title"] + ("  (log scale)" if log_y else "")
    ax.set_title(title, loc="left", pad=16 if style["first_row"] else 6)
    for name, start, end, colour in data["timeline"]["spans"]:
        ax.axvspan(start - t0, end - t0, color=colour, alpha=0.12 if name != "flag off" else 0.10, lw=0)
    for name, at in data["timeline"]["events"]:
        ax.axvline(at - t0, color="#555555", ls=":", lw=1)
    n, peak = plot_series(ax, panel, t0, style["palette"], style["fixed"])
    if n == 0:
        ax.text(0.5, 0.5, "no series", transform=ax.transAxes, ha="center", color="#888")
    scale_axis(ax, panel, log_y, peak, data.get("lag_buckets", []))
    draw_thresholds(ax, thresholds, panel["unit"], style["t_end"])
    if n:
        ax.legend(loc=legend_loc, ncol=1 if n <= 4 else 2, framealpha=0.85)
    ax.set_xlim(style["t_first"], style["t_end"])
    ax.xaxis.set_major_locator(MultipleLocator(60))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{int(x // 60)}:{int(x % 60):02d}"))


def decorate_figure(fig, axes, data, t0):
    """Event names along the top, the spans' legend, the title and the run's conditions."""
    from matplotlib.patches import Patch
    # Event names once, along the top edge of the first row.
    for ax in axes[0]:
        top = ax.secondary_xaxis("top")
        top.set_xticks([at - t0 for _, at in data["timeline"]["events"]])
        top.set_xticklabels([name for name, _ in data["timeline"]["events"]], fontsize=8, color="#333")
        top.tick_params(length=3, pad=1)
    for ax in axes[-1]:
        ax.set_xlabel("time since the load started (m:ss)")

    handles = [Patch(color=c, alpha=0.3, label=n) for n, _, _, c in data["timeline"]["spans"]]
    labels = {"flag off": "flag off (FGAC_TASKS_DUAL_WRITE=false)",
              "authz 503": "authz outage: 503 on register/deregister",
              "authz 400": "authz rejects registers with 400 (dead letters)"}
    for h in handles:
        h.set_label(labels.get(h.get_label(), h.get_label()))
    fig.legend(handles=handles, loc="upper right", ncol=3, frameon=False, fontsize=9, bbox_to_anchor=(0.995, 0.995))
    fig.suptitle(f"{data['dashboard']}, from a real run", x=0.01, ha="left", fontsize=14, fontweight="bold", y=0.993)
    when = datetime.datetime.fromtimestamp(data["timeline"]["start"], datetime.timezone.utc)
    when = when.strftime("%Y-%m-%d %H:%M UTC")
    fig.text(0.01, 0.005,
             f"Run of {when}: task-api + outbox-worker (default settings), the reference authz server (SpiceDB), "
             f"Postgres 15; ~3 creates/s and ~1 delete/s; Prometheus scraping every {data['scrape_interval_s']}s.\n"
             f"Every panel plots the dashboard's own PromQL (deploy/grafana/fgac-rollout.json; "
             f"Failures and Dead letters share a plot) through /api/v1/query_range, "
             f"with $__rate_interval = {data['rate_interval']}. "
             f"Regenerate: deploy/tests/render-dashboard.",
             fontsize=8.5, color="#444", va="bottom")


def plot(data, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = data["timeline"].get("load_start", data["timeline"]["start"] + 5)
    plt.rcParams.update({"font.size": 9, "axes.titlesize": 10.5, "axes.titleweight": "bold",
                         "legend.fontsize": 7.5, "axes.grid": True, "grid.alpha": 0.3})
    fig, axes = plt.subplots(3, 3, figsize=(16, 10), dpi=100, sharex=True)
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    style = {"t0": t0, "t_first": data["timeline"]["start"] - t0, "t_end": data["timeline"]["end"] - t0,
             "palette": palette,
             "fixed": {"register": palette[0], "deregister": palette[1], "user": palette[0],
                       "service_account": palette[1], "none": palette[3]}}
    _, by_id = dashboard_panels()
    for ax, panel, spec in zip(axes.flat, data["panels"], PANELS):
        plot_panel(ax, panel, spec, data, by_id, {**style, "first_row": ax in axes[0]})
    decorate_figure(fig, axes, data, t0)
    fig.tight_layout(rect=(0, 0.035, 1, 0.965))
    fig.savefig(out, dpi=100)
    log(f"wrote {out}")


# ---------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(REPO, "docs", "dashboard.png"))
    parser.add_argument("--data-out", help="also save the query results as JSON")
    parser.add_argument("--from-data", help="plot a saved JSON instead of running the scenario")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, Prometheus data)")
    args = parser.parse_args()

    if args.from_data:
        with open(args.from_data) as f:
            plot(json.load(f), args.out)
        return 0

    bin_dir = os.environ.get("BIN_DIR") or os.path.join(REPO, "build", "bin")
    pg_bin = os.environ.get("PG_BINDIR") or "/usr/lib/postgresql/15/bin"
    workdir = tempfile.mkdtemp(prefix="fgac-render-")
    stack = Stack(workdir, bin_dir, pg_bin)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)

    ok = False
    try:
        timeline = run_scenario(stack)
        data = query_panels(stack.prom_url, timeline, os.environ.get("RATE_INTERVAL", "15s"))
        if args.data_out:
            with open(args.data_out, "w") as f:
                json.dump(data, f)
        plot(data, args.out)
        ok = True
    except BaseException:
        stack.log_tails()
        raise
    finally:
        stack.stop_all()
        if args.keep or not ok:
            log(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
