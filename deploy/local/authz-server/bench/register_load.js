// Register throughput: starts the server on a free port (or uses AUTHZ_URL),
// fires N register calls for distinct tasks over keep-alive connections with
// C in flight, and prints registers/s, the server's CPU (from /proc, when it
// started the server) and the load average. Stops at a time cap.
//
//   node bench/register_load.js [N=20000] [C=128] [cap_s=55]
import { Agent, request } from "node:http";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { startServer } from "../test/helpers.js";

const kDefaultCalls = 20_000;
const kDefaultInFlight = 128;
const kDefaultCapS = 55;
const kClockTicksPerS = 100; // USER_HZ on Linux

const calls = Number(process.argv[2] ?? kDefaultCalls);
const inFlight = Number(process.argv[3] ?? kDefaultInFlight);
const capMs = Number(process.argv[4] ?? kDefaultCapS) * 1000;

// utime + stime of a process, in seconds.
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / kClockTicksPerS;
}

const server = process.env.AUTHZ_URL ? null : await startServer();
const base = process.env.AUTHZ_URL ?? server.base;
const { hostname, port } = new URL(base);
const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
const principal = { principal_type: "user", user_id: "user-alice", account_id: "acct-dev" };
const run = `b${Date.now().toString(36)}`;

function register(i) {
  const body = JSON.stringify({
    principal,
    resource: { type: "task", selector: `${run}-${i}` },
    parent: { type: "agent", selector: "bench-agent" },
  });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        hostname,
        port,
        method: "POST",
        path: "/v1/authz/register",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const statuses = {};
let next = 0;
let done = 0;
const t0 = performance.now();
const cpu0 = server ? cpuSeconds(server.pid) : null;
const self0 = process.cpuUsage();
async function lane() {
  while (next < calls && performance.now() - t0 < capMs) {
    const status = await register(next++);
    statuses[status] = (statuses[status] ?? 0) + 1;
    done += 1;
  }
}
await Promise.all(Array.from({ length: inFlight }, lane));
const elapsedS = (performance.now() - t0) / 1000;
const serverCpuS = server ? cpuSeconds(server.pid) - cpu0 : null;
const self = process.cpuUsage(self0);
agent.destroy();
if (server) await server.stop();

console.log(
  JSON.stringify({
    calls: done,
    in_flight: inFlight,
    elapsed_s: Number(elapsedS.toFixed(2)),
    registers_per_s: Math.round(done / elapsedS),
    statuses,
    server_cpu_s: serverCpuS === null ? null : Number(serverCpuS.toFixed(2)),
    server_cpu_ms_per_register: serverCpuS === null ? null : Number(((serverCpuS * 1000) / done).toFixed(3)),
    server_cpu_util: serverCpuS === null ? null : Number((serverCpuS / elapsedS).toFixed(2)),
    client_cpu_s: Number(((self.user + self.system) / 1e6).toFixed(2)),
    loadavg: loadavg().map((x) => Number(x.toFixed(2))),
  }),
);
