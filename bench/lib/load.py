"""Load generators and what they measure: wrk (HTTP, with Lua scripts) and
pgbench (SQL), both closed-loop at a fixed number of connections, or pgbench
open-loop at a fixed rate."""

import glob
import json
import os
import re
import subprocess
import tempfile

from stack import PG_BIN, REPO

WRK_DIR = os.path.join(REPO, "bench", "lib", "wrk")


def wrk(port, script, args, connections, seconds, path="/"):
    threads = min(connections, 2)
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
            "-s", os.path.join(WRK_DIR, script), f"http://127.0.0.1:{port}{path}", "--", *map(str, args)]
    r = subprocess.run(argv, capture_output=True, text=True)
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if r.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({r.returncode}): {r.stdout}{r.stderr}")
    raw = json.loads(line[len("WRK_JSON "):])
    seconds_run = raw["duration_us"] / 1e6
    errors = sum(raw["errors"].values())
    # Counts a script reports of its own (get_task.lua: non_2xx).
    extra = {k: v for k, v in raw.items() if k not in ("requests", "duration_us", "errors", "latency_us")}
    return {**extra, "connections": connections, "threads": threads, "seconds": round(seconds_run, 2),
            "requests": raw["requests"], "rate_per_s": round(raw["requests"] / seconds_run, 1),
            "errors": raw["errors"], "error_count": errors,
            "p50_ms": raw["latency_us"]["p50"] / 1000, "p90_ms": raw["latency_us"]["p90"] / 1000,
            "p99_ms": raw["latency_us"]["p99"] / 1000, "mean_ms": round(raw["latency_us"]["mean"] / 1000, 3),
            "max_ms": raw["latency_us"]["max"] / 1000}


def percentile(sorted_values, q):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, int(round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def pgbench(pg, script, clients, seconds, defines=None, rate=None, session_options=None):
    """Runs a custom pgbench script with prepared statements; per-transaction
    latencies come from pgbench's own transaction log. session_options
    ({"name": "value"}) are set on every pgbench session, as PGOPTIONS -c."""
    work = tempfile.mkdtemp(prefix="fgac-pgbench-")
    script_path = os.path.join(work, "script.sql")
    with open(script_path, "w") as f:
        f.write(script)
    threads = min(clients, 2)
    argv = [f"{PG_BIN}/pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(threads), "-T", str(seconds),
            "-f", script_path, "-l", f"--log-prefix={work}/tx", pg.url]
    for k, v in (defines or {}).items():
        argv[1:1] = ["-D", f"{k}={v}"]
    if rate:
        argv[1:1] = ["-R", str(rate)]
    env = dict(os.environ)
    if session_options:
        env["PGOPTIONS"] = " ".join(f"-c {k}={v}" for k, v in session_options.items())
    r = subprocess.run(argv, capture_output=True, text=True, cwd=work, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"pgbench failed: {r.stdout}{r.stderr}")
    latencies = []
    for path in glob.glob(f"{work}/tx.*"):
        with open(path) as f:
            for line in f:
                parts = line.split()
                latencies.append(int(parts[2]))
    latencies.sort()
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", r.stdout).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", r.stdout)
    subprocess.run(["rm", "-rf", work])
    return {"clients": clients, "threads": threads, "seconds": seconds, "transactions": len(latencies),
            "rate_per_s": round(tps, 1), "failed": int(failed.group(1)) if failed else 0,
            "p50_ms": percentile(latencies, 50) / 1000, "p90_ms": percentile(latencies, 90) / 1000,
            "p99_ms": percentile(latencies, 99) / 1000,
            "mean_ms": round(sum(latencies) / len(latencies) / 1000, 3), "max_ms": latencies[-1] / 1000}
