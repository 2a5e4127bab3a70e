// Checks one rendered kustomization (the output of `kubectl kustomize DIR`):
//  1. every object against the Kubernetes / Prometheus Operator OpenAPI schema
//     (kubernetes-models, offline);
//  2. the contracts the binaries expect: ports, probes, env, images, security,
//     grace periods, scrape configs, the migration Job.
// usage: node check-rendered.mjs KUSTOMIZATION_DIR RENDERED.yaml REPO_ROOT
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";

const [dir, renderedPath, repoRoot] = process.argv.slice(2);
if (!dir || !renderedPath || !repoRoot) {
  console.error("usage: check-rendered.mjs KUSTOMIZATION_DIR RENDERED.yaml REPO_ROOT");
  process.exit(2);
}

// What the binaries serve and read by default (DESIGN.md, common/env.cpp).
const IMAGE_REPOSITORY = "fgac-tasks";
const BINARIES = {
  "task-api": {
    binary: "/usr/local/bin/task-api",
    ports: { http: ["API_PORT", 8080], monitor: ["API_MONITOR_PORT", 8081] },
    required: ["DATABASE_URL", "AGENTEX_AUTH_URL"],
  },
  "outbox-worker": {
    binary: "/usr/local/bin/outbox-worker",
    ports: { monitor: ["WORKER_MONITOR_PORT", 8082] },
    required: ["DATABASE_URL", "AGENTEX_AUTH_URL"],
  },
};
const READINESS_PATH = "/readyz";
const LIVENESS_PATH = "/healthz";
const WORKER_GRACE_DEFAULT_MS = 20000;
const RUN_AS_USER = 10001; // the image's user (deploy/docker/Dockerfile)
const UNPREFIXED_ENV = new Set([
  "DATABASE_URL", "LOG_LEVEL", "MONITOR_ADDR", "AGENTEX_AUTH_URL", "AUTH_DISABLED",
  "FGAC_TASKS_DUAL_WRITE", "AUTHZ_SERVICE_TOKEN", "AUTHZ_CONNECT_TIMEOUT_MS", "AUTHZ_REQUEST_TIMEOUT_MS",
  "AGENTEX_AUTH_CA_FILE",
]);
const EXPECTED_KINDS = {
  ConfigMap: 1, Secret: 1, Deployment: 2, Service: 2, Job: 1, PodDisruptionBudget: 2, PodMonitor: 2,
};
const CLUSTER_SCOPED = new Set(["Namespace"]);

const problems = [];
const fail = (msg) => problems.push(msg);

// The binaries reject unknown variables with their own prefixes
// (EnvReader::reject_unknown): read what each loader declares, and the
// prefixes each binary owns, from the source, so that a ConfigMap key a binary
// would refuse fails here.
const LOADERS = [
  { loader: "service/config.cpp", header: "service/config.hpp", prefixes: "kApiOwnedPrefixes" },
  { loader: "outbox_worker/worker_config.cpp", header: "outbox_worker/worker_config.hpp", prefixes: "kWorkerOwnedPrefixes" },
];
function knownEnv() {
  const keys = new Set();
  const prefixes = [];
  for (const { loader, header, prefixes: constant } of LOADERS) {
    const src = fs.readFileSync(path.join(repoRoot, loader), "utf8");
    const declared = [...src.matchAll(/\br\.[a-z_]+\(\s*"([A-Z0-9_]+)"/g)].map((x) => x[1]);
    if (declared.length === 0) throw new Error(`no variables declared in ${loader}`);
    declared.forEach((k) => keys.add(k));
    const hdr = fs.readFileSync(path.join(repoRoot, header), "utf8");
    const m = hdr.match(new RegExp(`${constant}\\{([^}]*)\\}`));
    if (!m) throw new Error(`cannot find ${constant} in ${header}`);
    prefixes.push(...[...m[1].matchAll(/"([A-Z0-9_]+)"/g)].map((x) => x[1]));
  }
  return { keys, prefixes };
}

async function schemaValidate(doc, where) {
  const [group, version] = doc.apiVersion.includes("/") ? doc.apiVersion.split("/") : ["", doc.apiVersion];
  const module = group === "monitoring.coreos.com"
    ? `@kubernetes-models/prometheus-operator/${group}/${version}/${doc.kind}`
    : `kubernetes-models/${group ? `${group}/` : ""}${version}/${doc.kind}`;
  let Model;
  try {
    Model = (await import(module))[doc.kind];
  } catch {
    fail(`${where}: no schema for ${doc.apiVersion} ${doc.kind}`);
    return;
  }
  try {
    new Model(doc).validate();
  } catch (e) {
    fail(`${where}: schema: ${e.message}`);
  }
}

const kustomization = YAML.parse(fs.readFileSync(path.join(dir, "kustomization.yaml"), "utf8"));
const docs = YAML.parseAllDocuments(fs.readFileSync(renderedPath, "utf8")).map((d) => d.toJS()).filter(Boolean);
const byKind = {};
for (const d of docs) (byKind[d.kind] ??= []).push(d);
const name = (d) => `${d.kind}/${d.metadata?.name}`;

// 1. schemas
for (const d of docs) await schemaValidate(d, name(d));

// kinds present
for (const [kind, want] of Object.entries(EXPECTED_KINDS)) {
  const have = (byKind[kind] ?? []).length;
  if (have !== want) fail(`expected ${want} ${kind}, found ${have}`);
}

// namespace: when the kustomization sets one, every namespaced object has it
if (kustomization.namespace) {
  for (const d of docs) {
    if (!CLUSTER_SCOPED.has(d.kind) && d.metadata.namespace !== kustomization.namespace) {
      fail(`${name(d)}: namespace ${d.metadata.namespace} != ${kustomization.namespace}`);
    }
  }
}

const configMaps = Object.fromEntries((byKind.ConfigMap ?? []).map((c) => [c.metadata.name, c.data ?? {}]));
const secrets = Object.fromEntries((byKind.Secret ?? []).map((s) =>
  [s.metadata.name, { ...(s.stringData ?? {}), ...(s.data ?? {}) }]));

// Every configMapGenerator literal of this kustomization reached the rendered ConfigMap.
for (const gen of kustomization.configMapGenerator ?? []) {
  for (const literal of gen.literals ?? []) {
    const [key, ...rest] = literal.split("=");
    const value = rest.join("=");
    const hit = Object.entries(configMaps).find(([n]) => n === gen.name || n.startsWith(`${gen.name}-`));
    if (!hit || hit[1][key] !== value) fail(`ConfigMap ${gen.name}: ${key} should be ${JSON.stringify(value)}`);
  }
}
for (const [cm, data] of Object.entries(configMaps)) {
  if ("FGAC_TASKS_DUAL_WRITE" in data && !["true", "false"].includes(data.FGAC_TASKS_DUAL_WRITE)) {
    fail(`ConfigMap ${cm}: FGAC_TASKS_DUAL_WRITE must be "true" or "false"`);
  }
}
for (const [s, data] of Object.entries(secrets)) {
  for (const key of ["DATABASE_URL", "AUTHZ_SERVICE_TOKEN"]) if (!(key in data)) fail(`Secret ${s}: no ${key} key`);
}

// The environment a container starts with: names and, where known, values.
function containerEnv(owner, c) {
  const env = {};
  for (const src of c.envFrom ?? []) {
    if (src.configMapRef) {
      const data = configMaps[src.configMapRef.name];
      if (!data) fail(`${owner}: envFrom ConfigMap ${src.configMapRef.name} is not in the render`);
      Object.assign(env, data ?? {});
    } else if (src.secretRef) {
      const data = secrets[src.secretRef.name];
      if (!data && !src.secretRef.optional) fail(`${owner}: envFrom Secret ${src.secretRef.name} is not in the render`);
      for (const k of Object.keys(data ?? {})) env[k] = "<secret>";
    }
  }
  for (const e of c.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef ?? e.valueFrom?.configMapKeyRef;
    if (ref) {
      const store = e.valueFrom.secretKeyRef ? secrets : configMaps;
      if (!store[ref.name] || !(ref.key in store[ref.name])) {
        if (!ref.optional) fail(`${owner}: env ${e.name} refers to missing ${ref.name}.${ref.key}`);
        continue;
      }
    }
    env[e.name] = e.value ?? (e.valueFrom?.secretKeyRef ? "<secret>" : e.valueFrom ? "<ref>" : "");
  }
  return env;
}

const known = knownEnv();
function checkEnvNames(owner, env) {
  for (const key of Object.keys(env)) {
    const owned = known.prefixes.some((p) => key.startsWith(p));
    if (owned ? !known.keys.has(key) : !UNPREFIXED_ENV.has(key)) {
      fail(`${owner}: env ${key} is not a variable the binaries know (they would refuse to start)`);
    }
  }
}

function checkPodSecurity(owner, spec) {
  const psc = spec.securityContext ?? {};
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) fail(`${owner}: host namespaces are not allowed`);
  for (const c of spec.containers) {
    const csc = c.securityContext ?? {};
    const eff = (k) => (k in csc ? csc[k] : psc[k]);
    if (eff("runAsNonRoot") !== true) fail(`${owner}/${c.name}: runAsNonRoot must be true`);
    if (eff("runAsUser") !== RUN_AS_USER) fail(`${owner}/${c.name}: runAsUser must be ${RUN_AS_USER}`);
    if ((csc.seccompProfile ?? psc.seccompProfile)?.type !== "RuntimeDefault") {
      fail(`${owner}/${c.name}: seccompProfile must be RuntimeDefault`);
    }
    if (csc.allowPrivilegeEscalation !== false) fail(`${owner}/${c.name}: allowPrivilegeEscalation must be false`);
    if (csc.readOnlyRootFilesystem !== true) fail(`${owner}/${c.name}: readOnlyRootFilesystem must be true`);
    if (csc.privileged) fail(`${owner}/${c.name}: privileged is not allowed`);
    if (!(csc.capabilities?.drop ?? []).includes("ALL")) fail(`${owner}/${c.name}: capabilities must drop ALL`);
    if ((csc.capabilities?.add ?? []).length) fail(`${owner}/${c.name}: no capability may be added`);
    for (const kind of ["requests", "limits"]) {
      for (const r of ["cpu", "memory"]) {
        if (!c.resources?.[kind]?.[r]) fail(`${owner}/${c.name}: resources.${kind}.${r} is required`);
      }
    }
    const [repo, tag] = splitImage(c.image);
    if (!repo.endsWith(IMAGE_REPOSITORY)) fail(`${owner}/${c.name}: unexpected image ${c.image}`);
    if (!tag || tag === "latest") fail(`${owner}/${c.name}: image ${c.image} needs a pinned tag, never latest`);
    const wantTag = (kustomization.images ?? []).find((i) => i.name === IMAGE_REPOSITORY)?.newTag;
    if (wantTag && tag !== wantTag && !c.image.includes("@")) {
      fail(`${owner}/${c.name}: image tag ${tag} != the kustomization's ${wantTag}`);
    }
  }
}

function splitImage(image) {
  if (image.includes("@")) return [image.split("@")[0], image.split("@")[1]];
  const slash = image.lastIndexOf("/");
  const colon = image.lastIndexOf(":");
  return colon > slash ? [image.slice(0, colon), image.slice(colon + 1)] : [image, ""];
}

const selects = (selector, labels) =>
  Object.entries(selector ?? {}).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

// 2. workloads
const deployments = byKind.Deployment ?? [];
for (const d of deployments) {
  const owner = name(d);
  const want = BINARIES[d.metadata.name];
  const spec = d.spec.template.spec;
  checkPodSecurity(owner, spec);
  if (!want) {
    fail(`${owner}: unexpected Deployment`);
    continue;
  }
  if (d.spec.replicas !== 2) fail(`${owner}: expected 2 replicas, found ${d.spec.replicas}`);
  if (!selects(d.spec.selector.matchLabels, d.spec.template.metadata.labels)) {
    fail(`${owner}: selector does not match the pod template's labels`);
  }
  if (spec.containers.length !== 1) fail(`${owner}: expected one container`);
  const c = spec.containers[0];
  if (c.command?.[0] !== want.binary) fail(`${owner}: command must start ${want.binary}, got ${c.command}`);
  const env = containerEnv(owner, c);
  checkEnvNames(owner, env);
  for (const key of want.required) if (!(key in env)) fail(`${owner}: required env ${key} is not set`);

  // A containerPort must be the port the binary listens on, given its env.
  const ports = Object.fromEntries((c.ports ?? []).map((p) => [p.name, p.containerPort]));
  for (const [portName, [envKey, fallback]] of Object.entries(want.ports)) {
    const listens = envKey in env ? Number(env[envKey]) : fallback;
    if (listens !== fallback) fail(`${owner}: ${envKey}=${listens} differs from the default ${fallback}`);
    if (ports[portName] !== listens) {
      fail(`${owner}: containerPort ${portName}=${ports[portName]}, but the binary listens on ${listens}`);
    }
  }
  if (Object.keys(ports).length !== Object.keys(want.ports).length) {
    fail(`${owner}: container ports ${Object.keys(ports)} != ${Object.keys(want.ports)}`);
  }
  for (const [probe, wantPath] of [["readinessProbe", READINESS_PATH], ["livenessProbe", LIVENESS_PATH]]) {
    const get = c[probe]?.httpGet;
    const port = typeof get?.port === "string" ? ports[get.port] : get?.port;
    if (!get || get.path !== wantPath || port !== ports.monitor) {
      fail(`${owner}: ${probe} must GET ${wantPath} on the monitor port (${ports.monitor}), got ${JSON.stringify(get)}`);
    }
  }
  const grace = spec.terminationGracePeriodSeconds ?? 30;
  if (d.metadata.name === "outbox-worker") {
    const drainMs = Number(env.WORKER_SHUTDOWN_GRACE_MS ?? WORKER_GRACE_DEFAULT_MS);
    if (!(grace * 1000 > drainMs)) {
      fail(`${owner}: terminationGracePeriodSeconds ${grace} s must exceed WORKER_SHUTDOWN_GRACE_MS ${drainMs} ms`);
    }
    if (!("WORKER_ID" in env)) fail(`${owner}: WORKER_ID should name the pod`);
  }
  const pdb = (byKind.PodDisruptionBudget ?? []).find((p) =>
    selects(p.spec.selector?.matchLabels, d.spec.template.metadata.labels));
  if (!pdb) fail(`${owner}: no PodDisruptionBudget selects its pods`);
  else if (!(pdb.spec.minAvailable >= 1 && pdb.spec.minAvailable < d.spec.replicas) && pdb.spec.maxUnavailable !== 1) {
    fail(`${owner}: its PodDisruptionBudget must keep one pod and still allow an eviction`);
  }
}

// Services: select a Deployment's pods, and every targetPort names a port it has.
for (const s of byKind.Service ?? []) {
  const target = deployments.find((d) => selects(s.spec.selector, d.spec.template.metadata.labels));
  if (!target) {
    fail(`${name(s)}: selects no Deployment's pods`);
    continue;
  }
  const ports = Object.fromEntries((target.spec.template.spec.containers[0].ports ?? []).map((p) => [p.name, p.containerPort]));
  for (const p of s.spec.ports) {
    const ok = typeof p.targetPort === "string" ? p.targetPort in ports : Object.values(ports).includes(p.targetPort ?? p.port);
    if (!ok) fail(`${name(s)}: targetPort ${p.targetPort} is not a port of ${name(target)}`);
  }
}

// Scraping: one monitor per binary, port `monitor`, path /metrics, job label = binary name.
for (const binary of Object.keys(BINARIES)) {
  const dep = deployments.find((d) => d.metadata.name === binary);
  if (!dep) continue;
  const labels = dep.spec.template.metadata.labels;
  const monitor = (byKind.PodMonitor ?? []).find((m) => selects(m.spec.selector?.matchLabels, labels));
  if (!monitor) {
    fail(`${binary}: no PodMonitor selects its pods`);
    continue;
  }
  for (const ep of monitor.spec.podMetricsEndpoints ?? []) {
    if (ep.port !== "monitor" || ep.path !== "/metrics") fail(`${name(monitor)}: must scrape port monitor path /metrics`);
  }
  if (labels[monitor.spec.jobLabel] !== binary) {
    fail(`${name(monitor)}: jobLabel must yield job="${binary}" (the alerts and dashboard select on it)`);
  }
}

// The migration Job.
for (const j of byKind.Job ?? []) {
  const spec = j.spec.template.spec;
  checkPodSecurity(name(j), spec);
  const c = spec.containers[0];
  if (JSON.stringify(c.command) !== JSON.stringify(["/usr/local/bin/taskctl", "migrate"])) {
    fail(`${name(j)}: must run taskctl migrate, got ${JSON.stringify(c.command)}`);
  }
  if (!["Never", "OnFailure"].includes(spec.restartPolicy)) fail(`${name(j)}: restartPolicy must be Never or OnFailure`);
  const env = containerEnv(name(j), c);
  checkEnvNames(name(j), env);
  if (!("DATABASE_URL" in env)) fail(`${name(j)}: DATABASE_URL is not set`);
}

for (const p of problems) console.log(`  FAIL ${dir}: ${p}`);
const kinds = Object.entries(byKind).map(([k, v]) => `${v.length} ${k}`).join(", ");
console.log(`  ${dir}: ${docs.length} objects (${kinds}); schema-validated; ${problems.length} problem(s)`);
process.exit(problems.length ? 1 : 0);
