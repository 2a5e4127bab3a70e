// The peer job queue for the worker benchmarks: graphile-worker whose one
// task does what outbox-worker does for a register — the same HTTP call
// (same body, keep-alive connections), then the same write-back of the
// zedtoken onto the task. Retries are graphile-worker's own.
//
//   DATABASE_URL=... AUTHZ_URL=http://127.0.0.1:PORT PEER_CONCURRENCY=32 node register-worker.mjs
//   DATABASE_URL=... node register-worker.mjs --migrate-only
import http from "node:http";
import { Logger, run, runMigrations } from "graphile-worker";

const connectionString = process.env.DATABASE_URL;
const concurrency = Number(process.env.PEER_CONCURRENCY || 32);
// graphile-worker warns when its pool is smaller than its concurrency: follow its advice.
const maxPoolSize = Number(process.env.PEER_MAX_POOL_SIZE || concurrency);
const kRequestTimeoutMs = 10_000;
// Warnings and errors only, like outbox-worker at LOG_LEVEL=warn: the default
// logger writes a line per completed job, which would be measured as the queue's cost.
const logger = new Logger(() => (level, message) => {
  if (level === "error" || level === "warning") process.stderr.write(`${level}: ${message}\n`);
});

if (process.argv.includes("--migrate-only")) {
  await runMigrations({ connectionString, logger });
  process.exit(0);
}

const authz = new URL(process.env.AUTHZ_URL);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });

function postJson(path, body) {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: authz.hostname,
        port: authz.port,
        path,
        method: "POST",
        agent,
        timeout: kRequestTimeoutMs,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data) },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end(data);
  });
}

const taskList = {
  register: async (payload, helpers) => {
    const res = await postJson("/v1/authz/register", {
      parent: { type: "agent", selector: payload.parent_id },
      principal: payload.principal,
      resource: { type: "task", selector: payload.resource_id },
    });
    if (res.status !== 200) throw new Error(`register answered ${res.status}`);
    const zedtoken = JSON.parse(res.body).zedtoken ?? null;
    await helpers.withPgClient((client) =>
      client.query("UPDATE tasks SET authz_zedtoken = $2, authz_synced_at = now() WHERE id = $1::uuid", [
        payload.resource_id,
        zedtoken,
      ]),
    );
  },
};

const runner = await run({ connectionString, concurrency, maxPoolSize, taskList, logger, noHandleSignals: false });
process.stdout.write(`peer worker ready ${JSON.stringify({ concurrency, maxPoolSize })}\n`);
await runner.promise;
