#!/usr/bin/env node
// Validates recorded HTTP responses against the task API's OpenAPI document.
//
//   node tools/validate-responses.mjs --spec service/openapi.json RECORDS.jsonl...
//
// Each JSONL line is one response:
//   {"method":"GET","target":"/tasks/abc?relationships=agents","status":200,
//    "content_type":"application/json","body":"<raw body text>"}
//
// Per record: the query is stripped and trailing slashes dropped (as the service
// does), the path is matched against the document's path templates, the
// operation is found by method (HEAD as GET), the response by exact status, else
// its range key (4XX, 5XX), else `default`, and the body is parsed as JSON and
// validated with Ajv against that response's application/json schema.
//
// Path matching: a template matches when it has as many segments as the path and
// each literal segment is equal and each {param} segment is non-empty. Among the
// matching templates, literal segments win over parameters at the first segment
// where they differ (/tasks/name/{task_name} beats /tasks/{task_id}), but a
// template whose path item has the request's method wins over one without it, as
// in the service's router (POST /tasks/name/cancel is /tasks/{task_id}/cancel).
//
// Outcomes:
// - a path no template matches: the body must be a valid Error with `code` equal
//   to the status (the API answers unknown routes with an Error); counted as
//   "undocumented path", not a failure;
// - a documented path, and status 405 or one of the statuses the HTTP layer
//   answers before routing (408, 417, 431, 501): not in the document (OpenAPI has
//   no per-path responses, and these do not depend on the operation), so the
//   body must be a valid Error with `code` equal to the status; counted apart;
// - a documented path with an undocumented method or status: failure;
// - a body that is not JSON where the response expects JSON: failure; an empty
//   body is fine for a 204 or a HEAD.
//
// Prints one line per failure, then a summary (records, failures, responses seen
// per operationId, documented (operationId, status) pairs never seen). Exits 1
// on any failure or when given no records at all, 0 otherwise.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
// Answered by the HTTP layer for any route, before an operation runs.
export const PRE_ROUTING_STATUSES = new Set([405, 408, 417, 431, 501]);
const DOC_ID = "urn:fgac-tasks:openapi";
const ERROR_REF = "#/components/schemas/Error";

const splitPath = (path) => path.replace(/^\//, "").split("/");

/** Builds a validator for one OpenAPI document (an object). */
export function createValidator(doc) {
  // strictTypes and strictRequired off: a schema extending another through allOf
  // legitimately lists properties without `type` and requires inherited ones.
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
  addFormats(ajv);
  // Keywords of the OpenAPI 3.1 schema dialect that are annotations only, and the
  // document's own top-level fields (Ajv sees the document root as a schema; strict
  // mode stays on for every schema in it, so a misspelt keyword is an error).
  ajv.addVocabulary(["discriminator", "xml", "externalDocs", "example"]);
  ajv.addVocabulary(["openapi", "info", "jsonSchemaDialect", "servers", "paths", "webhooks", "components", "security", "tags"]);
  // The whole document under one id, so "#/components/..." refs resolve into it.
  // Ajv compiles only the fragments referenced below, each once (cached here).
  ajv.addSchema({ ...doc, $id: DOC_ID }, DOC_ID, undefined, false);
  const compiled = new Map();
  const compile = (pointer) => {
    let v = compiled.get(pointer);
    if (!v) {
      v = ajv.compile({ $ref: DOC_ID + pointer });
      compiled.set(pointer, v);
    }
    return v;
  };

  // JSON pointers as arrays of keys; `at` follows local $refs, returning the
  // object and the keys it was finally found at.
  const toKeys = (ref) =>
    ref.slice(2).split("/").map((s) => decodeURIComponent(s).replaceAll("~1", "/").replaceAll("~0", "~"));
  const toRef = (keys) => "#/" + keys.map((k) => encodeURIComponent(k.replaceAll("~", "~0").replaceAll("/", "~1"))).join("/");
  const at = (keys) => {
    let obj = keys.reduce((o, k) => o?.[k], doc);
    for (let hops = 0; obj && typeof obj.$ref === "string" && obj.$ref.startsWith("#/"); hops++) {
      if (hops > 16) throw new Error(`$ref loop at ${toRef(keys)}`);
      keys = toKeys(obj.$ref);
      obj = keys.reduce((o, k) => o?.[k], doc);
    }
    if (!obj) throw new Error(`unresolvable reference ${toRef(keys)}`);
    return { obj, keys };
  };
  const deref = (obj) => (obj && typeof obj.$ref === "string" ? at(toKeys(obj.$ref)).obj : obj);

  const templates = Object.keys(doc.paths ?? {}).map((template) => ({
    template,
    segments: splitPath(template).map((s) => (/^\{[^}]+\}$/.test(s) ? null : s)),
    item: deref(doc.paths[template]),
  }));

  // Every documented (operationId, status), to report the ones never seen.
  const documented = [];
  for (const t of templates) {
    for (const m of METHODS) {
      const op = t.item[m];
      if (!op) continue;
      for (const status of Object.keys(op.responses ?? {})) {
        documented.push({ operationId: op.operationId ?? `${m.toUpperCase()} ${t.template}`, status });
      }
    }
  }

  function matchPath(path, method) {
    const segs = splitPath(path);
    const hits = templates.filter(
      (t) =>
        t.segments.length === segs.length &&
        t.segments.every((lit, i) => (lit === null ? segs[i] !== "" : lit === segs[i])),
    );
    const rank = (a, b) => {
      const am = a.item[method] ? 0 : 1;
      const bm = b.item[method] ? 0 : 1;
      if (am !== bm) return am - bm;
      for (let i = 0; i < a.segments.length; i++) {
        const al = a.segments[i] !== null;
        const bl = b.segments[i] !== null;
        if (al !== bl) return al ? -1 : 1;
      }
      return 0;
    };
    return hits.sort(rank)[0];
  }

  // The response key for a status: exact, else its range (4XX), else default.
  function pickResponse(responses, status) {
    const s = String(status);
    return [s, `${s[0]}XX`, `${s[0]}xx`, "default"].find((key) => responses && Object.hasOwn(responses, key));
  }

  const ajvErrors = (errors) =>
    (errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}${e.params && Object.keys(e.params).length ? " " + JSON.stringify(e.params) : ""}`);

  // Validates a body against a schema pointer; returns a list of problems.
  function checkBody(record, pointer, { emptyOk, errorCode }) {
    const body = record.body ?? "";
    if (body === "") return emptyOk ? [] : ["empty body where JSON is expected"];
    let value;
    try {
      value = JSON.parse(body);
    } catch (e) {
      return [`body is not JSON (${e.message}): ${JSON.stringify(body.slice(0, 80))}`];
    }
    const problems = [];
    const ct = record.content_type;
    if (typeof ct === "string" && !/^application\/json\b/i.test(ct.trim())) {
      problems.push(`content type ${JSON.stringify(ct)} is not application/json`);
    }
    let v;
    try {
      v = compile(pointer);
    } catch (e) {
      return [`schema ${pointer} does not compile: ${e.message}`];
    }
    if (!v(value)) problems.push(...ajvErrors(v.errors));
    if (errorCode !== undefined && value && typeof value === "object" && value.code !== errorCode) {
      problems.push(`/code must equal the HTTP status ${errorCode}, is ${JSON.stringify(value.code)}`);
    }
    return problems;
  }

  /** Checks one record; returns { kind, operationId?, statusKey?, problems }. */
  function check(record) {
    if (!record || typeof record !== "object") return { kind: "invalid", problems: ["record is not an object"] };
    const { target, status } = record;
    const method = String(record.method ?? "").toLowerCase();
    if (typeof target !== "string" || !target.startsWith("/")) return { kind: "invalid", problems: ["record has no target path"] };
    if (!Number.isInteger(status)) return { kind: "invalid", problems: ["record has no integer status"] };
    if (!METHODS.includes(method)) return { kind: "invalid", problems: [`unknown method ${JSON.stringify(record.method)}`] };

    let path = target.split("?")[0].split("#")[0];
    while (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
    const isHead = method === "head";
    const opMethod = isHead ? "get" : method;
    const emptyOk = isHead || status === 204;

    const t = matchPath(path, opMethod);
    if (!t) {
      return { kind: "undocumented-path", problems: checkBody(record, ERROR_REF, { emptyOk: isHead, errorCode: status }) };
    }
    const op = t.item[opMethod];
    const picked = op ? pickResponse(op.responses, status) : undefined;
    if (!picked && PRE_ROUTING_STATUSES.has(status)) {
      return { kind: "pre-routing", template: t.template, problems: checkBody(record, ERROR_REF, { emptyOk: isHead, errorCode: status }) };
    }
    if (!op) {
      return { kind: "failure", template: t.template, problems: [`${opMethod.toUpperCase()} is not documented on ${t.template}`] };
    }
    const operationId = op.operationId ?? `${opMethod.toUpperCase()} ${t.template}`;
    if (!picked) {
      return { kind: "failure", template: t.template, operationId, problems: [`status ${status} is not documented for ${operationId} (${opMethod.toUpperCase()} ${t.template})`] };
    }
    const { obj: response, keys } = at(["paths", t.template, opMethod, "responses", picked]);
    const media = response.content?.["application/json"];
    let problems;
    if (!response.content) {
      problems = (record.body ?? "") === "" ? [] : ["a body where the response documents none"];
    } else if (!media) {
      problems = [`response ${picked} of ${operationId} documents no application/json content`];
    } else if (!media.schema) {
      problems = [];
    } else {
      problems = checkBody(record, toRef([...keys, "content", "application/json", "schema"]), { emptyOk });
    }
    return { kind: problems.length ? "failure" : "ok", template: t.template, operationId, statusKey: picked, problems };
  }

  return { check, documented };
}

/** Reads JSONL files; returns { records, problems } (problems: unreadable lines). */
export function readRecords(files) {
  const records = [];
  const problems = [];
  for (const file of files) {
    const lines = readFileSync(file, "utf8").split("\n");
    lines.forEach((line, i) => {
      if (line.trim() === "") return;
      try {
        records.push(JSON.parse(line));
      } catch (e) {
        problems.push(`${file}:${i + 1}: not a JSON line (${e.message})`);
      }
    });
  }
  return { records, problems };
}

/** Runs the CLI; returns the exit code. `out` receives lines. */
export function main(argv, out = console.log) {
  let spec;
  const files = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--spec") spec = argv[++i];
    else if (argv[i].startsWith("--spec=")) spec = argv[i].slice(7);
    else files.push(argv[i]);
  }
  if (!spec) {
    out("usage: node validate-responses.mjs --spec openapi.json RECORDS.jsonl...");
    return 2;
  }
  const doc = JSON.parse(readFileSync(spec, "utf8"));
  const { check, documented } = createValidator(doc);
  const { records, problems: readProblems } = readRecords(files);

  let failures = readProblems.length;
  for (const p of readProblems) out(`FAIL ${p}`);
  const seen = new Map(); // operationId -> count
  const seenPairs = new Set(); // "operationId status-key"
  let undocumented = 0;
  let preRouting = 0;
  for (const record of records) {
    const r = check(record);
    if (r.operationId && r.statusKey) {
      seen.set(r.operationId, (seen.get(r.operationId) ?? 0) + 1);
      seenPairs.add(`${r.operationId} ${r.statusKey}`);
    }
    if (r.kind === "undocumented-path") undocumented++;
    if (r.kind === "pre-routing") preRouting++;
    if (r.problems.length) {
      failures++;
      out(`FAIL ${record?.method} ${record?.target} ${record?.status}${r.kind === "undocumented-path" ? " (undocumented path)" : ""}: ${r.problems.join("; ")}`);
    }
  }

  out(`records checked: ${records.length}`);
  out(`failures: ${failures}`);
  out(`undocumented paths (Error bodies): ${undocumented}`);
  out(`405 and pre-routing statuses on documented paths (Error bodies): ${preRouting}`);
  out("responses seen per operationId:");
  const ids = [...new Set(documented.map((d) => d.operationId))].sort();
  for (const id of ids) out(`  ${id}: ${seen.get(id) ?? 0}`);
  const never = documented.filter((d) => !seenPairs.has(`${d.operationId} ${d.status}`));
  out(`documented responses never seen (informational, not failures): ${never.length}`);
  const neverById = new Map();
  for (const d of never) neverById.set(d.operationId, [...(neverById.get(d.operationId) ?? []), d.status]);
  for (const [id, statuses] of neverById) out(`  ${id}: ${statuses.join(" ")}`);
  if (records.length === 0) {
    out("no records given");
    return 1;
  }
  return failures ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
