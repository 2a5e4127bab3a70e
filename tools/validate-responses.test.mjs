// Tests for validate-responses.mjs against the real service/openapi.json: the
// validator passes correct answers and fails wrong ones. Each case writes its
// records to a temporary JSONL file and runs the script as a child process.
//   cd tools && npm test

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createValidator } from "./validate-responses.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const script = join(here, "validate-responses.mjs");
const spec = join(here, "..", "service", "openapi.json");
const dir = mkdtempSync(join(tmpdir(), "validate-responses-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function run(...files) {
  const r = spawnSync(process.execPath, [script, "--spec", spec, ...files], { encoding: "utf8" });
  return { code: r.status, out: r.stdout + r.stderr };
}
function runRecords(records) {
  const file = join(dir, `records-${n++}.jsonl`);
  writeFileSync(file, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  return run(file);
}
const record = (method, target, status, body, content_type = "application/json") => ({
  method,
  target,
  status,
  content_type,
  body: typeof body === "string" ? body : JSON.stringify(body),
});
const passes = (records) => {
  const r = runRecords(records);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /^failures: 0$/m);
  return r.out;
};
const fails = (records, pattern) => {
  const r = runRecords(records);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /^FAIL /m);
  if (pattern) assert.match(r.out, pattern);
  return r.out;
};

const agent = {
  id: "3f2b1c9e-8a7d-4e6f-9b0a-1c2d3e4f5a6b",
  name: "my-agent",
  description: "",
  acp_type: "async",
  status: "Ready",
  status_reason: "Agent registered successfully.",
  registration_metadata: null,
  registered_at: "2026-01-01T00:00:00Z",
  agent_input_type: null,
  production_deployment_id: null,
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00.123456+00:00",
};
const task = {
  id: "0b7e2a44-5c1d-4f8e-a9b3-6d2c1e0f9a87",
  name: "nightly",
  status: "RUNNING",
  status_reason: null,
  params: { k: 1 },
  task_metadata: {},
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
  cleaned_at: null,
  agent_id: agent.id,
  creator_user_id: "user-alice",
  creator_service_account_id: null,
  authz_status: "synced",
  authz_zedtoken: "GhUKEzE3",
};
const { params, ...summary } = task;
const error = (code) => ({ message: "no", code, data: null });
const without = (o, key) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));

test("correct answers pass, and the summary counts them per operationId", () => {
  const out = passes([
    record("GET", `/tasks/${task.id}?relationships=agents`, 200, { ...task, agents: [agent] }),
    record("GET", "/tasks?limit=2&relationships=agents", 200, [{ ...summary, agents: null }]),
    record("POST", "/tasks", 201, task),
    record("POST", "/agents/register", 200, { ...agent, agent_api_key: null }),
    record("POST", `/agents/${agent.id}/rpc`, 200, { jsonrpc: "2.0", id: 1, result: task, error: null }),
    record("POST", "/agents/name/my-agent/rpc", 200, {
      jsonrpc: "2.0", id: null, result: null, error: { code: -32603, message: "boom", data: null },
    }),
    record("DELETE", `/tasks/${task.id}`, 200, { id: task.id, message: "deleted" }),
    record("POST", `/tasks/${task.id}/complete`, 400, error(400)),
    record("GET", "/tasks/not-a-uuid", 404, error(404)),
    record("GET", "/agents", 503, error(503)),
    record("HEAD", `/tasks/${task.id}`, 200, ""),
    record("GET", "/openapi.json", 200, { openapi: "3.1.0" }),
  ]);
  assert.match(out, /^records checked: 12$/m);
  assert.match(out, /^ {2}getTask: 3$/m);
  assert.match(out, /^ {2}agentRpcByName: 1$/m);
  assert.match(out, /never seen \(informational, not failures\)/);
});

test("a missing required field fails, naming it", () => {
  fails([record("GET", `/tasks/${task.id}`, 200, without({ ...task, agents: null }, "authz_status"))],
    /must have required property 'authz_status'/);
  fails([record("GET", `/agents/${agent.id}`, 200, without(agent, "production_deployment_id"))],
    /production_deployment_id/);
  fails([record("GET", `/tasks/${task.id}`, 404, without(error(404), "data"))], /required property 'data'/);
});

test("a wrong enum value fails, with its instancePath", () => {
  fails([record("GET", `/tasks/${task.id}`, 200, { ...task, status: "DELETED", agents: null })],
    /\/status must be equal to one of the allowed values/);
  fails([record("GET", "/agents", 200, [{ ...agent, acp_type: "batch" }])], /\/0\/acp_type must be equal to one of/);
});

test("a wrong type fails", () => {
  fails([record("POST", "/tasks", 201, { ...task, params: "k=1" })], /\/params must be object,null/);
  fails([record("GET", "/agents/name/my-agent", 200, { ...agent, created_at: "yesterday" })], /\/created_at must match format "date-time"/);
  fails([record("GET", `/tasks/${task.id}`, 200, { ...task, id: "abc", agents: null })], /\/id must match format "uuid"/);
  fails([record("GET", `/tasks/${task.id}`, 422, error(404))], /\/code must be equal to constant/);
});

test("closed shapes: a listed task with params, or an unknown field, fails", () => {
  fails([record("GET", "/tasks", 200, [{ ...task, agents: null }])], /must NOT have unevaluated properties.*params/);
  fails([record("DELETE", "/tasks/name/nightly", 200, { id: task.id, message: "ok", extra: 1 })], /additional properties/);
  fails([record("POST", "/agents/name/my-agent/rpc", 200, {
    jsonrpc: "2.0", id: 1, result: task, error: { code: -32603, message: "boom", data: null },
  })], /must match a schema in anyOf/);
});

test("an undocumented status or method on a documented path fails", () => {
  fails([record("GET", `/tasks/${task.id}`, 409, error(409))], /status 409 is not documented for getTask/);
  fails([record("POST", "/tasks", 200, task)], /status 200 is not documented for createTask/);
  fails([record("PATCH", `/tasks/${task.id}`, 200, task)], /PATCH is not documented/);
});

test("405 and pre-routing statuses on a documented path pass only with an Error body", () => {
  passes([record("PATCH", `/tasks/${task.id}`, 405, error(405)), record("GET", "/tasks", 431, error(431))]);
  fails([record("PATCH", `/tasks/${task.id}`, 405, { detail: "Method Not Allowed" })], /required property 'message'/);
});

test("a body that is not JSON fails; an empty body is fine for HEAD only", () => {
  fails([record("GET", `/tasks/${task.id}`, 200, "<html>oops</html>", "text/html")], /body is not JSON/);
  fails([record("GET", `/tasks/${task.id}`, 200, "")], /empty body/);
  fails([record("GET", `/tasks/${task.id}`, 200, JSON.stringify({ ...task, agents: null }), "text/plain")], /content type/);
  passes([record("HEAD", "/tasks", 200, "")]);
});

test("path templates: the name route beats the id route, and params need a non-empty segment", () => {
  // Both templates match "/tasks/name/nightly"; the counts show which one won.
  const out = passes([record("GET", "/tasks/name/nightly", 200, { ...task, agents: null })]);
  assert.match(out, /^ {2}getTaskByName: 1$/m);
  assert.match(out, /^ {2}getTask: 0$/m);
  passes([record("GET", "/agents/name/my-agent", 200, agent)]);
  fails([record("PUT", "/tasks/name/nightly", 201, task)], /not documented for updateTaskByName/);
  // A literal route without the method falls back to the template that has it.
  const cancel = passes([record("POST", "/tasks/name/cancel", 404, error(404))]);
  assert.match(cancel, /^ {2}cancelTask: 1$/m);
  // With the method on neither, the literal template is the one reported.
  fails([record("PATCH", "/tasks/name/cancel", 200, task)], /PATCH is not documented on \/tasks\/name\/\{task_name\}/);
  // "/tasks//complete" has an empty segment where {task_id} is: no template matches.
  passes([record("POST", "/tasks//complete", 404, error(404))]);
});

test("path templates: between two templates with the method, the literal one wins", () => {
  const schema = (required) => ({ type: "object", required: [required], properties: { [required]: { type: "integer" } } });
  const get = (id, required) => ({
    get: { operationId: id, responses: { 200: { description: "ok", content: { "application/json": { schema: schema(required) } } } } },
  });
  const { check } = createValidator({
    openapi: "3.1.0",
    paths: { "/things/{id}": get("byId", "id"), "/things/special": get("special", "special") },
    components: { schemas: {} },
  });
  const special = check(record("GET", "/things/special", 200, { special: 1 }));
  assert.equal(special.kind, "ok", special.problems.join("; "));
  assert.equal(special.operationId, "special");
  const wrong = check(record("GET", "/things/special", 200, { id: 1 }));
  assert.equal(wrong.kind, "failure");
  assert.equal(check(record("GET", "/things/other", 200, { id: 1 })).operationId, "byId");
});

test("an undocumented path passes with an Error body and fails with any other", () => {
  const out = passes([record("GET", "/no/such/route?x=1", 404, error(404))]);
  assert.match(out, /^undocumented paths \(Error bodies\): 1$/m);
  fails([record("GET", "/no/such/route", 404, { detail: "Not Found" })], /undocumented path/);
  fails([record("GET", "/no/such/route", 404, error(400))], /code must equal the HTTP status 404/);
});

test("zero records, or an unreadable line, exit 1", () => {
  const empty = join(dir, "empty.jsonl");
  writeFileSync(empty, "");
  const r = run(empty);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /no records given/);
  const broken = join(dir, "broken.jsonl");
  writeFileSync(broken, "{not json\n");
  assert.equal(run(broken).code, 1);
});

test("records are read from every file given", () => {
  const a = join(dir, "a.jsonl");
  const b = join(dir, "b.jsonl");
  writeFileSync(a, JSON.stringify(record("GET", "/agents", 200, [agent])) + "\n");
  writeFileSync(b, JSON.stringify(record("GET", "/agents", 422, error(422))) + "\n");
  const r = run(a, b);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /^records checked: 2$/m);
});
