// Fault injection, per-op stats and a bounded call log for tests and demos.
import { HttpError } from "./http_io.js";

export const kAllOps = ["register", "deregister", "check", "authn", "search"];
export const kDefaultCallLogSize = 1_000_000;
const kMaxLatencyMs = 120_000;
// The ops that carry a resource: writes, whose delivery order tests need to
// prove, and checks, whose decisions (and consistency) they need to see.
export const kLoggedOps = new Set(["register", "deregister", "check"]);
// What the call log lists unless asked for other ops: existing readers count
// a resource's writes.
export const kDefaultListedOps = new Set(["register", "deregister"]);
const kCheckOperationMaxChars = 64;

function invalid(message) {
  return new HttpError(422, message);
}

export class Faults {
  constructor() {
    this.current = null;
  }

  // `status` 0 drops the connection; 200 with `latency_ms` only delays.
  set(body) {
    const status = body.status ?? 503;
    if (!Number.isInteger(status) || (status !== 0 && (status < 200 || status > 599))) {
      throw invalid("status must be 0 (drop the connection) or an HTTP status 200..599");
    }
    const rate = body.rate ?? 1.0;
    if (typeof rate !== "number" || !(rate >= 0 && rate <= 1)) throw invalid("rate must be a number in [0, 1]");
    const latency = body.latency_ms ?? 0;
    if (typeof latency !== "number" || !(latency >= 0 && latency <= kMaxLatencyMs)) {
      throw invalid(`latency_ms must be a number in [0, ${kMaxLatencyMs}]`);
    }
    const ops = body.ops ?? kAllOps;
    if (!Array.isArray(ops) || ops.length === 0 || !ops.every((op) => kAllOps.includes(op))) {
      throw invalid(`ops must be a non-empty subset of ${kAllOps.join(", ")}`);
    }
    const forS = body.for_s ?? null;
    if (forS !== null && (typeof forS !== "number" || !(forS > 0))) throw invalid("for_s must be a positive number");
    this.current = {
      status,
      rate,
      latency_ms: latency,
      ops: new Set(ops),
      until: forS === null ? null : Date.now() + forS * 1000,
    };
  }

  clear() {
    this.current = null;
  }

  // The fault that applies to this call of `op`, or null.
  pick(op) {
    const f = this.current;
    if (!f) return null;
    if (f.until !== null && Date.now() >= f.until) {
      this.current = null;
      return null;
    }
    if (!f.ops.has(op) || Math.random() >= f.rate) return null;
    return f;
  }

  describe() {
    const f = this.current;
    if (!f) return null;
    return { status: f.status, rate: f.rate, latency_ms: f.latency_ms, ops: [...f.ops], until: f.until };
  }
}

// Calls per op and outcome: {"register": {"200": n, "503": m}, ...}; 0 is a dropped connection.
export class Stats {
  constructor() {
    this.clear();
  }
  clear() {
    this.counts = {};
  }
  record(op, status) {
    const byStatus = (this.counts[op] ??= {});
    byStatus[status] = (byStatus[status] ?? 0) + 1;
  }
  snapshot() {
    return this.counts;
  }
}

// Ordered log of register, deregister and check calls in a fixed-size ring:
// recording is O(1) and memory stays bounded however long the server runs.
// A check also records its operation, consistency and outcome.
export class CallLog {
  constructor(capacity = kDefaultCallLogSize) {
    this.capacity = capacity;
    this.ops = new Array(capacity);
    this.resourceIds = new Array(capacity);
    this.statuses = new Int16Array(capacity);
    this.timestamps = new Float64Array(capacity);
    this.checks = new Array(capacity); // {operation, consistency, outcome} for a check, else undefined
    this.clear();
  }

  clear() {
    this.seq = 0; // seq of the last entry; entry with seq s lives at (s - 1) % capacity
    this.ops.fill(undefined);
    this.resourceIds.fill(undefined);
    this.checks.fill(undefined);
  }

  record(op, resourceId, status, check = undefined) {
    if (!kLoggedOps.has(op)) return;
    const slot = this.seq % this.capacity;
    this.seq += 1;
    this.ops[slot] = op;
    this.resourceIds[slot] = resourceId;
    this.statuses[slot] = status;
    this.timestamps[slot] = Date.now();
    this.checks[slot] =
      op === "check"
        ? {
            operation: typeof check?.operation === "string" ? check.operation.slice(0, kCheckOperationMaxChars) : null,
            consistency: check?.consistency ?? null,
            outcome: check?.outcome ?? null,
          }
        : undefined;
  }

  // Oldest first; with a resource id only that resource's calls; only the
  // `ops` asked for; at most `limit` (the newest).
  list(resourceId = null, limit = Infinity, ops = kDefaultListedOps) {
    const first = Math.max(1, this.seq - this.capacity + 1);
    const out = [];
    for (let s = this.seq; s >= first && out.length < limit; s--) {
      const slot = (s - 1) % this.capacity;
      if (resourceId !== null && this.resourceIds[slot] !== resourceId) continue;
      if (!ops.has(this.ops[slot])) continue;
      out.push({
        seq: s,
        op: this.ops[slot],
        resource_id: this.resourceIds[slot] ?? null,
        status: this.statuses[slot],
        ts: this.timestamps[slot],
        ...this.checks[slot],
      });
    }
    return out.reverse();
  }
}
