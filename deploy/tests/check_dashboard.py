"""Checks the Grafana rollout dashboard.

  check_dashboard.py DASHBOARD.json
      structure: unique panel ids, every panel has a query, queries use the
      datasource variable and only metrics the binaries export; then a
      self-test of the live check against a throwaway local Prometheus
      (with nothing scraped every query must fail; with a stand-in exporter
      of every metric every query must return series).
  check_dashboard.py DASHBOARD.json --prometheus http://127.0.0.1:9090
      structure, then every panel query through /api/v1/query of that
      Prometheus; fails when a query errors or returns no series.
"""
import argparse
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

# Grafana's variables, replaced by fixed values before a query reaches Prometheus.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "5m"}
QUERY_TIMEOUT_S = 10

# What the binaries export (DESIGN.md "Metrics"), by type.
COUNTERS = {
    "task_fgac_dual_write_attempts_total": ["op"],
    "task_fgac_dual_write_success_total": ["op"],
    "task_fgac_dual_write_retries_total": ["op", "exception_class"],
    "task_fgac_dual_write_failures_total": ["op", "exception_class"],
    "http_requests_total": ["route", "method", "status"],
    "tasks_created_total": ["creator_kind"],
    "task_authz_decisions_total": ["operation", "mode", "decision", "source"],
    "task_authz_creator_denied_total": ["mode"],
    "task_authz_checks_total": ["outcome", "exception_class"],
    "task_authz_shadow_dropped_total": [],
}
HISTOGRAMS = {
    "task_fgac_dual_write_request_duration_seconds": ["op"],
    "task_fgac_dual_write_lag_seconds": ["op"],
    "http_request_duration_seconds": ["route", "method"],
    "task_authz_check_duration_seconds": ["operation", "consistency"],
}
GAUGES = {"authz_outbox_pending": [], "authz_outbox_dead": [], "authz_outbox_oldest_pending_age_seconds": [],
          "task_fgac_dual_write_breaker_open": [], "task_authz_shadow_in_flight": [], "task_authz_breaker_open": []}
WORKER_METRICS = {m for m in {**COUNTERS, **HISTOGRAMS, **GAUGES} if m.startswith(("task_fgac", "authz_outbox"))}
KNOWN_METRICS = (
    set(COUNTERS) | set(GAUGES) | {"up"}
    | {h + suffix for h in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")}
)
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                "offset", "inf", "nan"}


def panels_of(dashboard):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows


def targets_of(dashboard):
    for panel in panels_of(dashboard):
        for target in panel.get("targets", []):
            yield panel, target


def metric_names(expr):
    """Metric names in a PromQL expression (selectors, not functions or labels)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    e = re.sub(r"\{[^}]*\}", " ", e)  # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)  # range and subquery windows
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)  # label lists
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        rest = e[m.end():].lstrip()
        if rest.startswith("(") or m.group(0).lower() in PROMQL_WORDS:
            continue
        if m.start() > 0 and (e[m.start() - 1].isdigit() or e[m.start() - 1] in ".$"):
            continue  # 1e3, $__rate_interval leftovers
        names.add(m.group(0))
    return names


def check_structure(dashboard):
    problems = []
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    ds = variables.get("datasource") or variables.get("DS_PROMETHEUS")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("no Prometheus datasource template variable (datasource or DS_PROMETHEUS)")
    panels = list(panels_of(dashboard))
    if not panels:
        problems.append("no panels")
    ids = [p.get("id") for p in panels if p.get("type") != "row"]
    dupes = sorted({i for i in ids if ids.count(i) > 1}, key=str)
    if dupes or None in ids:
        problems.append(f"panel ids must be present and unique (duplicates: {dupes})")
    for panel in panels:
        if panel.get("type") == "row":
            continue
        title = panel.get("title") or f"id {panel.get('id')}"
        targets = panel.get("targets", [])
        if not targets:
            problems.append(f"panel {title!r} has no query")
        refids = [t.get("refId") for t in targets]
        if len(refids) != len(set(refids)):
            problems.append(f"panel {title!r}: refIds are not unique")
        uid = (panel.get("datasource") or {}).get("uid", "")
        if not uid.startswith("$"):
            problems.append(f"panel {title!r}: datasource must be the template variable, not {uid!r}")
        if "gridPos" not in panel:
            problems.append(f"panel {title!r} has no gridPos")
        for t in targets:
            expr = (t.get("expr") or "").strip()
            if not expr:
                problems.append(f"panel {title!r} [{t.get('refId')}]: empty query")
                continue
            unknown = metric_names(expr) - KNOWN_METRICS
            if unknown:
                problems.append(f"panel {title!r} [{t.get('refId')}]: unknown metrics {sorted(unknown)}")
    return problems


def to_prometheus(expr):
    for var, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(var, value)
    return expr


def check_live(dashboard, base):
    """Runs every query; returns (problems, lines printed per query)."""
    problems = []
    for panel, target in targets_of(dashboard):
        label = f"{panel['title']} [{target['refId']}]"
        expr = to_prometheus(target["expr"])
        if "$" in expr:
            problems.append(f"{label}: unreplaced Grafana variable in {expr!r}")
            continue
        url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(url, timeout=QUERY_TIMEOUT_S) as resp:
                body = json.load(resp)
        except urllib.error.HTTPError as e:  # 400/422 carry Prometheus' error text
            detail = e.read().decode(errors="replace")[:300]
            print(f"  {label}: ERROR {e.code} {detail}")
            problems.append(f"{label}: query failed: {e.code} {detail}")
            continue
        except (urllib.error.URLError, OSError, ValueError) as e:
            print(f"  {label}: ERROR {e}")
            problems.append(f"{label}: query failed: {e}")
            continue
        if body.get("status") != "success":
            problems.append(f"{label}: status {body.get('status')}: {body.get('error')}")
            continue
        series = body.get("data", {}).get("result", [])
        print(f"  {label}: {len(series)} series")
        if not series:
            problems.append(f"{label}: no series")
    return problems


# ---------------------------------------------------------------- self-test

LABEL_VALUES = {
    "op": ["register", "deregister"],
    "exception_class": ["AuthenticationServiceUnavailableError", "ServiceError"],
    "route": ["/tasks", "/tasks/{id}"],
    "method": ["GET", "POST"],
    "status": ["201", "503"],
    "creator_kind": ["user", "service_account", "none"],
    "operation": ["read", "delete"],
    "mode": ["shadow", "enforce"],
    "decision": ["allow", "deny"],
    "source": ["spicedb", "pending_creator", "no_subject"],
    "consistency": ["at_least_as_fresh", "fully_consistent"],
    "outcome": ["allowed", "denied", "error"],
}
# Where one label name takes other values in another metric.
METRIC_LABEL_VALUES = {
    "task_authz_checks_total": {"exception_class": ["none", "timeout", "breaker_open"]},
}
BUCKETS = ["0.01", "0.1", "1", "10", "+Inf"]


def label_sets(names, metric=None):
    values = {**LABEL_VALUES, **METRIC_LABEL_VALUES.get(metric, {})}
    sets = [{}]
    for n in names:
        sets = [{**s, n: v} for s in sets for v in values[n]]
    return sets


def fmt(labels):
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""


def exposition(worker, tick):
    """Prometheus text for one binary's metrics, counters growing with tick."""
    lines = []
    for name, labels in COUNTERS.items():
        if (name in WORKER_METRICS) == worker:
            lines += [f"{name}{fmt(ls)} {10 * tick + i}" for i, ls in enumerate(label_sets(labels, name))]
    for name, labels in HISTOGRAMS.items():
        if (name in WORKER_METRICS) == worker:
            for ls in label_sets(labels, name):
                lines += [f"{name}_bucket{fmt({**ls, 'le': le})} {tick * (i + 1)}" for i, le in enumerate(BUCKETS)]
                lines += [f"{name}_sum{fmt(ls)} {tick}", f"{name}_count{fmt(ls)} {tick * len(BUCKETS)}"]
    for name in GAUGES:
        if (name in WORKER_METRICS) == worker:
            lines.append(f"{name} {tick % 7}")
    return "\n".join(lines) + "\n"


class Exporter(http.server.BaseHTTPRequestHandler):
    ticks = {"/worker": 0, "/api": 0}

    def do_GET(self):
        if self.path not in self.ticks:
            self.send_error(404)
            return
        self.ticks[self.path] += 1
        body = exposition(self.path == "/worker", self.ticks[self.path]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_prometheus(binary, workdir, scrape_port):
    port = free_port()
    config = os.path.join(workdir, f"prometheus-{port}.yml")
    with open(config, "w") as f:
        f.write("global: {scrape_interval: 1s, evaluation_interval: 1s}\n")
        if scrape_port:
            f.write("scrape_configs:\n")
            for job, path in (("task-api", "/api"), ("outbox-worker", "/worker")):
                f.write(f"  - job_name: {job}\n    metrics_path: {path}\n"
                        f"    static_configs: [{{targets: ['127.0.0.1:{scrape_port}']}}]\n")
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir}/data-{port}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=error"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, f"prometheus-{port}.log"), "w"))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prometheus exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"{base}/-/ready", timeout=1).close()
            return proc, base
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("prometheus did not become ready in 20 s")


def wait_for_series(base, expr, want, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=QUERY_TIMEOUT_S) as resp:
            if len(json.load(resp)["data"]["result"]) >= want:
                return True
        time.sleep(0.5)
    return False


def structure_self_test(dashboard):
    """Each breakage of a copy of the dashboard must be reported."""
    def broken(mutate):
        copy = json.loads(json.dumps(dashboard))
        mutate(copy)
        return check_structure(copy)

    def typo(d):
        t = d["panels"][0]["targets"][0]
        t["expr"] = t["expr"].replace("_total", "_totl", 1)

    cases = {
        "duplicate panel id": lambda d: d["panels"][1].update(id=d["panels"][0]["id"]),
        "empty query": lambda d: d["panels"][0]["targets"][0].update(expr=" "),
        "panel without targets": lambda d: d["panels"][0].update(targets=[]),
        "misspelt metric": typo,
        "hard-coded datasource": lambda d: d["panels"][0].update(datasource={"type": "prometheus", "uid": "abc"}),
        "no datasource variable": lambda d: d.update(templating={"list": []}),
    }
    problems = [f"structure self-test: {name} was not reported" for name, m in cases.items() if not broken(m)]
    print(f"check-dashboard: structure self-test: {len(cases) - len(problems)} of {len(cases)} breakages reported")
    return problems


def self_test(dashboard):
    binary = shutil.which("prometheus")
    if not binary:
        return ["self-test: the prometheus binary (Debian package prometheus) is required and was not found"]
    problems = []
    workdir = tempfile.mkdtemp(prefix="fgac-dashboard-")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Exporter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    procs = []
    try:
        print("check-dashboard: self-test 1: a Prometheus that scrapes nothing must fail every query")
        proc, base = start_prometheus(binary, workdir, None)
        procs.append(proc)
        found = check_live(dashboard, base)
        total = sum(1 for _ in targets_of(dashboard))
        if len(found) != total:
            problems.append(f"self-test 1: {total - len(found)} of {total} queries passed against an empty Prometheus")
        broken = {"panels": [{"id": 1, "title": "broken", "targets": [{"refId": "A", "expr": "sum(rate(up[1m]"}]}]}
        if not any("query failed" in p for p in check_live(broken, base)):
            problems.append("self-test 1: a malformed query was not reported as failed")

        print("check-dashboard: self-test 2: a Prometheus scraping every metric must answer every query")
        proc, base = start_prometheus(binary, workdir, server.server_address[1])
        procs.append(proc)
        # rate() over 1m needs two samples of each target (1 s scrapes).
        if not wait_for_series(base, "count_over_time(up[1m]) >= 3", 2, 30):
            problems.append("self-test 2: the stand-in exporter was not scraped within 30 s")
        else:
            found = check_live(dashboard, base)
            problems += [f"self-test 2: {p}" for p in found]
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        server.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dashboard")
    parser.add_argument("--prometheus", help="base URL of a live Prometheus, e.g. http://127.0.0.1:9090")
    args = parser.parse_args()
    with open(args.dashboard) as f:
        dashboard = json.load(f)

    panels = [p for p in panels_of(dashboard) if p.get("type") != "row"]
    print(f"check-dashboard: structure of {os.path.basename(args.dashboard)}: "
          f"{len(panels)} panels, {sum(1 for _ in targets_of(dashboard))} queries")
    problems = check_structure(dashboard)
    if not problems:
        if args.prometheus:
            print(f"check-dashboard: every query against {args.prometheus}")
            problems = check_live(dashboard, args.prometheus.rstrip("/"))
        else:
            problems = structure_self_test(dashboard) + self_test(dashboard)
    for p in problems:
        print(f"  FAIL {p}")
    print("check-dashboard: OK" if not problems else f"check-dashboard: FAILED ({len(problems)} problem(s))")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
