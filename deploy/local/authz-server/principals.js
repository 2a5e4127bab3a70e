// Bearer token → principal, from a JSON file `{"<token>": {principal}, ...}`.
import { readFileSync } from "node:fs";

const kPrincipalTypes = new Set(["user", "service_account"]);

// A Map, so that a token such as "constructor" can never reach Object.prototype.
export function parsePrincipals(text, source = "principals") {
  const raw = JSON.parse(text);
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new Error(`${source}: must be a JSON object mapping tokens to principals`);
  }
  const byToken = new Map();
  for (const [token, p] of Object.entries(raw)) {
    if (p === null || typeof p !== "object" || Array.isArray(p) || !kPrincipalTypes.has(p.principal_type)) {
      throw new Error(`${source}: principal #${byToken.size + 1} needs principal_type user or service_account`);
    }
    const idField = p.principal_type === "user" ? "user_id" : "service_account_id";
    if (typeof p[idField] !== "string" || p[idField] === "") {
      throw new Error(`${source}: principal #${byToken.size + 1} needs ${idField}`);
    }
    byToken.set(token, Object.freeze({ ...p }));
  }
  return byToken;
}

export function loadPrincipals(path) {
  return parsePrincipals(readFileSync(path, "utf8"), path);
}
