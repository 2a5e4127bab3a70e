// Checks in the call log and stats, faults on checks alone, and search.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { alice, bob, call, get, post, task, useServer } from "./helpers.js";

const user = (id) => ({ principal_type: "user", user_id: id, account_id: "acct-dev" });

describe("checks in the call log", () => {
  const server = useServer();

  const checksOf = async (id) =>
    (await get(server.base, `/_admin/calls?resource_id=${id}&op=check`)).body.calls.map(
      ({ op, resource_id, status, operation, consistency, outcome }) => ({ op, resource_id, status, operation, consistency, outcome }),
    );

  test("every check is logged with its operation, consistency and outcome, and counted in stats", async () => {
    await post(server.base, "/_admin/reset", {});
    const reg = await post(server.base, "/v1/authz/register", { principal: alice, resource: task("ck-1") });
    const check = (principal, operation, zedtoken) =>
      post(server.base, "/v1/authz/check", { principal, resource: task("ck-1"), operation, zedtoken });
    assert.equal((await check(alice, "read", reg.body.zedtoken)).status, 200);
    assert.equal((await check(bob, "update")).status, 403);
    assert.equal((await check(alice, "fly")).status, 422);
    const entry = (status, operation, consistency, outcome) => ({
      op: "check", resource_id: "ck-1", status, operation, consistency, outcome,
    });
    assert.deepEqual(await checksOf("ck-1"), [
      entry(200, "read", "at_least_as_fresh", "allowed"),
      entry(403, "update", "fully_consistent", "denied"),
      entry(422, "fly", "fully_consistent", "error"),
    ]);
    const stats = (await get(server.base, "/_admin/stats")).body;
    assert.deepEqual(stats.check, { 200: 1, 403: 1, 422: 1 });
    const all = (await get(server.base, "/_admin/calls?resource_id=ck-1&op=all")).body.calls;
    assert.deepEqual(all.map((c) => `${c.op}:${c.status}`), ["register:200", "check:200", "check:403", "check:422"]);
  });

  test("the call log lists writes only unless checks are asked for", async () => {
    await post(server.base, "/v1/authz/register", { principal: alice, resource: task("ck-2") });
    await post(server.base, "/v1/authz/check", { principal: alice, resource: task("ck-2"), operation: "read" });
    await post(server.base, "/v1/authz/deregister", { principal: alice, resource: task("ck-2") });
    const writes = (await get(server.base, "/_admin/calls?resource_id=ck-2")).body.calls;
    assert.deepEqual(writes.map((c) => c.op), ["register", "deregister"]);
    const some = (await get(server.base, "/_admin/calls?resource_id=ck-2&op=check,deregister")).body.calls;
    assert.deepEqual(some.map((c) => c.op), ["check", "deregister"]);
    assert.equal((await get(server.base, "/_admin/calls?op=authn")).status, 400);
  });

  test("a check faulted on its own answers 503 and is logged as a fault, while register still works", async () => {
    await post(server.base, "/_admin/reset", {});
    await post(server.base, "/_admin/faults", { status: 503, ops: ["check"] });
    try {
      assert.equal((await post(server.base, "/v1/authz/register", { principal: alice, resource: task("ck-3") })).status, 200);
      const r = await post(server.base, "/v1/authz/check", { principal: alice, resource: task("ck-3"), operation: "cancel", zedtoken: "z" });
      assert.equal(r.status, 503);
    } finally {
      await call(server.base, "DELETE", "/_admin/faults");
    }
    assert.deepEqual(await checksOf("ck-3"), [
      { op: "check", resource_id: "ck-3", status: 503, operation: "cancel", consistency: "at_least_as_fresh", outcome: "fault" },
    ]);
    const stats = (await get(server.base, "/_admin/stats")).body;
    assert.deepEqual(stats.check, { 503: 1 });
    assert.deepEqual(stats.register, { 200: 1 });
  });
});

describe("search", () => {
  const server = useServer();

  const search = (principal, extra = {}) =>
    post(server.base, "/v1/authz/search", { principal, resource_type: "task", operation: "read", ...extra });
  const registerAll = async (principal, ids) => {
    const answers = await Promise.all(ids.map((id) => post(server.base, "/v1/authz/register", { principal, resource: task(id) })));
    assert.ok(answers.every((a) => a.status === 200));
    return answers.at(-1).body.zedtoken;
  };

  test("answers the tasks the principal may read, and only those", async () => {
    const carol = user("user-carol");
    await registerAll(carol, ["s-c1", "s-c2", "s-c3"]);
    await registerAll(user("user-dan"), ["s-d1"]);
    const r = await search(carol);
    assert.equal(r.status, 200);
    assert.deepEqual({ ids: [...r.body.resource_ids].sort(), truncated: r.body.truncated }, {
      ids: ["s-c1", "s-c2", "s-c3"],
      truncated: false,
    });
  });

  test("an editor finds what it may read or update but not what it may delete", async () => {
    await registerAll(user("user-erin"), ["s-e1", "s-e2"]);
    const g = await post(server.base, "/_admin/relationships", {
      resource_type: "task", resource_id: "s-e2", relation: "editor", subject_type: "user", subject_id: "user-frank",
    });
    const frank = user("user-frank");
    for (const [operation, ids] of [["read", ["s-e2"]], ["update", ["s-e2"]], ["delete", []], ["cancel", []]]) {
      const r = await search(frank, { operation, zedtoken: g.body.zedtoken });
      assert.deepEqual(r.body, { resource_ids: ids, truncated: false }, operation);
    }
  });

  test("the limit caps the answer and truncated says when it did", async () => {
    const gina = user("user-gina");
    await registerAll(gina, ["s-g1", "s-g2", "s-g3"]);
    const two = await search(gina, { limit: 2 });
    assert.equal(two.body.resource_ids.length, 2);
    assert.equal(two.body.truncated, true);
    const three = await search(gina, { limit: 3 });
    assert.deepEqual([three.body.resource_ids.length, three.body.truncated], [3, false]);
  });

  test("at the maximum limit (1000, SpiceDB's own cap) truncated is still exact", async () => {
    const hal = user("user-hal");
    const ids = Array.from({ length: 1001 }, (_, i) => `s-h${i}`);
    for (let i = 0; i < ids.length; i += 200) await registerAll(hal, ids.slice(i, i + 200));
    const over = await search(hal, { limit: 1000 });
    assert.deepEqual([over.status, over.body.resource_ids.length, over.body.truncated], [200, 1000, true]);
    const d = await post(server.base, "/v1/authz/deregister", { principal: hal, resource: task("s-h0") });
    const exact = await search(hal, { limit: 1000, zedtoken: d.body.zedtoken });
    assert.deepEqual([exact.body.resource_ids.length, exact.body.truncated], [1000, false]);
    const byDefault = await search(hal);
    assert.deepEqual([byDefault.body.resource_ids.length, byDefault.body.truncated], [100, true]);
  });

  test("bad input: a body that is not JSON is 400, invalid fields are 422 as on check", async () => {
    assert.equal((await post(server.base, "/v1/authz/search", "{nope")).status, 400);
    const cases = [
      { resource_type: "task", operation: "read" },
      { principal: { principal_type: "user" }, resource_type: "task", operation: "read" },
      { principal: alice, resource_type: "agent", operation: "read" },
      { principal: alice, operation: "read" },
      { principal: alice, resource_type: "task", operation: "fly" },
      { principal: alice, resource_type: "task", operation: "read", limit: 0 },
      { principal: alice, resource_type: "task", operation: "read", limit: 1001 },
      { principal: alice, resource_type: "task", operation: "read", limit: "5" },
      { principal: alice, resource_type: "task", operation: "read", limit: 2.5 },
      { principal: alice, resource_type: "task", operation: "read", zedtoken: 5 },
      { principal: alice, resource_type: "task", operation: "read", zedtoken: "not-a-token" },
    ];
    for (const body of cases) {
      const r = await post(server.base, "/v1/authz/search", body);
      assert.equal(r.status, 422, JSON.stringify(body));
      assert.deepEqual([r.body.code, r.body.data, typeof r.body.message], [422, null, "string"]);
    }
  });

  test("search can be faulted on its own and is counted in stats", async () => {
    await post(server.base, "/_admin/reset", {});
    await post(server.base, "/_admin/faults", { status: 503, ops: ["search"] });
    try {
      assert.equal((await search(alice)).status, 503);
      assert.equal((await post(server.base, "/v1/authz/check", { principal: alice, resource: task("x"), operation: "read" })).status, 403);
    } finally {
      await call(server.base, "DELETE", "/_admin/faults");
    }
    assert.equal((await search(alice)).status, 200);
    assert.deepEqual((await get(server.base, "/_admin/stats")).body.search, { 200: 1, 503: 1 });
  });
});
