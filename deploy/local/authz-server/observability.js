// Fault injection, per-op stats and a bounded call log for tests and demos.
const kMaxCalls = 1_000_000;
const kAllOps = ["register", "deregister", "check", "authn"];

export class Faults {
  constructor() {
    this.current = null;
  }

  set(body) {
    const status = body.status ?? 503;
    if (!Number.isInteger(status) || status < 0 || status > 599) throw new Error("status must be 0 or an HTTP status");
    const rate = body.rate ?? 1.0;
    const ops = Array.isArray(body.ops) && body.ops.length > 0 ? body.ops : kAllOps;
    this.current = {
      status,
      rate: Math.max(0, Math.min(1, Number(rate))),
      latency_ms: Math.max(0, Number(body.latency_ms ?? 0)),
      ops: new Set(ops),
      until: body.for_s ? Date.now() + Number(body.for_s) * 1000 : null,
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

export class CallLog {
  constructor() {
    this.clear();
  }
  clear() {
    this.entries = [];
    this.seq = 0;
  }
  record(op, resourceId, status) {
    if (op === "authn" || op === "check") return;
    this.seq += 1;
    this.entries.push({ seq: this.seq, op, resource_id: resourceId, status, ts: Date.now() });
    if (this.entries.length > kMaxCalls) this.entries.splice(0, this.entries.length - kMaxCalls);
  }
  list(resourceId) {
    return resourceId ? this.entries.filter((e) => e.resource_id === resourceId) : this.entries;
  }
}
