"""The processes a benchmark runs: a throwaway Postgres cluster, the reference
authz server, task-api, outbox-worker and the peer worker, each on free ports
of the loopback interface (never the fixed ports of scripts/run), plus
/proc-based CPU and memory readings of any of them."""

import atexit
import http.client
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PG_BIN = os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin")
CLK_TCK = os.sysconf("SC_CLK_TCK")
DEV_TOKEN = "dev-user-token"
# What outbox_principal() stores for dev-user-token (deploy/local/principals.json).
DEV_PRINCIPAL = {"principal_type": "user", "user_id": "user-alice", "account_id": "acct-dev"}

_cleanups = []


def _run_cleanups():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - best effort at exit
            print(f"cleanup: {e}")


atexit.register(_run_cleanups)
for _sig in (signal.SIGTERM, signal.SIGINT):
    signal.signal(_sig, lambda s, f: (_run_cleanups(), os._exit(128 + s)))


def bin_dir():
    return os.environ.get("BENCH_BIN_DIR") or os.path.join(REPO, "build-bench", "bin")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_dir():
    d = os.path.join(REPO, "bench", "results", "logs")
    os.makedirs(d, exist_ok=True)
    return d


# ---------------------------------------------------------------- /proc readings


def cpu_seconds(pid):
    """User + system CPU seconds of one process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def mem_kib(pid, key):
    """VmRSS (now) or VmHWM (peak) of one process, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def children_cpu_seconds(parent_pid):
    """CPU seconds of a process's live children (Postgres backends)."""
    return sum(children_cpu_by_pid(parent_pid).values())


def thread_cpu_seconds(pid, tid):
    """User + system CPU seconds of one thread of a process."""
    with open(f"/proc/{pid}/task/{tid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children_cpu_by_pid(parent_pid):
    """{pid: CPU seconds} of a process's live children."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == parent_pid:
                out[int(entry)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return out


def machine_busy_seconds():
    """(busy, niced): CPU seconds all cores spent busy (not idle, not iowait)
    since boot, and the part of it at a positive nice value (work that yields
    to ours), from /proc/stat."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    idle = ticks[3] + ticks[4]
    # guest and guest_nice are already counted in user and nice.
    return (sum(ticks[:8]) - idle) / CLK_TCK, ticks[1] / CLK_TCK


class Usage:
    """CPU seconds a process used between start() and stop(), and its peak RSS."""

    def __init__(self, pid):
        self.pid = pid
        self.cpu0 = cpu_seconds(pid)

    def read(self):
        return {"cpu_s": round(cpu_seconds(self.pid) - self.cpu0, 3),
                "rss_peak_mib": round(mem_kib(self.pid, "VmHWM") / 1024, 1),
                "rss_now_mib": round(mem_kib(self.pid, "VmRSS") / 1024, 1)}


# ---------------------------------------------------------------- HTTP


def http_call(port, method, path, body=None, headers=None, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else (body if isinstance(body, (bytes, str)) else json.dumps(body))
        h = {"Content-Type": "application/json"} if data is not None else {}
        h.update(headers or {})
        conn.request(method, path, body=data, headers=h)
        res = conn.getresponse()
        text = res.read().decode()
        return res.status, text
    finally:
        conn.close()


def wait_http(port, path, timeout=60, what="service"):
    deadline = time.time() + timeout
    last = ""
    while time.time() < deadline:
        try:
            status, text = http_call(port, "GET", path, timeout=2)
            if status == 200:
                return
            last = f"{status} {text[:200]}"
        except OSError as e:
            last = str(e)
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready on :{port}{path}: {last}")


def scrape(port):
    """Prometheus text from a monitor port as {name{labels}: value}."""
    _, text = http_call(port, "GET", "/metrics")
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def metric_sum(metrics, name, **labels):
    """The sum of one series' values over every label set that has the given
    labels (scrape()'s keys: name{label="value",...})."""
    total = 0.0
    for key, value in metrics.items():
        base, _, rest = key.partition("{")
        if base == name and all(f',{k}="{v}"' in "," + rest for k, v in labels.items()):
            total += value
    return total


# ---------------------------------------------------------------- processes


class Process:
    def __init__(self, name, argv, env=None, cwd=None):
        self.name = name
        self.log_path = os.path.join(log_dir(), f"{name}.log")
        self.log = open(self.log_path, "w")
        full_env = dict(os.environ)
        # The binaries reject unknown API_/WORKER_/AUTHN_ variables: pass only ours.
        for k in list(full_env):
            if k.startswith(("API_", "WORKER_", "AUTHN_", "AUTHZ_", "FGAC_", "AGENTEX_")):
                del full_env[k]
        full_env.update(env or {})
        self.proc = subprocess.Popen(argv, env=full_env, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.pid = self.proc.pid
        _cleanups.append(self.stop)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.log.closed:
            self.log.close()
        if self.stop in _cleanups:
            _cleanups.remove(self.stop)

    def tail(self, n=2000):
        with open(self.log_path) as f:
            return f.read()[-n:]


class Postgres:
    """initdb into a temp dir, start on a free port (as the postgres user when root)."""

    def __init__(self, settings):
        self.settings = settings
        self.dir = tempfile.mkdtemp(prefix="fgac-bench-pg-")
        self.as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_pg:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        _cleanups.append(self.destroy)
        self._run([f"{PG_BIN}/initdb", "-D", f"{self.dir}/data", "-A", "trust", "-U", "postgres", "-E", "UTF8",
                   "--no-instructions"])
        self.port = free_port()
        opts = [f"-p {self.port}", f"-k {self.dir}", "-c listen_addresses=127.0.0.1"]
        opts += [f"-c {k}={v}" for k, v in settings.items()]
        self._run([f"{PG_BIN}/pg_ctl", "-D", f"{self.dir}/data", "-o", " ".join(opts), "-l",
                   f"{self.dir}/server.log", "-w", "-t", "60", "start"])
        with open(f"{self.dir}/data/postmaster.pid") as f:
            self.postmaster_pid = int(f.readline())
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, argv):
        r = subprocess.run(self.as_pg + argv, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {r.stdout}{r.stderr}")

    def sql(self, query, timeout=600):
        """Runs SQL through psql; returns the rows as lists of strings."""
        r = subprocess.run([f"{PG_BIN}/psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", self.url,
                            "-c", query], capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr.strip()}\n{query[:500]}")
        return [line.split("\t") for line in r.stdout.splitlines() if line]

    def scalar(self, query):
        rows = self.sql(query)
        return rows[0][0] if rows else None

    def backends_cpu(self):
        return children_cpu_seconds(self.postmaster_pid)

    def cluster_cpu(self):
        """CPU seconds of the whole cluster: the postmaster, its live children
        (backends, walwriter, checkpointer, autovacuum launcher) and the
        children it has reaped (autovacuum workers that came and went)."""
        with open(f"/proc/{self.postmaster_pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        own_and_reaped = sum(int(x) for x in fields[11:15]) / CLK_TCK  # utime, stime, cutime, cstime
        return own_and_reaped + children_cpu_seconds(self.postmaster_pid)

    def log_text(self):
        with open(f"{self.dir}/server.log", errors="replace") as f:
            return f.read()

    def version(self):
        return self.scalar("SHOW server_version")

    def destroy(self):
        subprocess.run(self.as_pg + [f"{PG_BIN}/pg_ctl", "-D", f"{self.dir}/data", "-m", "immediate", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.destroy in _cleanups:
            _cleanups.remove(self.destroy)


class PgBouncer:
    """Debian's PgBouncer in transaction mode in front of `pg` (as the postgres user when root)."""

    def __init__(self, pg, pool_size=8):
        self.dir = tempfile.mkdtemp(prefix="fgac-bench-pgbouncer-")
        self.port = free_port()
        with open(f"{self.dir}/pgbouncer.ini", "w") as f:
            f.write(f"[databases]\n* = host=127.0.0.1 port={pg.port}\n[pgbouncer]\n"
                    f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
                    f"auth_type = trust\nauth_file = {self.dir}/users.txt\npool_mode = transaction\n"
                    f"default_pool_size = {pool_size}\nmax_client_conn = 1000\n"
                    f"ignore_startup_parameters = extra_float_digits\n"
                    f"logfile = {self.dir}/pgbouncer.log\n")
        with open(f"{self.dir}/users.txt", "w") as f:
            f.write('"postgres" ""\n')
        argv = ["/usr/sbin/pgbouncer", f"{self.dir}/pgbouncer.ini"]
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            for path in (self.dir, f"{self.dir}/pgbouncer.ini", f"{self.dir}/users.txt"):
                os.chown(path, pw.pw_uid, pw.pw_gid)
            argv = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] + argv
        self.process = Process("pgbouncer", argv)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        for _ in range(100):
            r = subprocess.run([f"{PG_BIN}/psql", "-X", "-qAt", self.url, "-c", "SELECT 1"], capture_output=True)
            if r.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("pgbouncer did not start: " + self.process.tail())

    def stop(self):
        self.process.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def migrate(pg):
    r = subprocess.run([os.path.join(bin_dir(), "taskctl"), "migrate"], env={**os.environ, "DATABASE_URL": pg.url},
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"taskctl migrate failed: {r.stdout}{r.stderr}")


def truncate(pg):
    """An empty schema between phases, so no phase inherits another's bloat."""
    pg.sql("TRUNCATE task_agents, tasks, authz_outbox, agents")
    pg.sql("VACUUM ANALYZE")
    pg.sql("CHECKPOINT")


class AuthzServer:
    def __init__(self, name="authz-server", port=None):
        self.name = name
        self.port = port or free_port()
        self.start()

    def start(self):
        self.process = Process(self.name, ["node", os.path.join(REPO, "deploy/local/authz-server/server.js")],
                               env={"AUTHZ_PORT": str(self.port), "AUTHZ_HOST": "127.0.0.1"})
        try:
            wait_http(self.port, "/healthz", what="authz server")
        except RuntimeError:
            print(self.process.tail())
            raise

    def restart(self):
        """A fresh process: SpiceDB's memory datastore starts empty again."""
        self.process.stop()
        self.start()

    def stop(self):
        self.process.stop()

    def faults(self, spec):
        status, text = http_call(self.port, "POST", "/_admin/faults", spec)
        if status != 200:
            raise RuntimeError(f"setting faults failed: {status} {text}")

    def clear_faults(self):
        http_call(self.port, "DELETE", "/_admin/faults")

    def stats(self):
        return json.loads(http_call(self.port, "GET", "/_admin/stats")[1])

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


class Sink:
    """bench/sink's authz-sink: answers the worker's calls after a fixed
    latency and nothing else. It binds a free port itself and prints it as
    the first line of its stdout."""

    def __init__(self, latency_ms, threads=2, service_token=None, name="authz-sink"):
        self.latency_ms = latency_ms
        self.threads = threads
        argv = [self.binary(), "--port", "0", "--threads", str(threads), "--latency-ms", str(latency_ms)]
        if service_token:
            argv += ["--service-token", service_token]
        self.process = Process(name, argv)
        self.pid = self.process.pid
        self.port = self._port_from_stdout()
        wait_http(self.port, "/stats", what="authz-sink")

    @staticmethod
    def binary():
        for d in (bin_dir(), os.path.join(REPO, "build-bench", "bin")):
            path = os.path.join(d, "authz-sink")
            if os.path.exists(path):
                return path
        raise RuntimeError("authz-sink is not built: bench/lib/setup.sh builds it (FGAC_BENCH_TOOLS=ON)")

    def _port_from_stdout(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            first = self.process.tail(100000).split("\n", 1)
            if len(first) == 2 and first[0].strip().isdigit():
                return int(first[0])
            if not self.process.alive():
                break
            time.sleep(0.05)
        raise RuntimeError("authz-sink did not print its port:\n" + self.process.tail())

    def stats(self):
        """Calls per path, calls waiting (now and at most), and its own CPU and peak RSS (getrusage)."""
        return json.loads(http_call(self.port, "GET", "/stats")[1])

    def reset(self):
        status, text = http_call(self.port, "POST", "/stats/reset")
        if status != 200:
            raise RuntimeError(f"resetting the sink's stats failed: {status} {text}")

    def cpu_s(self):
        return cpu_seconds(self.pid)

    def rss_peak_mib(self):
        return round(mem_kib(self.pid, "VmHWM") / 1024, 1)

    def stop(self):
        self.process.stop()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


class TaskApi:
    def __init__(self, pg, authz, dual_write=True, extra_env=None, wrapper=None, name="task-api"):
        self.port = free_port()
        self.monitor_port = free_port()
        env = {"DATABASE_URL": pg.url, "AGENTEX_AUTH_URL": authz.url, "FGAC_TASKS_DUAL_WRITE": str(dual_write).lower(),
               "API_ADDR": "127.0.0.1", "API_PORT": str(self.port), "MONITOR_ADDR": "127.0.0.1",
               "API_MONITOR_PORT": str(self.monitor_port), "LOG_LEVEL": "warn"}
        env.update(extra_env or {})
        self.process = Process(name, (wrapper or []) + [os.path.join(bin_dir(), "task-api")], env=env)
        self.pid = self.process.pid
        try:
            wait_http(self.monitor_port, "/readyz", timeout=120, what="task-api")
        except RuntimeError:
            print(self.process.tail())
            raise

    def post(self, path, body, token=DEV_TOKEN):
        status, text = http_call(self.port, "POST", path, body, {"Authorization": f"Bearer {token}"})
        return status, (json.loads(text) if text else None)

    def create_agent(self, name):
        status, body = self.post("/agents", {"name": name, "description": "benchmark"})
        if status != 201:
            raise RuntimeError(f"creating agent failed: {status} {body}")
        return body["id"]

    def stop(self):
        self.process.stop()


class OutboxWorker:
    def __init__(self, pg, authz_url, concurrency=32, poll_only=False, extra_env=None, wrapper=None,
                 name="outbox-worker"):
        self.monitor_port = free_port()
        env = {"DATABASE_URL": pg.url, "AGENTEX_AUTH_URL": authz_url, "WORKER_CONCURRENCY": str(concurrency),
               "WORKER_POLL_ONLY": str(poll_only).lower(), "WORKER_MONITOR_PORT": str(self.monitor_port),
               "MONITOR_ADDR": "127.0.0.1", "WORKER_ID": name, "LOG_LEVEL": "warn"}
        env.update(extra_env or {})
        self.process = Process(name, (wrapper or []) + [os.path.join(bin_dir(), "outbox-worker")], env=env)
        self.pid = self.process.pid

    def wait_ready(self, timeout=120):
        wait_http(self.monitor_port, "/readyz", timeout=timeout, what="outbox-worker")

    def stop(self):
        self.process.stop()


class PeerWorker:
    """graphile-worker running bench/graphile/register-worker.mjs."""

    def __init__(self, pg, authz_url, concurrency=32, name="graphile-worker", extra_env=None):
        env = {"DATABASE_URL": pg.url, "AUTHZ_URL": authz_url, "PEER_CONCURRENCY": str(concurrency)}
        env.update(extra_env or {})
        self.process = Process(name, ["node", os.path.join(REPO, "bench/graphile/register-worker.mjs")], env=env)
        self.pid = self.process.pid
        deadline = time.time() + 60
        while "peer worker ready" not in self.process.tail(100000):
            if not self.process.alive() or time.time() > deadline:
                raise RuntimeError("graphile-worker did not start:\n" + self.process.tail())
            time.sleep(0.1)

    def stop(self):
        self.process.stop()


def peer_migrate(pg):
    r = subprocess.run(["node", os.path.join(REPO, "bench/graphile/register-worker.mjs"), "--migrate-only"],
                       env={**os.environ, "DATABASE_URL": pg.url}, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"graphile-worker migration failed: {r.stdout}{r.stderr}")


def tool_version(argv, pattern=r"(\d+\.\d+(\.\d+)?)"):
    try:
        r = subprocess.run(argv, capture_output=True, text=True)
        m = re.search(pattern, r.stdout + r.stderr)
        return m.group(1) if m else "unknown"
    except FileNotFoundError:
        return "missing"
