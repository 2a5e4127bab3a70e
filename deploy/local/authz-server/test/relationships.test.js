// Admin grants (owner, editor) and what the schema lets each of them do.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { alice, bob, call, post, relationsOf, task, useServer } from "./helpers.js";

const sa = { principal_type: "service_account", service_account_id: "sa-ci", account_id: "acct-dev" };
const grant = (id, relation, subjectType, subjectId) => ({
  resource_type: "task",
  resource_id: id,
  relation,
  subject_type: subjectType,
  subject_id: subjectId,
});

describe("admin relationships", () => {
  const server = useServer();

  const decisions = async (principal, id, zedtoken) => {
    const out = {};
    for (const operation of ["read", "update", "delete", "cancel"]) {
      const r = await post(server.base, "/v1/authz/check", { principal, resource: task(id), operation, zedtoken });
      out[operation] = r.status;
    }
    return out;
  };

  test("an editor may read and update a task but not delete or cancel it", async () => {
    await post(server.base, "/v1/authz/register", { principal: alice, resource: task("g-ed") });
    const r = await post(server.base, "/_admin/relationships", grant("g-ed", "editor", "user", "user-bob"));
    assert.equal(r.status, 200);
    assert.equal(typeof r.body.zedtoken, "string");
    assert.deepEqual(await decisions(bob, "g-ed", r.body.zedtoken), { read: 200, update: 200, delete: 403, cancel: 403 });
    assert.deepEqual(await decisions(alice, "g-ed"), { read: 200, update: 200, delete: 200, cancel: 200 });
    assert.deepEqual(await relationsOf(server.base, "g-ed"), ["editor user:user-bob", "owner user:user-alice", "tenant account:acct-dev"]);
  });

  test("an owner granted to a service account may do everything", async () => {
    await post(server.base, "/v1/authz/register", { principal: alice, resource: task("g-own") });
    assert.deepEqual(await decisions(sa, "g-own"), { read: 403, update: 403, delete: 403, cancel: 403 });
    const r = await post(server.base, "/_admin/relationships", grant("g-own", "owner", "service_account", "sa-ci"));
    assert.equal(r.status, 200);
    assert.deepEqual(await decisions(sa, "g-own", r.body.zedtoken), { read: 200, update: 200, delete: 200, cancel: 200 });
  });

  test("DELETE revokes a grant, given as a body or as a query", async () => {
    await post(server.base, "/_admin/relationships", grant("g-rev", "editor", "user", "user-bob"));
    await post(server.base, "/_admin/relationships", grant("g-rev", "owner", "user", "user-alice"));
    const byBody = await call(server.base, "DELETE", "/_admin/relationships", grant("g-rev", "editor", "user", "user-bob"));
    assert.equal(byBody.status, 200);
    assert.equal(byBody.body.deleted, 1);
    assert.equal(typeof byBody.body.zedtoken, "string");
    assert.deepEqual(await decisions(bob, "g-rev", byBody.body.zedtoken), { read: 403, update: 403, delete: 403, cancel: 403 });
    const query = new URLSearchParams(grant("g-rev", "owner", "user", "user-alice"));
    const byQuery = await call(server.base, "DELETE", `/_admin/relationships?${query}`);
    assert.equal(byQuery.status, 200);
    assert.equal(byQuery.body.deleted, 1);
    assert.deepEqual(await relationsOf(server.base, "g-rev"), []);
    const again = await call(server.base, "DELETE", `/_admin/relationships?${query}`);
    assert.equal(again.status, 200);
    assert.equal(again.body.deleted, 0, "revoking what is not there is a 200 that deleted nothing");
  });

  test("deregister removes admin grants too", async () => {
    await post(server.base, "/v1/authz/register", { principal: alice, resource: task("g-dereg"), parent: { type: "agent", selector: "a" } });
    await post(server.base, "/_admin/relationships", grant("g-dereg", "editor", "user", "user-bob"));
    const d = await post(server.base, "/v1/authz/deregister", { principal: alice, resource: task("g-dereg") });
    assert.equal(d.status, 200);
    assert.equal(d.body.deleted, 4);
    assert.deepEqual(await relationsOf(server.base, "g-dereg"), []);
    assert.deepEqual(await decisions(bob, "g-dereg", d.body.zedtoken), { read: 403, update: 403, delete: 403, cancel: 403 });
  });

  test("anything but the five fields of a task owner/editor grant is a 400 in the error shape", async () => {
    const ok = grant("g-bad", "editor", "user", "user-bob");
    const cases = [
      { ...ok, relation: "tenant" },
      { ...ok, relation: "viewer" },
      { ...ok, subject_type: "agent" },
      { ...ok, subject_type: "account" },
      { ...ok, resource_type: "agent" },
      { ...ok, resource_id: "has space" },
      { ...ok, subject_id: "" },
      { ...ok, subject_id: 7 },
      { ...ok, extra: 1 },
      (({ subject_id, ...rest }) => rest)(ok),
      {},
    ];
    for (const body of cases) {
      for (const method of ["POST", "DELETE"]) {
        const r = await call(server.base, method, "/_admin/relationships", body);
        assert.equal(r.status, 400, `${method} ${JSON.stringify(body)}`);
        assert.equal(r.body.code, 400);
        assert.equal(r.body.data, null);
        assert.equal(typeof r.body.message, "string");
      }
    }
    assert.equal((await call(server.base, "POST", "/_admin/relationships", "{nope")).status, 400);
    assert.equal((await call(server.base, "POST", "/_admin/relationships", "[1]")).status, 400);
    assert.deepEqual(await relationsOf(server.base, "g-bad"), [], "no invalid grant reached SpiceDB");
  });
});
