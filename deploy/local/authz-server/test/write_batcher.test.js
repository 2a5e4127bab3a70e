// The write batcher against a fake engine: what goes into each
// WriteRelationships, in which order, and who is answered with what.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AbandonedError, WriteBatcher } from "../write_batcher.js";

// A WriteRelationships stand-in: records each call's updates and answers
// z1, z2, ...; `hold()` keeps the next call pending until released.
function fakeEngine({ failWhen = () => false } = {}) {
  const writes = [];
  let gate = null;
  return {
    writes,
    hold() {
      let release;
      gate = new Promise((r) => (release = r));
      return () => release();
    },
    async write(updates) {
      writes.push(updates);
      const wait = gate;
      gate = null;
      if (wait) await wait;
      if (failWhen(updates)) throw new Error(`refused ${updates.join(",")}`);
      return `z${writes.length}`;
    },
  };
}

const turn = () => new Promise((r) => setImmediate(r));

async function until(predicate) {
  for (let i = 0; i < 100 && !predicate(); i++) await turn();
  assert.ok(predicate(), "condition not reached");
}

// One item: `n` updates named after the resource and its sequence number.
function item(applied, key, seq, n = 1, extra = {}) {
  const updates = Array.from({ length: n }, (_, i) => `${key}${seq}.${i}`);
  return {
    key,
    prepare: () => ({
      updates,
      apply: (zedtoken) => {
        applied.push(`${key}${seq}`);
        return { seq: `${key}${seq}`, zedtoken };
      },
    }),
    ...extra,
  };
}

// A batcher whose first write (item a1) has been sent and is held pending
// until `release()` is called.
async function whileFirstWriteRuns() {
  const engine = fakeEngine();
  const batcher = new WriteBatcher((u) => engine.write(u));
  const applied = [];
  const release = engine.hold();
  const first = batcher.submit(item(applied, "a", 1));
  await until(() => engine.writes.length === 1);
  return { engine, batcher, applied, release, first };
}

describe("write batcher", () => {
  test("concurrent writes of different resources share one write and its zedtoken", async () => {
    const engine = fakeEngine();
    const batcher = new WriteBatcher((u) => engine.write(u));
    const applied = [];
    const answers = await Promise.all(["a", "b", "c"].map((k) => batcher.submit(item(applied, k, 1, 3))));
    assert.deepEqual(engine.writes, [["a1.0", "a1.1", "a1.2", "b1.0", "b1.1", "b1.2", "c1.0", "c1.1", "c1.2"]]);
    assert.deepEqual(answers, [
      { seq: "a1", zedtoken: "z1" },
      { seq: "b1", zedtoken: "z1" },
      { seq: "c1", zedtoken: "z1" },
    ]);
  });

  test("a resource is written at most once per batch; its next write waits for the next batch", async () => {
    const engine = fakeEngine();
    const batcher = new WriteBatcher((u) => engine.write(u));
    const applied = [];
    const answers = await Promise.all([
      batcher.submit(item(applied, "a", 1)),
      batcher.submit(item(applied, "b", 1)),
      batcher.submit(item(applied, "a", 2)),
      batcher.submit(item(applied, "a", 3)),
      batcher.submit(item(applied, "c", 1)),
    ]);
    assert.deepEqual(engine.writes, [["a1.0", "b1.0", "c1.0"], ["a2.0"], ["a3.0"]]);
    assert.deepEqual(applied, ["a1", "b1", "c1", "a2", "a3"]);
    assert.deepEqual(answers.map((a) => a.zedtoken), ["z1", "z1", "z2", "z3", "z1"]);
  });

  test("the next batch is whatever arrived while the previous write ran", async () => {
    const { engine, batcher, applied, release, first } = await whileFirstWriteRuns();
    const later = ["b", "c", "d"].map((k) => batcher.submit(item(applied, k, 1)));
    await turn();
    assert.equal(engine.writes.length, 1, "nothing is written while the previous write runs");
    release();
    await Promise.all([first, ...later]);
    assert.deepEqual(engine.writes, [["a1.0"], ["b1.0", "c1.0", "d1.0"]]);
  });

  test("a batch carries at most maxUpdates updates; the rest wait in order", async () => {
    const engine = fakeEngine();
    const batcher = new WriteBatcher((u) => engine.write(u), { maxUpdates: 7 });
    const applied = [];
    await Promise.all(["a", "b", "c", "d", "e"].map((k) => batcher.submit(item(applied, k, 1, 3))));
    assert.deepEqual(engine.writes.map((w) => w.length), [6, 6, 3]);
    assert.deepEqual(applied, ["a1", "b1", "c1", "d1", "e1"]);
    assert.ok(engine.writes.every((w) => w.length <= 7));
  });

  test("an item larger than maxUpdates is written alone, in chunks", async () => {
    const engine = fakeEngine();
    const batcher = new WriteBatcher((u) => engine.write(u), { maxUpdates: 4 });
    const applied = [];
    const [big, small] = await Promise.all([
      batcher.submit(item(applied, "a", 1, 10)),
      batcher.submit(item(applied, "b", 1, 1)),
    ]);
    assert.deepEqual(engine.writes.map((w) => w.length), [4, 4, 2, 1]);
    assert.equal(big.zedtoken, "z3", "answered with the last chunk's zedtoken");
    assert.equal(small.zedtoken, "z4");
  });

  test("a client that gave up while its write waited is refused when the batch forms, and nothing of it is written", async () => {
    const { engine, batcher, applied, release, first } = await whileFirstWriteRuns();
    let gaveUp = false;
    const late = batcher.submit(item(applied, "b", 1, 1, { abandoned: () => gaveUp }));
    const kept = batcher.submit(item(applied, "c", 1));
    gaveUp = true; // after it was queued, before its batch is formed
    release();
    await assert.rejects(late, AbandonedError);
    await Promise.all([first, kept]);
    assert.deepEqual(engine.writes, [["a1.0"], ["c1.0"]]);
    assert.deepEqual(applied, ["a1", "c1"]);
  });

  test("a failed batch is retried item by item: only the bad item's caller fails", async () => {
    const engine = fakeEngine({ failWhen: (updates) => updates.includes("b1.0") });
    const batcher = new WriteBatcher((u) => engine.write(u));
    const applied = [];
    const results = await Promise.allSettled(["a", "b", "c"].map((k) => batcher.submit(item(applied, k, 1))));
    assert.deepEqual(engine.writes, [["a1.0", "b1.0", "c1.0"], ["a1.0"], ["b1.0"], ["c1.0"]]);
    assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
    assert.match(results[1].reason.message, /refused b1.0/);
    assert.deepEqual([results[0].value.zedtoken, results[2].value.zedtoken], ["z2", "z4"]);
    assert.deepEqual(applied, ["a1", "c1"]);
    assert.equal(batcher.stats.failed_batches, 1);
  });

  test("prepare runs when the batch forms, after the resource's earlier writes were applied", async () => {
    const engine = fakeEngine();
    const batcher = new WriteBatcher((u) => engine.write(u));
    const held = new Set();
    const touch = batcher.submit({
      key: "a",
      prepare: () => ({ updates: ["touch a"], apply: () => held.add("a") }),
    });
    const remove = batcher.submit({
      key: "a",
      prepare: () =>
        held.has("a")
          ? { updates: ["delete a"], apply: () => held.delete("a") && "deleted" }
          : { answer: "nothing there" },
    });
    await touch;
    assert.equal(await remove, "deleted");
    assert.deepEqual(engine.writes, [["touch a"], ["delete a"]]);
  });

  test("an item with nothing to write is answered without a write", async () => {
    const engine = fakeEngine();
    const batcher = new WriteBatcher((u) => engine.write(u));
    assert.equal(await batcher.submit({ key: "a", prepare: () => ({ answer: "none" }) }), "none");
    assert.deepEqual(engine.writes, []);
  });
});
