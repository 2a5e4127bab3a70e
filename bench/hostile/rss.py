#!/usr/bin/env python3
"""Peak RSS of task-api under connection abuse: 1,000 idle connections, a
slowloris pack and a flood of 32 MiB chunk extensions and trailers, all at
once, against a running stack (scripts/run). Prints the figures and the
conditions; bounded in time and count, loopback only.

Usage: bench/hostile/rss.py [--port 8080] [--pid PID] [--idle 1000] [--slow 50] [--floods 64]
"""
import argparse, os, resource, socket, subprocess, sys, threading, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from stack import mem_kib as rss_kib  # noqa: E402  (VmRSS / VmHWM of a pid, in KiB)

def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

HEAD = (b"POST /agents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer dev-user-token\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")

def flood(port, kind, size, results):
    payload = {"ext": b"1;e=" + b"e" * size, "trailer": b"0\r\nX-Pad: " + b"t" * size,
               "size-line": b"0" * size}[kind]
    sent = 0
    try:
        s = connect(port)
        s.sendall(HEAD)
        view = memoryview(payload)
        while sent < len(payload):
            sent += s.send(view[sent:sent + 65536])
    except OSError:
        pass
    try:
        reply = s.recv(64)
    except OSError:
        reply = b""
    results.append((kind, sent, reply[:12]))

def slowloris(port, stop):
    try:
        s = connect(port)
        for ch in b"GET /agents HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10000:
            if stop.is_set():
                return
            s.send(bytes([ch]))
            time.sleep(0.2)
    except OSError:
        pass

def open_idle(port, n):
    """Up to n connections that send nothing (fewer if connect starts failing)."""
    idle = []
    for _ in range(n):
        try:
            idle.append(connect(port))
        except OSError as e:
            print("idle connect failed:", e)
            break
    return idle


def print_floods(results):
    answered = {}
    for kind, sent, reply in results:
        answered.setdefault(kind, []).append((sent, reply))
    for kind, items in sorted(answered.items()):
        most = max(s for s, _ in items)
        codes = sorted({r.decode(errors="replace") for _, r in items})
        print(f"flood {kind}: {len(items)} connections, at most {most / 1024:.0f} KiB sent before the close, answers {codes}")


def count_open(sockets):
    """How many of the sockets the server still holds open; closes them all."""
    alive = 0
    for s in sockets:
        try:
            s.setblocking(False)
            data = s.recv(1)
            alive += 0 if data == b"" else 1
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
        s.close()
    return alive


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=int(os.environ.get("API_PORT", 8080)))
    ap.add_argument("--pid", type=int)
    ap.add_argument("--idle", type=int, default=1000)
    ap.add_argument("--slow", type=int, default=50)
    ap.add_argument("--floods", type=int, default=64)
    ap.add_argument("--flood-mib", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=15)
    a = ap.parse_args()
    pid = a.pid or int(subprocess.check_output(["pgrep", "-n", "-x", "task-api"]).split()[0])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    print(f"conditions: task-api pid {pid}, load average {os.getloadavg()[0]:.2f}, "
          f"{a.idle} idle + {a.slow} slowloris + {a.floods} floods of {a.flood_mib} MiB, {a.seconds:.0f} s")
    print(f"before: VmRSS {rss_kib(pid, 'VmRSS') / 1024:.1f} MiB, VmHWM {rss_kib(pid, 'VmHWM') / 1024:.1f} MiB")
    idle = open_idle(a.port, a.idle)
    stop = threading.Event()
    slow = [threading.Thread(target=slowloris, args=(a.port, stop), daemon=True) for _ in range(a.slow)]
    for t in slow:
        t.start()
    results = []
    kinds = ["ext", "trailer", "size-line"]
    floods = [threading.Thread(target=flood, args=(a.port, kinds[i % 3], a.flood_mib << 20, results), daemon=True)
              for i in range(a.floods)]
    peak = 0
    started = time.time()
    for t in floods:
        t.start()
    while time.time() - started < a.seconds:
        peak = max(peak, rss_kib(pid, "VmRSS"))
        time.sleep(0.05)
    stop.set()
    for t in floods:
        t.join(timeout=5)
    print_floods(results)
    alive_idle = count_open(idle)
    print(f"idle connections still open at the end: {alive_idle} of {len(idle)}")
    print(f"peak VmRSS during the run: {peak / 1024:.1f} MiB; VmHWM after: {rss_kib(pid, 'VmHWM') / 1024:.1f} MiB")
    try:
        ok = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                             "Authorization: Bearer dev-user-token", f"http://127.0.0.1:{a.port}/agents"],
                            capture_output=True, text=True, timeout=10).stdout
    except Exception as e:  # noqa: BLE001
        ok = str(e)
    print(f"after: GET /agents answered {ok}; task-api pid {pid} still running: {os.path.exists(f'/proc/{pid}')}")

if __name__ == "__main__":
    main()
