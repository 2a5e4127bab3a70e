// HTTP plumbing shared by every route: bounded JSON bodies, JSON answers and
// errors in the `{"message", "code", "data": null}` shape, bearer tokens and
// the loopback test for admin endpoints.
import { timingSafeEqual } from "node:crypto";

export const kMaxBodyBytes = 1024 * 1024;

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res, status, message) {
  send(res, status, { message, code: status, data: null });
}

// The request body as a JSON object ({} when empty). Over kMaxBodyBytes the
// rest is not read: 413, and the connection closes after the answer.
export function readJson(req, maxBytes = kMaxBodyBytes) {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > maxBytes) {
      req.pause();
      reject(new HttpError(413, "request body too large"));
      return;
    }
    const chunks = [];
    let size = 0;
    let settled = false;
    const fail = (err) => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    req.on("data", (c) => {
      if (settled) return;
      size += c.length;
      if (size > maxBytes) {
        req.pause();
        fail(new HttpError(413, "request body too large"));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (settled) return;
      settled = true;
      const text = Buffer.concat(chunks).toString("utf8");
      if (text.trim().length === 0) return resolve({});
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        return reject(new HttpError(400, "request body is not valid JSON"));
      }
      if (body === null || typeof body !== "object" || Array.isArray(body)) {
        return reject(new HttpError(400, "request body must be a JSON object"));
      }
      resolve(body);
    });
    req.on("error", fail);
    // A client that gives up mid-request must not leave this promise pending.
    req.on("close", () => {
      if (!req.complete) fail(new HttpError(499, "client closed the request"));
    });
  });
}

export function bearerToken(req) {
  const h = req.headers.authorization;
  if (typeof h !== "string") return null;
  const m = /^bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : null;
}

export function tokensEqual(given, expected) {
  if (typeof given !== "string") return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function isLoopbackAddress(address) {
  if (typeof address !== "string") return false;
  const v4 = address.startsWith("::ffff:") ? address.slice("::ffff:".length) : address;
  return v4.startsWith("127.") || address === "::1";
}
