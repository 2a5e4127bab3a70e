// Edge cases of the wire contract: limits, validation, ordering under concurrency.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { alice, bob, post, task, useServer } from "./helpers.js";

const sa = { principal_type: "service_account", service_account_id: "sa-ci", account_id: "acct-dev" };

describe("reference authz server edges", () => {
  const server = useServer();

  test("a body over 1 MiB is refused with 413", async () => {
    const big = JSON.stringify({ principal: alice, resource: task("big"), pad: "x".repeat(1024 * 1024) });
    const r = await post(server.base, "/v1/authz/register", big);
    assert.equal(r.status, 413);
    assert.deepEqual(r.body, { message: "request body too large", code: 413, data: null });
  });

  test("a body over 1 MiB without a content-length (chunked) is refused with 413 too", async () => {
    const status = await new Promise((resolve, reject) => {
      const req = request(`${server.base}/v1/authz/register`, { method: "POST", headers: { "transfer-encoding": "chunked" } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on("error", reject);
      for (let i = 0; i < 20; i++) req.write("x".repeat(64 * 1024));
      req.end();
    });
    assert.equal(status, 413);
  });

  test("malformed fields are 422 with the error shape", async () => {
    const cases = [
      { principal: alice, resource: { type: "document", selector: "d1" } },
      { principal: alice, resource: task("has space") },
      { principal: alice, resource: task("ok-1"), parent: { type: "folder", selector: "f" } },
      { principal: { principal_type: "user", user_id: "alice@example.com" }, resource: task("ok-2") },
      { principal: "alice", resource: task("ok-3") },
    ];
    for (const body of cases) {
      const r = await post(server.base, "/v1/authz/register", body);
      assert.equal(r.status, 422, JSON.stringify(body));
      assert.equal(r.body.code, 422);
      assert.equal(r.body.data, null);
      assert.equal(typeof r.body.message, "string");
    }
    assert.equal((await post(server.base, "/v1/authz/register", "[1,2]")).status, 400);
  });

  test("a malformed zedtoken is the caller's 422, not a 500", async () => {
    await post(server.base, "/v1/authz/register", { principal: alice, resource: task("zt-bad") });
    const r = await post(server.base, "/v1/authz/check", { principal: alice, resource: task("zt-bad"), operation: "read", zedtoken: "not-a-token" });
    assert.equal(r.status, 422);
  });

  test("a token named like an Object.prototype member is unknown (401)", async () => {
    for (const t of ["constructor", "__proto__", "toString"]) {
      assert.equal((await post(server.base, "/v1/authn", {}, { authorization: `Bearer ${t}` })).status, 401, t);
    }
  });

  test("a service account owns what it registers; a user of its account may not read it", async () => {
    const reg = await post(server.base, "/v1/authz/register", { principal: sa, resource: task("t-sa"), parent: { type: "agent", selector: "a" } });
    assert.equal(reg.status, 200);
    for (const op of ["read", "update", "delete", "cancel"]) {
      assert.equal((await post(server.base, "/v1/authz/check", { principal: sa, resource: task("t-sa"), operation: op })).status, 200, op);
    }
    const denied = await post(server.base, "/v1/authz/check", { principal: alice, resource: task("t-sa"), operation: "read" });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.allowed, false);
  });

  test("bob is denied update, delete and cancel on alice's task as well", async () => {
    await post(server.base, "/v1/authz/register", { principal: alice, resource: task("t-bob") });
    for (const op of ["read", "update", "delete", "cancel"]) {
      assert.equal((await post(server.base, "/v1/authz/check", { principal: bob, resource: task("t-bob"), operation: op })).status, 403, op);
    }
  });

  test("a check at the deregister's zedtoken sees the grant gone", async () => {
    await post(server.base, "/v1/authz/register", { principal: alice, resource: task("t-zd") });
    const d = await post(server.base, "/v1/authz/deregister", { principal: alice, resource: task("t-zd") });
    assert.equal(typeof d.body.zedtoken, "string");
    const c = await post(server.base, "/v1/authz/check", { principal: alice, resource: task("t-zd"), operation: "read", zedtoken: d.body.zedtoken });
    assert.equal(c.status, 403);
  });

  test("register and deregister sent together leave nothing behind, in the order they arrived", async () => {
    for (let i = 0; i < 20; i++) {
      const id = `race-${i}`;
      const [r, d] = await Promise.all([
        post(server.base, "/v1/authz/register", { principal: alice, resource: task(id), parent: { type: "agent", selector: "a" } }),
        post(server.base, "/v1/authz/deregister", { principal: alice, resource: task(id) }),
      ]);
      assert.equal(r.status, 200);
      assert.equal(d.status, 200);
      const { calls } = await (await fetch(`${server.base}/_admin/calls?resource_id=${id}`)).json();
      const rels = (await (await fetch(`${server.base}/_admin/relationships?resource_type=task&resource_id=${id}`)).json()).relationships;
      // Whichever the server took first, what SpiceDB holds matches the last call.
      const last = calls.at(-1).op;
      assert.equal(rels.length, last === "register" ? 3 : 0, `${id}: ${JSON.stringify(calls)}`);
      if (last === "deregister") assert.equal(d.body.deleted, 3);
    }
  });

  test("a write whose client gave up before its turn is not applied (499)", async () => {
    await post(server.base, "/_admin/reset", {});
    // The delay stands in for a server-side queue: the client times out inside it.
    await post(server.base, "/_admin/faults", { status: 200, latency_ms: 400, ops: ["register"] });
    await assert.rejects(
      fetch(`${server.base}/v1/authz/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ principal: alice, resource: task("abandoned"), parent: { type: "agent", selector: "a" } }),
        signal: AbortSignal.timeout(100),
      }),
    );
    await new Promise((r) => setTimeout(r, 600));
    await fetch(`${server.base}/_admin/faults`, { method: "DELETE" });
    const { calls } = await (await fetch(`${server.base}/_admin/calls?resource_id=abandoned`)).json();
    assert.deepEqual(calls.map((c) => [c.op, c.status]), [["register", 499]]);
    const rels = (await (await fetch(`${server.base}/_admin/relationships?resource_type=task&resource_id=abandoned`)).json())
      .relationships;
    assert.equal(rels.length, 0);
  });

  test("a write past its X-Request-Deadline is not applied (499); one within it is", async () => {
    await post(server.base, "/_admin/reset", {});
    const body = { principal: alice, resource: task("late"), parent: { type: "agent", selector: "a" } };
    const late = await post(server.base, "/v1/authz/register", body, { "x-request-deadline": String(Date.now() - 1) });
    assert.equal(late.status, 499);
    const rels = async () =>
      (await (await fetch(`${server.base}/_admin/relationships?resource_type=task&resource_id=late`)).json()).relationships;
    assert.equal((await rels()).length, 0);
    const ok = await post(server.base, "/v1/authz/register", body, { "x-request-deadline": String(Date.now() + 5000) });
    assert.equal(ok.status, 200);
    assert.equal((await rels()).length, 3);
  });

  test("a dropped call (status 0) is logged against its resource", async () => {
    await post(server.base, "/_admin/reset", {});
    await post(server.base, "/_admin/faults", { status: 0, ops: ["register"] });
    await assert.rejects(post(server.base, "/v1/authz/register", { principal: alice, resource: task("dropped") }));
    await fetch(`${server.base}/_admin/faults`, { method: "DELETE" });
    const { calls } = await (await fetch(`${server.base}/_admin/calls?resource_id=dropped`)).json();
    assert.deepEqual(calls.map((c) => [c.op, c.status]), [["register", 0]]);
    assert.equal(typeof calls[0].ts, "number");
    const stats = await (await fetch(`${server.base}/_admin/stats`)).json();
    assert.deepEqual(stats.register, { 0: 1 });
  });

  test("an invalid fault spec is refused with 422 and changes nothing", async () => {
    const r = await post(server.base, "/_admin/faults", { status: 503, ops: ["publish"] });
    assert.equal(r.status, 422);
    assert.equal((await post(server.base, "/v1/authz/register", { principal: alice, resource: task("after-bad-fault") })).status, 200);
  });

  test("faults at rate 0 never fire, and a check can be faulted on its own", async () => {
    await post(server.base, "/_admin/faults", { status: 503, rate: 0 });
    assert.equal((await post(server.base, "/v1/authn", {}, { authorization: "Bearer dev-user-token" })).status, 200);
    await post(server.base, "/_admin/faults", { status: 502, ops: ["check"] });
    assert.equal((await post(server.base, "/v1/authz/check", { principal: alice, resource: task("x"), operation: "read" })).status, 502);
    assert.equal((await post(server.base, "/v1/authz/register", { principal: alice, resource: task("x") })).status, 200);
    await fetch(`${server.base}/_admin/faults`, { method: "DELETE" });
  });

  test("unknown paths are 404 in the error shape", async () => {
    const r = await post(server.base, "/v1/nope", {});
    assert.deepEqual(r.body, { message: "not found", code: 404, data: null });
  });
});
