// Wire input → validated SpiceDB values. Pure functions: every check that
// makes a request the caller's fault (422 on /v1, 400 on /_admin) lives here,
// so a bad id never reaches the engine as our 500.
export const kOperations = new Set(["read", "update", "delete", "cancel"]);
// SpiceDB's object id grammar.
const kObjectId = /^[a-zA-Z0-9/_|\-=+]{1,1024}$/;
export const kResourceType = "task";
const kParentType = "agent";
// Relations an admin may grant on a task, and to whom (schema.zed).
export const kGrantableRelations = new Set(["owner", "editor"]);
export const kSubjectTypes = new Set(["user", "service_account"]);
const kAdminRelationshipFields = ["resource_type", "resource_id", "relation", "subject_type", "subject_id"];
// Search answers at most this many ids (SpiceDB's own LookupResources cap is 1000).
export const kDefaultSearchLimit = 100;
export const kMaxSearchLimit = 1000;

export class InputError extends Error {}

function objectId(value, what) {
  if (typeof value !== "string" || !kObjectId.test(value)) {
    throw new InputError(`${what} must be 1..1024 characters of [a-zA-Z0-9/_|-=+]`);
  }
  return value;
}

export function ref(objectType, id) {
  return { objectType, objectId: id };
}

export function tuple(resource, relation, subject) {
  return { resource, relation, subject: { object: subject, optionalRelation: "" } };
}

export function tupleKey(t) {
  return `${t.resource.objectType}:${t.resource.objectId}#${t.relation}@${t.subject.object.objectType}:${t.subject.object.objectId}`;
}

export function resourceKey(resource) {
  return `${resource.objectType}:${resource.objectId}`;
}

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

// The user or service account a principal names, or null when it names neither.
export function subjectOf(principal) {
  if (!isObject(principal)) return null;
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

function requiredSubject(principal) {
  const subject = subjectOf(principal);
  if (!subject) throw new InputError("principal names no user or service account");
  return subject;
}

export function resourceOf(body) {
  const r = body?.resource;
  if (!isObject(r) || typeof r.type !== "string" || typeof r.selector !== "string" || !r.type || !r.selector) {
    throw new InputError("resource must be {type, selector} strings");
  }
  if (r.type !== kResourceType) throw new InputError(`resource.type must be "${kResourceType}"`);
  return ref(r.type, objectId(r.selector, "resource.selector"));
}

// register: the TOUCH tuples (owner, tenant when account_id, parent_agent).
export function registration(body) {
  const resource = resourceOf(body);
  const principal = body.principal;
  if (principal !== undefined && !isObject(principal)) throw new InputError("principal must be an object");
  const tuples = [];
  const owner = subjectOf(principal);
  if (owner) tuples.push(tuple(resource, "owner", owner));
  const account = principal?.account_id;
  if (typeof account === "string" && account) {
    tuples.push(tuple(resource, "tenant", ref("account", objectId(account, "principal.account_id"))));
  }
  if (body.parent !== undefined && body.parent !== null) {
    const p = body.parent;
    if (!isObject(p) || typeof p.type !== "string" || typeof p.selector !== "string" || !p.type || !p.selector) {
      throw new InputError("parent must be {type, selector} strings");
    }
    if (p.type !== kParentType) throw new InputError(`parent.type must be "${kParentType}"`);
    tuples.push(tuple(resource, "parent_agent", ref(kParentType, objectId(p.selector, "parent.selector"))));
  }
  if (tuples.length === 0) throw new InputError("nothing to register: no principal, account or parent");
  return { resource, tuples };
}

function operationOf(body) {
  if (!kOperations.has(body.operation)) throw new InputError(`operation must be one of ${[...kOperations].join(", ")}`);
  return body.operation;
}

// at_least_as_fresh the given zedtoken, else fully consistent.
export function consistencyOf(body) {
  const z = body.zedtoken;
  if (z !== undefined && z !== null && typeof z !== "string") throw new InputError("zedtoken must be a string");
  return typeof z === "string" && z
    ? { requirement: { oneofKind: "atLeastAsFresh", atLeastAsFresh: { token: z } } }
    : { requirement: { oneofKind: "fullyConsistent", fullyConsistent: true } };
}

// The name the call log gives a request's consistency, without validating it.
export function consistencyName(body) {
  return typeof body?.zedtoken === "string" && body.zedtoken ? "at_least_as_fresh" : "fully_consistent";
}

export function checkRequest(body) {
  return {
    resource: resourceOf(body),
    subject: requiredSubject(body.principal),
    permission: operationOf(body),
    consistency: consistencyOf(body),
  };
}

export function searchRequest(body) {
  const subject = requiredSubject(body.principal);
  if (body.resource_type !== kResourceType) throw new InputError(`resource_type must be "${kResourceType}"`);
  const limit = body.limit ?? kDefaultSearchLimit;
  if (!Number.isInteger(limit) || limit < 1 || limit > kMaxSearchLimit) {
    throw new InputError(`limit must be an integer in [1, ${kMaxSearchLimit}]`);
  }
  return {
    resourceType: kResourceType,
    subject,
    permission: operationOf(body),
    limit,
    consistency: consistencyOf(body),
  };
}

// POST/DELETE /_admin/relationships: exactly the five fields, all strings.
export function adminRelationship(fields) {
  if (!isObject(fields)) throw new InputError("body must be a JSON object");
  const unknown = Object.keys(fields).filter((k) => !kAdminRelationshipFields.includes(k));
  if (unknown.length > 0) throw new InputError(`unknown field ${unknown[0]}`);
  if (fields.resource_type !== kResourceType) throw new InputError(`resource_type must be "${kResourceType}"`);
  if (!kGrantableRelations.has(fields.relation)) {
    throw new InputError(`relation must be one of ${[...kGrantableRelations].join(", ")}`);
  }
  if (!kSubjectTypes.has(fields.subject_type)) {
    throw new InputError(`subject_type must be one of ${[...kSubjectTypes].join(", ")}`);
  }
  const resource = ref(kResourceType, objectId(fields.resource_id, "resource_id"));
  const subject = ref(fields.subject_type, objectId(fields.subject_id, "subject_id"));
  return tuple(resource, fields.relation, subject);
}
