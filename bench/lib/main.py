"""Entry point: main.py BENCHMARK. The bench/ commands call it after setup."""

import importlib
import sys

# Each benchmark: the module that runs it and the function to call.
BENCHMARKS = {
    "api-create": ("bench_api", "run"),
    "api-read": ("bench_read", "run"),
    "worker-drain": ("bench_worker", "run_drain"),
    "worker-sink": ("bench_sink", "run"),
    "steady-lag": ("bench_worker", "run_steady"),
    "peer": ("bench_peer", "run"),
    "outage": ("bench_outage", "run"),
    "backfill": ("bench_backfill", "run"),
    "profile": ("bench_profile", "run"),
}


def run(name):
    if name not in BENCHMARKS:
        raise SystemExit(f"unknown benchmark {name}; one of {', '.join(BENCHMARKS)}")
    module, function = BENCHMARKS[name]
    return getattr(importlib.import_module(module), function)()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: main.py {{{'|'.join(BENCHMARKS)}}}")
    run(sys.argv[1])
