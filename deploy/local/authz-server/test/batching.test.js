// Batched writes seen from the wire: concurrent registers share
// WriteRelationships calls, within the configured size, and every per-call
// rule (order per resource, deadline, abandoned client) still holds.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { alice, get, post, relationsOf, startServer, task, useServer } from "./helpers.js";

const user = (id) => ({ principal_type: "user", user_id: id, account_id: "acct-dev" });
const parent = { type: "agent", selector: "a" };
const batches = async (base) => (await get(base, "/_admin/stats")).body.write_batches;

async function searchAll(base, principal) {
  const r = await post(base, "/v1/authz/search", { principal, resource_type: "task", operation: "read", limit: 1000 });
  return [...r.body.resource_ids].sort();
}

describe("batched writes", () => {
  const server = useServer();

  test("concurrent registers of different tasks share WriteRelationships calls, and each is applied", async () => {
    await post(server.base, "/_admin/reset", {});
    const owner = user("user-batch");
    const ids = Array.from({ length: 200 }, (_, i) => `b-${i}`);
    const answers = await Promise.all(ids.map((id) => post(server.base, "/v1/authz/register", { principal: owner, resource: task(id), parent })));
    assert.deepEqual(answers.map((a) => a.status), ids.map(() => 200));
    assert.ok(answers.every((a) => typeof a.body.zedtoken === "string" && a.body.zedtoken.length > 0));
    const b = await batches(server.base);
    assert.equal(b.items, 200);
    assert.equal(b.updates, 600);
    assert.ok(b.batches < 200 && b.max_items > 1, `no two registers shared a write: ${JSON.stringify(b)}`);
    assert.ok(new Set(answers.map((a) => a.body.zedtoken)).size < 200, "callers of one batch share its zedtoken");
    assert.deepEqual(await searchAll(server.base, owner), [...ids].sort());
    assert.deepEqual(await relationsOf(server.base, "b-7"), ["owner user:user-batch", "parent_agent agent:a", "tenant account:acct-dev"]);
  });

  test("the event loop's busy share since the last reset is reported: the one-thread server's saturation", async () => {
    await post(server.base, "/_admin/reset", {});
    const idle = (await get(server.base, "/_admin/stats")).body.event_loop;
    assert.ok(idle.utilization >= 0 && idle.utilization <= 1, JSON.stringify(idle));
    const ids = Array.from({ length: 300 }, (_, i) => `elu-${i}`);
    await Promise.all(ids.map((id) => post(server.base, "/v1/authz/register", { principal: alice, resource: task(id), parent })));
    const busy = (await get(server.base, "/_admin/stats")).body.event_loop;
    assert.ok(busy.busy_s > idle.busy_s, `${JSON.stringify(idle)} then ${JSON.stringify(busy)}`);
    assert.ok(busy.utilization > 0 && busy.utilization <= 1);
    await post(server.base, "/_admin/reset", {});
    const again = (await get(server.base, "/_admin/stats")).body.event_loop;
    assert.ok(again.busy_s < busy.busy_s, "a reset starts the count again");
  });

  test("per-resource order holds when register, deregister, register, deregister of many tasks arrive at once", async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `ord-${i}`);
    const ops = ["register", "deregister", "register", "deregister"];
    await Promise.all(
      ids.flatMap((id) => ops.map((op) => post(server.base, `/v1/authz/${op}`, { principal: alice, resource: task(id), parent }))),
    );
    for (const id of ids) {
      const { calls } = (await get(server.base, `/_admin/calls?resource_id=${id}`)).body;
      assert.equal(calls.length, 4);
      assert.ok(calls.every((c) => c.status === 200));
      // What SpiceDB holds matches the last call the server applied.
      const held = await relationsOf(server.base, id);
      assert.equal(held.length, calls.at(-1).op === "register" ? 3 : 0, `${id}: ${JSON.stringify(calls)}`);
    }
  });

  test("a register and a deregister of each of many tasks sent at once agree with the order they were applied in", async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `pair-${i}`);
    const answers = await Promise.all(
      ids.map((id) =>
        Promise.all([
          post(server.base, "/v1/authz/register", { principal: alice, resource: task(id), parent }),
          post(server.base, "/v1/authz/deregister", { principal: alice, resource: task(id) }),
        ]),
      ),
    );
    for (const [i, [r, d]] of answers.entries()) {
      assert.deepEqual([r.status, d.status], [200, 200]);
      const order = (await get(server.base, `/_admin/calls?resource_id=${ids[i]}`)).body.calls.map((c) => c.op);
      const registeredFirst = order[0] === "register";
      assert.equal(d.body.deleted, registeredFirst ? 3 : 0, `${ids[i]}: ${order}`);
      assert.equal((await relationsOf(server.base, ids[i])).length, registeredFirst ? 0 : 3, `${ids[i]}: ${order}`);
    }
  });

  test("deadlines are checked per item: in one burst only the late calls are refused (499) and nothing of them applied", async () => {
    await post(server.base, "/_admin/reset", {});
    const ids = Array.from({ length: 60 }, (_, i) => `dl-${i}`);
    const late = (i) => i % 3 === 0;
    const answers = await Promise.all(
      ids.map((id, i) =>
        post(server.base, "/v1/authz/register", { principal: alice, resource: task(id), parent }, {
          "x-request-deadline": String(late(i) ? Date.now() - 1 : Date.now() + 30_000),
        }),
      ),
    );
    assert.deepEqual(answers.map((a) => a.status), ids.map((_, i) => (late(i) ? 499 : 200)));
    for (const [i, id] of ids.entries()) assert.equal((await relationsOf(server.base, id)).length, late(i) ? 0 : 3, id);
    assert.equal((await batches(server.base)).items, 40, "refused calls never reach a write");
  });
});

describe("batched writes under a small AUTHZ_MAX_UPDATES_PER_WRITE", () => {
  const server = useServer({ AUTHZ_MAX_UPDATES_PER_WRITE: "7" });

  test("no WriteRelationships carries more updates than configured", async () => {
    const owner = user("user-small");
    const ids = Array.from({ length: 60 }, (_, i) => `sm-${i}`);
    const answers = await Promise.all(ids.map((id) => post(server.base, "/v1/authz/register", { principal: owner, resource: task(id), parent })));
    assert.ok(answers.every((a) => a.status === 200));
    const b = await batches(server.base);
    assert.equal(b.max_updates_per_write, 7);
    assert.ok(b.max_updates <= 7 && b.max_items <= 2, JSON.stringify(b));
    assert.ok(b.batches >= 30, JSON.stringify(b));
    assert.deepEqual(await searchAll(server.base, owner), [...ids].sort());
  });

  test("a deregister of more relationships than one write may carry removes them all", async () => {
    await post(server.base, "/v1/authz/register", { principal: alice, resource: task("wide"), parent });
    for (let i = 0; i < 10; i++) {
      const g = await post(server.base, "/_admin/relationships", {
        resource_type: "task", resource_id: "wide", relation: "editor", subject_type: "user", subject_id: `u-${i}`,
      });
      assert.equal(g.status, 200);
    }
    assert.equal((await relationsOf(server.base, "wide")).length, 13);
    const d = await post(server.base, "/v1/authz/deregister", { principal: alice, resource: task("wide") });
    assert.deepEqual([d.status, d.body.deleted], [200, 13]);
    assert.deepEqual(await relationsOf(server.base, "wide"), []);
  });

  test("the setting is validated at start-up", async () => {
    await assert.rejects(startServer({ AUTHZ_MAX_UPDATES_PER_WRITE: "1001" }), /did not start[\s\S]*AUTHZ_MAX_UPDATES_PER_WRITE/);
  });
});
