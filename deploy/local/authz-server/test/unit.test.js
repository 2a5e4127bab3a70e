// Pure pieces: request plumbing, principals file, fault specs, the call log ring.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { bearerToken, isLoopbackAddress, tokensEqual } from "../http_io.js";
import { parsePrincipals } from "../principals.js";
import { CallLog, Faults } from "../observability.js";

describe("http plumbing", () => {
  test("only loopback addresses may reach the admin endpoints", () => {
    for (const a of ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"]) assert.equal(isLoopbackAddress(a), true, a);
    for (const a of ["10.0.0.1", "192.168.1.5", "::ffff:10.1.2.3", "fe80::1", "128.0.0.1", "", undefined]) {
      assert.equal(isLoopbackAddress(a), false, String(a));
    }
  });

  test("a bearer token is read case-insensitively from the Authorization header", () => {
    assert.equal(bearerToken({ headers: { authorization: "Bearer abc" } }), "abc");
    assert.equal(bearerToken({ headers: { authorization: "bearer  abc " } }), "abc");
    assert.equal(bearerToken({ headers: { authorization: "Basic abc" } }), null);
    assert.equal(bearerToken({ headers: {} }), null);
  });

  test("service tokens compare equal only when identical", () => {
    assert.equal(tokensEqual("s3cret", "s3cret"), true);
    assert.equal(tokensEqual("s3cre", "s3cret"), false);
    assert.equal(tokensEqual(null, "s3cret"), false);
  });
});

describe("principals file", () => {
  test("maps tokens to principals and never resolves Object.prototype names", () => {
    const p = parsePrincipals(JSON.stringify({ t1: { principal_type: "user", user_id: "u1", account_id: "a" } }));
    assert.deepEqual(p.get("t1"), { principal_type: "user", user_id: "u1", account_id: "a" });
    assert.equal(p.get("constructor"), undefined);
    assert.equal(p.get("__proto__"), undefined);
  });

  test("rejects principals without a type or id", () => {
    assert.throws(() => parsePrincipals(JSON.stringify({ t: { user_id: "u" } })), /principal_type/);
    assert.throws(() => parsePrincipals(JSON.stringify({ t: { principal_type: "service_account" } })), /service_account_id/);
    assert.throws(() => parsePrincipals("[]"), /JSON object/);
  });
});

describe("fault specs", () => {
  test("defaults to 503 on every op at rate 1", () => {
    const f = new Faults();
    f.set({});
    assert.deepEqual(f.describe().ops, ["register", "deregister", "check", "authn", "search"]);
    assert.equal(f.pick("authn").status, 503);
  });

  test("rejects nonsense with a 422", () => {
    const f = new Faults();
    for (const bad of [{ status: 99 }, { status: "503" }, { rate: 2 }, { ops: ["fly"] }, { ops: [] }, { latency_ms: -1 }, { for_s: 0 }]) {
      assert.throws(() => f.set(bad), (err) => err.status === 422, JSON.stringify(bad));
    }
    assert.equal(f.describe(), null);
  });

  test("rate 0 never fires", () => {
    const f = new Faults();
    f.set({ rate: 0 });
    for (let i = 0; i < 100; i++) assert.equal(f.pick("register"), null);
  });
});

describe("call log", () => {
  test("keeps the calls in order and only the newest entries past its capacity", () => {
    const log = new CallLog(3);
    log.record("register", "a", 200);
    log.record("authn", null, 200);
    log.record("deregister", "a", 503);
    log.record("deregister", "a", 200);
    log.record("register", "b", 200);
    assert.deepEqual(
      log.list().map((c) => `${c.seq}:${c.op}:${c.resource_id}:${c.status}`),
      ["2:deregister:a:503", "3:deregister:a:200", "4:register:b:200"],
    );
    assert.deepEqual(log.list("a").map((c) => c.seq), [2, 3]);
    assert.deepEqual(log.list(null, 1).map((c) => c.seq), [4]);
    log.clear();
    assert.deepEqual(log.list(), []);
  });

  test("records checks with operation, consistency and outcome, listed only when asked for", () => {
    const log = new CallLog(10);
    log.record("register", "a", 200);
    log.record("check", "a", 200, { operation: "read", consistency: "at_least_as_fresh", outcome: "allowed" });
    log.record("check", "a", 503, { operation: "update", consistency: "fully_consistent", outcome: "fault" });
    assert.deepEqual(log.list("a").map((c) => c.op), ["register"]);
    const checks = log.list("a", Infinity, new Set(["check"]));
    assert.deepEqual(
      checks.map(({ seq, op, resource_id, status, operation, consistency, outcome }) => ({
        seq, op, resource_id, status, operation, consistency, outcome,
      })),
      [
        { seq: 2, op: "check", resource_id: "a", status: 200, operation: "read", consistency: "at_least_as_fresh", outcome: "allowed" },
        { seq: 3, op: "check", resource_id: "a", status: 503, operation: "update", consistency: "fully_consistent", outcome: "fault" },
      ],
    );
    assert.equal("operation" in log.list("a")[0], false, "a write entry carries no check fields");
    assert.deepEqual(log.list("a", Infinity, new Set(["register", "check"])).map((c) => c.seq), [1, 2, 3]);
  });
});
