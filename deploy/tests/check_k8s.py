"""Checks a rendered kustomization against the binaries' defaults."""
import sys

import yaml

# What the binaries serve by default (common/, service/config.cpp, outbox_worker/worker_config.cpp).
MONITOR_PORTS = {"task-api": 8081, "outbox-worker": 8082}
HTTP_PORT = 8080
WORKER_GRACE_S = 20


def main(name, path):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    problems = []
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)

    for kind, want in {"Deployment": 2, "Service": 2, "PodDisruptionBudget": 2, "PodMonitor": 2, "Job": 1,
                       "ConfigMap": 1, "Secret": 1}.items():
        have = len(by_kind.get(kind, []))
        if have != want:
            problems.append(f"expected {want} {kind}, found {have}")

    pods = [(d["metadata"]["name"], d["spec"]["template"]["spec"]) for d in by_kind.get("Deployment", []) + by_kind.get("Job", [])]
    for owner, spec in pods:
        sc = spec.get("securityContext", {})
        if not sc.get("runAsNonRoot"):
            problems.append(f"{owner}: runAsNonRoot is not set")
        for c in spec["containers"]:
            image = c["image"]
            if ":" not in image or image.endswith(":latest"):
                problems.append(f"{owner}: image {image} must carry a pinned tag, not latest")
            if not image.split(":")[0].endswith("fgac-tasks"):
                problems.append(f"{owner}: unexpected image {image}")
            csc = c.get("securityContext", {})
            if not csc.get("readOnlyRootFilesystem"):
                problems.append(f"{owner}: readOnlyRootFilesystem is not set")
            if csc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{owner}: allowPrivilegeEscalation must be false")
            if "ALL" not in csc.get("capabilities", {}).get("drop", []):
                problems.append(f"{owner}: capabilities must drop ALL")
            if "resources" not in c or "limits" not in c["resources"] or "requests" not in c["resources"]:
                problems.append(f"{owner}: resource requests and limits are required")

    for d in by_kind.get("Deployment", []):
        name_ = d["metadata"]["name"]
        spec = d["spec"]["template"]["spec"]
        if d["spec"].get("replicas") != 2:
            problems.append(f"{name_}: expected 2 replicas")
        c = spec["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
        if name_ not in MONITOR_PORTS:
            problems.append(f"unexpected Deployment {name_}")
            continue
        if ports.get("monitor") != MONITOR_PORTS[name_]:
            problems.append(f"{name_}: monitor port {ports.get('monitor')} != {MONITOR_PORTS[name_]}")
        if name_ == "task-api" and ports.get("http") != HTTP_PORT:
            problems.append(f"{name_}: http port {ports.get('http')} != {HTTP_PORT}")
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            p = c.get(probe, {}).get("httpGet", {})
            if p.get("path") != path or p.get("port") not in ("monitor", MONITOR_PORTS[name_]):
                problems.append(f"{name_}: {probe} must GET {path} on the monitor port, got {p}")
        if name_ == "outbox-worker" and spec.get("terminationGracePeriodSeconds", 30) <= WORKER_GRACE_S:
            problems.append(f"{name_}: terminationGracePeriodSeconds must exceed the worker's {WORKER_GRACE_S} s grace")

    for m in by_kind.get("PodMonitor", []):
        for ep in m["spec"]["podMetricsEndpoints"]:
            if ep.get("port") != "monitor" or ep.get("path") != "/metrics":
                problems.append(f"PodMonitor {m['metadata']['name']}: must scrape port monitor path /metrics")

    job = by_kind.get("Job", [{}])[0]
    if job and job["spec"]["template"]["spec"]["containers"][0].get("command", [])[-2:] != ["/usr/local/bin/taskctl", "migrate"]:
        problems.append("the migration Job must run taskctl migrate")

    for p in problems:
        print(f"  FAIL {name}: {p}")
    print(f"  {name}: {len(docs)} objects, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
