// Starts the server as a child process on a free port and talks to it.
import { after, before } from "node:test";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

export async function startServer(env = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, [join(here, "..", "server.js")], {
    env: { ...process.env, AUTHZ_PORT: String(port), AUTHZ_HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30000;
  for (;;) {
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    base,
    pid: child.pid,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

export async function call(base, method, path, body = undefined, headers = {}) {
  const r = await fetch(base + path, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: body === undefined || typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

export const post = (base, path, body, headers = {}) => call(base, "POST", path, body, headers);
export const get = (base, path) => call(base, "GET", path);

// What SpiceDB holds for a task, as sorted "relation type:id" strings.
export async function relationsOf(base, id) {
  const { body } = await get(base, `/_admin/relationships?resource_type=task&resource_id=${id}`);
  return body.relationships.map((r) => `${r.relation} ${r.subject_type}:${r.subject_id}`).sort();
}

export const alice = { principal_type: "user", user_id: "user-alice", account_id: "acct-dev" };
export const bob = { principal_type: "user", user_id: "user-bob", account_id: "acct-dev" };
export const task = (id) => ({ type: "task", selector: id });

// Starts a server (with `env`) before the enclosing describe's tests and stops
// it after them. The returned object's `base`, `pid` and `output` are those of
// the running server; read them inside hooks and tests, not at describe time.
export function useServer(env = {}) {
  let server;
  before(async () => {
    server = await startServer(env);
  });
  after(async () => {
    await server.stop();
  });
  return {
    get base() {
      return server.base;
    },
    get pid() {
      return server.pid;
    },
    output: () => server.output(),
  };
}
