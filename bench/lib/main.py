"""Entry point: main.py BENCHMARK. The bench/ commands call it after setup."""

import sys

BENCHMARKS = ("api-create", "api-read", "worker-drain", "worker-sink", "steady-lag", "peer", "outage", "backfill",
              "profile")


def run(name):
    if name == "api-create":
        import bench_api
        return bench_api.run()
    if name == "api-read":
        import bench_read
        return bench_read.run()
    if name == "worker-drain":
        import bench_worker
        return bench_worker.run_drain()
    if name == "worker-sink":
        import bench_sink
        return bench_sink.run()
    if name == "steady-lag":
        import bench_worker
        return bench_worker.run_steady()
    if name == "peer":
        import bench_peer
        return bench_peer.run()
    if name == "outage":
        import bench_outage
        return bench_outage.run()
    if name == "backfill":
        import bench_backfill
        return bench_backfill.run()
    if name == "profile":
        import bench_profile
        return bench_profile.run()
    raise SystemExit(f"unknown benchmark {name}; one of {', '.join(BENCHMARKS)}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: main.py {{{'|'.join(BENCHMARKS)}}}")
    run(sys.argv[1])
