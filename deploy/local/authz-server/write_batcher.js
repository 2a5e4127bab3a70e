// Merges concurrent writes of different resources into one WriteRelationships.
//
// The engine costs ~1 CPU-ms per call however small, and ~0.15 ms per
// register when 100 share a call, so one write at a time, each carrying
// whatever arrived while the previous one ran, is what makes the server fast
// under load and adds nothing at low load (no timer: an idle batcher writes
// on the next turn of the event loop).
//
// Rules, each an invariant the tests hold it to:
// - a batch carries at most `maxUpdates` updates (SpiceDB refuses more than
//   1000 per call by default); an item larger than that is written alone, in
//   chunks;
// - a resource appears at most once per batch, and its items leave the queue
//   in arrival order, so per-resource order holds (a second write for it
//   waits for the next batch);
// - `prepare()` runs when the batch is formed, so it sees every earlier write
//   of its resource applied (a deregister reads the index then);
// - `abandoned()` is asked just before the item is written; a client that
//   gave up gets AbandonedError and nothing of its write is applied;
// - every item of a batch is answered with the batch's zedtoken; a failed
//   batch is retried item by item, so a bad item fails only its own caller.

// SpiceDB's default --write-relationships-max-updates-per-call.
export const kSpiceDbMaxUpdatesPerWrite = 1000;

// The client went away before its write got its turn: nothing was applied.
export class AbandonedError extends Error {
  constructor() {
    super("client gave up before the write was applied");
  }
}

export class WriteBatcher {
  // `write(updates)` performs one WriteRelationships and resolves to its zedtoken.
  constructor(write, { maxUpdates = kSpiceDbMaxUpdatesPerWrite, schedule = setImmediate } = {}) {
    if (!Number.isInteger(maxUpdates) || maxUpdates < 1) throw new RangeError("maxUpdates must be a positive integer");
    this.write = write;
    this.maxUpdates = maxUpdates;
    this.schedule = schedule;
    this.queue = [];
    this.busy = false;
    this.scheduled = false;
    this.resetStats();
  }

  resetStats() {
    this.stats = { batches: 0, items: 0, updates: 0, max_items: 0, max_updates: 0, failed_batches: 0 };
  }

  // `prepare()` → {updates: [...], apply(zedtoken) → answer} to write, or
  // {answer} when there is nothing to write. Resolves to the answer.
  submit({ key, prepare, abandoned = () => false }) {
    return new Promise((resolve, reject) => {
      this.queue.push({ key, prepare, abandoned, resolve, reject });
      this.kick();
    });
  }

  pending() {
    return this.queue.length;
  }

  kick() {
    if (this.busy || this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    // Not a timer: the next turn of the event loop, after it has read every
    // request that is ready, so they all join this batch.
    this.schedule(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  async drain() {
    this.busy = true;
    try {
      const batch = this.form();
      if (batch.length > 0) await this.run(batch);
    } finally {
      this.busy = false;
      this.kick();
    }
  }

  // Takes the batch off the queue: the first waiting item of each resource,
  // in arrival order, until the next one would not fit.
  form() {
    const seen = new Set();
    const batch = [];
    const rest = [];
    let updates = 0;
    let full = false;
    for (const item of this.queue) {
      if (full || seen.has(item.key)) {
        rest.push(item);
        continue;
      }
      seen.add(item.key);
      if (item.abandoned()) {
        item.reject(new AbandonedError());
        continue;
      }
      let plan;
      try {
        plan = item.prepare();
      } catch (err) {
        item.reject(err);
        continue;
      }
      const size = plan.updates?.length ?? 0;
      if (size === 0) {
        item.resolve(plan.answer);
        continue;
      }
      if (updates + size > this.maxUpdates && batch.length > 0) {
        full = true;
        rest.push(item);
        continue;
      }
      batch.push({ ...item, plan });
      updates += size;
      if (updates >= this.maxUpdates) full = true;
    }
    this.queue = rest;
    return batch;
  }

  async run(batch) {
    const updates = batch.flatMap((item) => item.plan.updates);
    this.stats.batches += 1;
    this.stats.items += batch.length;
    this.stats.updates += updates.length;
    this.stats.max_items = Math.max(this.stats.max_items, batch.length);
    this.stats.max_updates = Math.max(this.stats.max_updates, updates.length);
    let zedtoken;
    try {
      zedtoken = await this.writeChunked(updates);
    } catch (err) {
      if (batch.length === 1) {
        batch[0].reject(err);
        return;
      }
      this.stats.failed_batches += 1;
      await this.retryOneByOne(batch);
      return;
    }
    for (const item of batch) settle(item, zedtoken);
  }

  // Nothing of a failed batch was applied (one WriteRelationships is atomic).
  async retryOneByOne(batch) {
    for (const item of batch) {
      if (item.abandoned()) {
        item.reject(new AbandonedError());
        continue;
      }
      let zedtoken;
      try {
        zedtoken = await this.writeChunked(item.plan.updates);
      } catch (err) {
        item.reject(err);
        continue;
      }
      settle(item, zedtoken);
    }
  }

  // Only an item larger than maxUpdates (a deregister of a resource with
  // more relationships than that) takes more than one call; its updates are
  // idempotent (TOUCH, DELETE), so a retry after a partial failure is safe.
  async writeChunked(updates) {
    let zedtoken = null;
    for (let i = 0; i < updates.length; i += this.maxUpdates) {
      zedtoken = await this.write(updates.slice(i, i + this.maxUpdates));
    }
    return zedtoken;
  }
}

function settle(item, zedtoken) {
  try {
    item.resolve(item.plan.apply(zedtoken));
  } catch (err) {
    item.reject(err);
  }
}
