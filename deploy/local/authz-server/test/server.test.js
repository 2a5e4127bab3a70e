import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { alice, bob, post, startServer, task, useServer } from "./helpers.js";

describe("reference authz server", () => {
  const server = useServer();

  test("authn: a known bearer token yields its principal; unknown or missing is 401", async () => {
    const ok = await post(server.base, "/v1/authn", {}, { authorization: "Bearer dev-sa-token" });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, { principal_type: "service_account", service_account_id: "sa-ci", account_id: "acct-dev" });
    assert.equal((await post(server.base, "/v1/authn", {}, { authorization: "Bearer nope" })).status, 401);
    assert.equal((await post(server.base, "/v1/authn", {})).status, 401);
  });

  test("register: the creator may read, another user of the same account may not", async () => {
    const reg = await post(server.base, "/v1/authz/register", { principal: alice, resource: task("t-reg"), parent: { type: "agent", selector: "a1" } });
    assert.equal(reg.status, 200);
    assert.equal(typeof reg.body.zedtoken, "string");
    assert.ok(reg.body.zedtoken.length > 0);
    const mine = await post(server.base, "/v1/authz/check", { principal: alice, resource: task("t-reg"), operation: "read" });
    assert.equal(mine.status, 200);
    assert.equal(mine.body.allowed, true);
    const theirs = await post(server.base, "/v1/authz/check", { principal: bob, resource: task("t-reg"), operation: "read" });
    assert.equal(theirs.status, 403);
    for (const op of ["update", "delete", "cancel"]) {
      assert.equal((await post(server.base, "/v1/authz/check", { principal: alice, resource: task("t-reg"), operation: op })).status, 200);
    }
  });

  test("check honours a zedtoken (at_least_as_fresh)", async () => {
    const reg = await post(server.base, "/v1/authz/register", { principal: alice, resource: task("t-zed") });
    const c = await post(server.base, "/v1/authz/check", { principal: alice, resource: task("t-zed"), operation: "read", zedtoken: reg.body.zedtoken });
    assert.equal(c.status, 200);
  });

  test("relationships lists owner, tenant and parent_agent from SpiceDB", async () => {
    await post(server.base, "/v1/authz/register", { principal: alice, resource: task("t-rel"), parent: { type: "agent", selector: "ag" } });
    const r = await fetch(`${server.base}/_admin/relationships?resource_type=task&resource_id=t-rel`);
    const { relationships } = await r.json();
    const got = relationships.map((x) => `${x.relation} ${x.subject_type}:${x.subject_id}`).sort();
    assert.deepEqual(got, ["owner user:user-alice", "parent_agent agent:ag", "tenant account:acct-dev"]);
  });

  test("deregister removes every relationship; an unknown resource is 200 too", async () => {
    await post(server.base, "/v1/authz/register", { principal: alice, resource: task("t-dereg"), parent: { type: "agent", selector: "a" } });
    const d = await post(server.base, "/v1/authz/deregister", { principal: alice, resource: task("t-dereg") });
    assert.equal(d.status, 200);
    assert.equal(d.body.deleted, 3);
    assert.equal((await post(server.base, "/v1/authz/check", { principal: alice, resource: task("t-dereg"), operation: "read" })).status, 403);
    const r = await (await fetch(`${server.base}/_admin/relationships?resource_id=t-dereg`)).json();
    assert.deepEqual(r.relationships, []);
    assert.equal((await post(server.base, "/v1/authz/deregister", { principal: alice, resource: task("never-registered") })).status, 200);
  });

  test("malformed input: bad JSON is 400, a bad resource is 422", async () => {
    assert.equal((await post(server.base, "/v1/authz/register", "{not json")).status, 400);
    assert.equal((await post(server.base, "/v1/authz/register", { principal: alice, resource: { type: 5 } })).status, 422);
    assert.equal((await post(server.base, "/v1/authz/register", { resource: task("x") })).status, 422);
    assert.equal((await post(server.base, "/v1/authz/check", { principal: alice, resource: task("x"), operation: "fly" })).status, 422);
  });

  test("faults: the configured status for the configured ops only, then cleared", async () => {
    const set = await post(server.base, "/_admin/faults", { status: 503, rate: 1.0, ops: ["register"] });
    assert.equal(set.status, 200);
    assert.equal((await post(server.base, "/v1/authz/register", { principal: alice, resource: task("f1") })).status, 503);
    assert.equal((await post(server.base, "/v1/authz/deregister", { principal: alice, resource: task("f1") })).status, 200);
    assert.equal((await post(server.base, "/v1/authn", {}, { authorization: "Bearer dev-user-token" })).status, 200);
    await fetch(`${server.base}/_admin/faults`, { method: "DELETE" });
    assert.equal((await post(server.base, "/v1/authz/register", { principal: alice, resource: task("f1") })).status, 200);
  });

  test("faults: status 0 drops the connection without an answer", async () => {
    await post(server.base, "/_admin/faults", { status: 0, ops: ["deregister"] });
    await assert.rejects(post(server.base, "/v1/authz/deregister", { principal: alice, resource: task("f2") }));
    await fetch(`${server.base}/_admin/faults`, { method: "DELETE" });
    assert.equal((await post(server.base, "/v1/authz/deregister", { principal: alice, resource: task("f2") })).status, 200);
  });

  test("faults: for_s clears them by itself; latency_ms delays answers", async () => {
    await post(server.base, "/_admin/faults", { status: 400, ops: ["register"], for_s: 0.3 });
    assert.equal((await post(server.base, "/v1/authz/register", { principal: alice, resource: task("f3") })).status, 400);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal((await post(server.base, "/v1/authz/register", { principal: alice, resource: task("f3") })).status, 200);
    await post(server.base, "/_admin/faults", { status: 200, latency_ms: 150, ops: ["register"] });
    const t0 = Date.now();
    assert.equal((await post(server.base, "/v1/authz/register", { principal: alice, resource: task("f4") })).status, 200);
    assert.ok(Date.now() - t0 >= 140);
    await fetch(`${server.base}/_admin/faults`, { method: "DELETE" });
  });

  test("stats and the call log count each op by outcome, in order", async () => {
    await post(server.base, "/_admin/reset", {});
    await post(server.base, "/v1/authz/register", { principal: alice, resource: task("c1") });
    await post(server.base, "/_admin/faults", { status: 503, ops: ["deregister"] });
    await post(server.base, "/v1/authz/deregister", { principal: alice, resource: task("c1") });
    await fetch(`${server.base}/_admin/faults`, { method: "DELETE" });
    await post(server.base, "/v1/authz/deregister", { principal: alice, resource: task("c1") });
    const stats = await (await fetch(`${server.base}/_admin/stats`)).json();
    assert.deepEqual(stats.register, { 200: 1 });
    assert.deepEqual(stats.deregister, { 200: 1, 503: 1 });
    const { calls } = await (await fetch(`${server.base}/_admin/calls?resource_id=c1`)).json();
    assert.deepEqual(calls.map((c) => `${c.op}:${c.status}`), ["register:200", "deregister:503", "deregister:200"]);
    assert.ok(calls[0].seq < calls[1].seq && calls[1].seq < calls[2].seq);
  });

  test("deregister stays fast as the graph grows", async () => {
    const n = 2000;
    for (let i = 0; i < n; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) =>
        post(server.base, "/v1/authz/register", { principal: alice, resource: task(`perf-${i + j}`), parent: { type: "agent", selector: "a" } })));
    }
    const t0 = Date.now();
    for (let i = 0; i < 200; i++) {
      assert.equal((await post(server.base, "/v1/authz/deregister", { principal: alice, resource: task(`perf-${i}`) })).status, 200);
    }
    const rate = 200 / ((Date.now() - t0) / 1000);
    console.log(`deregister: ${rate.toFixed(0)}/s with ${n * 3} relationships in the graph`);
    assert.ok(rate > 50, `deregister rate ${rate}/s`);
  });
});

describe("service token", () => {
  test("with AUTHZ_SERVICE_TOKEN set, /v1/authz/* need it", async () => {
    const server = await startServer({ AUTHZ_SERVICE_TOKEN: "svc-secret" });
    try {
      const body = { principal: alice, resource: task("st") };
      assert.equal((await post(server.base, "/v1/authz/register", body)).status, 401);
      assert.equal((await post(server.base, "/v1/authz/register", body, { authorization: "Bearer wrong" })).status, 401);
      assert.equal((await post(server.base, "/v1/authz/register", body, { authorization: "Bearer svc-secret" })).status, 200);
      assert.ok(!server.output().includes("svc-secret"), "the token must never be logged");
    } finally {
      await server.stop();
    }
  });
});
