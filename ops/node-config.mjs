/**
 * The single description of an Outpost node, and everything derived from it.
 *
 * A node is: a name (the suffix of every id it homes, e.g. `r_…@shanghai`),
 * a listen address, optional TLS, a data directory, and limits. From that
 * description this module renders the self-hosted `workerd` capnp config used
 * by `npm start` and the end-to-end tests. `wrangler.toml` (dev, vitest) is
 * written by hand and checked against this module by `test/config.test.ts`,
 * so the two cannot drift.
 *
 * Sources, later ones winning:
 *   1. defaults below;
 *   2. the JSON file named by `OUTPOST_CONFIG` (fields: name, listen, dataDir,
 *      tls {cert, key}, limits {...}); relative paths in it are resolved
 *      against the file's own folder;
 *   3. `OUTPOST_NODE`, `OUTPOST_LISTEN`, `OUTPOST_DATA` (relative to the cwd).
 *
 * @example
 *   const config = loadNodeConfig();              // reads process.env
 *   const { configPath } = writeWorkerdFiles(config, { bundlePath: "dist/worker.js" });
 *   // workerd serve <configPath> --experimental
 */
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { sweepPartialUploads } from "./files-sweep.mjs";

/** The Durable Object classes the Worker exports, and the `env` binding each is reached by. */
export const DURABLE_OBJECTS = Object.freeze([
  Object.freeze({ binding: "ROOMS", className: "RoomObject" }),
  Object.freeze({ binding: "USERS", className: "UserObject" }),
  Object.freeze({ binding: "DIRECTORY", className: "DirectoryObject" }),
]);

export const COMPATIBILITY_DATE = "2026-04-20";

/**
 * `no_web_socket_compression`: without it workerd accepts permessage-deflate
 * when the client offers it (browsers and `ws` do), and each socket then costs
 * ~320 KB instead of ~97 KB. Chat frames are small, so compression buys little.
 */
export const COMPATIBILITY_FLAGS = Object.freeze(["no_web_socket_compression"]);

/** Limits the Worker reads as `env.LIMITS`. Every one can be overridden per node. */
export const DEFAULT_LIMITS = Object.freeze({
  maxTextBytes: 16384,
  recallWindowSeconds: 900,
  maxFrameBytes: 65536,
  sessionTtlSeconds: 2592000,
  maxSessionsPerUser: 20,
  maxFileBytes: 104857600,
  // Per-user quotas (0 turns one off). Messages: a token bucket per user across
  // all their rooms, refilled at messagesPerSecondPerUser up to messageBurstPerUser
  // (durable-objects/room/send-budget.ts). Rooms: group rooms one user may create
  // in any 24 hours (durable-objects/directory/room-quota.ts).
  messagesPerSecondPerUser: 20,
  messageBurstPerUser: 200,
  roomsPerUserPerDay: 100,
  // The node-wide sign-in budget (worker/routes/auth.ts) and the cost of a password
  // hash (durable-objects/shared/passwords.ts; each hash records its own count).
  signInsPerSecond: 5,
  signInBurst: 15,
  passwordHashIterations: 600000,
});

/** Limits where 0 means "off" rather than "nothing allowed". */
const ZERO_OFF_LIMITS = ["messagesPerSecondPerUser", "messageBurstPerUser", "roomsPerUserPerDay"];

/**
 * Limits that are not integers. `allowedFileTypes`: upload types (exact, or `image/` + `*`);
 * when absent the Worker's built-in list applies (durable-objects/shared/env.ts).
 */
const LIST_LIMITS = ["allowedFileTypes"];

/** workerd closes a socket with 1009 past 32 MiB per message; a larger limit could never be reached. */
const WORKERD_MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

export const DEFAULT_LISTEN = "127.0.0.1:8787";
export const DEFAULT_DATA_DIR = "./data";
export const DEFAULT_NODE_NAME = "local";
export const NODE_NAME_RE = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;

/** Names used inside the generated capnp. `uniqueKey`s must never change: they key the objects' files. */
export const WORKER_SERVICE = "outpost";
export const DO_DISK_SERVICE = "do-disk";
export const FILES_DISK_SERVICE = "files-disk";
export const NETWORK_SERVICE = "internet";
export const uniqueKeyFor = (className) => `outpost-${className}`;

/** The folder under the data dir that holds the generated config and what it embeds. */
export const WORKERD_DIR = ".workerd";
export const CAPNP_FILE = "outpost.capnp";
export const BUNDLE_FILE = "worker.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The version of this checkout (package.json), handed to the Worker as `env.VERSION`. */
export const VERSION = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")).version;

const FILE_FIELDS = ["name", "listen", "dataDir", "tls", "limits", "trustProxy", "allowedOrigins"];

/**
 * Client-address headers. workerd does not tell a Worker the peer's address, so
 * login throttling per address only works behind the branch's reverse proxy,
 * which sets these. Unless the node is told it sits behind one
 * (`trustProxy: true`), the socket strips them, so no client can pick its own
 * address; throttling is then per username plus a node-wide KDF budget.
 */
const ADDRESS_HEADERS = ["x-real-ip", "x-forwarded-for", "cf-connecting-ip"];

/**
 * Read the node description from the environment (and the file `OUTPOST_CONFIG` names).
 * Throws an Error naming the offending field when anything is wrong.
 *
 * @param {Record<string, string | undefined>} [env]
 * @param {{ cwd?: string }} [options]
 */
export function loadNodeConfig(env = process.env, { cwd = process.cwd() } = {}) {
  const pick = (key) => (env[key] === undefined || env[key] === "" ? undefined : env[key]);
  let description = {};
  let fileBase = cwd;
  const file = pick("OUTPOST_CONFIG");
  if (file) {
    const filePath = path.resolve(cwd, file);
    let text;
    try {
      text = fs.readFileSync(filePath, "utf8");
    } catch (err) {
      throw new Error(`OUTPOST_CONFIG: cannot read ${filePath}: ${err.code ?? err.message}`);
    }
    try {
      description = JSON.parse(text);
    } catch (err) {
      throw new Error(`OUTPOST_CONFIG: ${filePath} is not valid JSON: ${err.message}`);
    }
    if (!isPlainObject(description)) throw new Error(`OUTPOST_CONFIG: ${filePath} must hold a JSON object`);
    fileBase = path.dirname(filePath);
    description = { ...description, configFile: filePath };
  }
  const sources = {};
  const fromEnv = (key, field, resolvePath) => {
    const v = pick(key);
    if (v === undefined) return;
    description[field] = resolvePath ? path.resolve(cwd, v) : v;
    sources[field] = key;
  };
  fromEnv("OUTPOST_NODE", "name");
  fromEnv("OUTPOST_LISTEN", "listen");
  fromEnv("OUTPOST_DATA", "dataDir", true);
  return makeNodeConfig(description, { baseDir: fileBase, cwd, sources });
}

/**
 * Validate a description (the shape of the JSON file) and return the normalised node config:
 * `{ name, listen, host, port, url, dataDir, tls: {cert, key} | null, limits, configFile }`.
 * `url` is where this machine reaches the node (a wildcard host becomes loopback).
 *
 * @param {object} description
 * @param {{ baseDir?: string, cwd?: string, sources?: Record<string, string> }} [options]
 *   baseDir: folder that relative paths in the description are resolved against;
 *   sources: which env var a field came from, for error messages.
 */
export function makeNodeConfig(description, { baseDir = process.cwd(), cwd = process.cwd(), sources = {} } = {}) {
  if (!isPlainObject(description)) throw new Error("node config: must be an object");
  const { configFile = null, ...fields } = description;
  const where = (field) =>
    sources[field] ?? (configFile && field in fields ? `${field} (in ${configFile})` : field);

  for (const key of Object.keys(fields)) {
    if (!FILE_FIELDS.includes(key)) {
      throw new Error(`${configFile ? `${configFile}: ` : ""}unknown field "${key}" (known: ${FILE_FIELDS.join(", ")})`);
    }
  }

  const name = fields.name ?? DEFAULT_NODE_NAME;
  if (typeof name !== "string" || !NODE_NAME_RE.test(name)) {
    throw new Error(
      `${where("name")}: ${JSON.stringify(name)} is not a valid node name ` +
        `(1 to 32 lower-case letters, digits or '-', not starting or ending with '-'; it ends every id this node homes)`,
    );
  }

  const listen = fields.listen ?? DEFAULT_LISTEN;
  const { host, port } = parseListen(listen, where("listen"));

  const rawData = fields.dataDir ?? DEFAULT_DATA_DIR;
  if (typeof rawData !== "string" || rawData.trim() === "") {
    throw new Error(`${where("dataDir")}: must be a non-empty path`);
  }
  // A default or env value is relative to the cwd; a value from the file to the file's folder.
  const dataDir = path.resolve("dataDir" in fields && !sources.dataDir ? baseDir : cwd, rawData);
  if (fs.existsSync(dataDir) && !fs.statSync(dataDir).isDirectory()) {
    throw new Error(`${where("dataDir")}: ${dataDir} exists and is not a directory`);
  }

  let tls = null;
  if (fields.tls !== undefined && fields.tls !== null) {
    if (!isPlainObject(fields.tls)) throw new Error(`${where("tls")}: must be an object {"cert": path, "key": path}`);
    for (const key of Object.keys(fields.tls)) {
      if (key !== "cert" && key !== "key") throw new Error(`${where("tls")}: unknown field "tls.${key}" (known: cert, key)`);
    }
    tls = {};
    for (const key of ["cert", "key"]) {
      const v = fields.tls[key];
      if (typeof v !== "string" || v === "") throw new Error(`tls.${key}: a PEM file path is required when tls is given`);
      const abs = path.resolve(baseDir, v);
      if (!fs.existsSync(abs) || !fs.statSync(abs).isFile()) throw new Error(`tls.${key}: file not found: ${abs}`);
      tls[key] = abs;
    }
  }

  const limits = mergeLimits(fields.limits, where("limits"));

  const reachableHost = host === "*" || host === "0.0.0.0" ? "127.0.0.1" : host === "[::]" ? "[::1]" : host;
  const url = `${tls ? "https" : "http"}://${reachableHost}:${port}`;
  const trustProxy = fields.trustProxy ?? false;
  if (typeof trustProxy !== "boolean") throw new Error(`${where("trustProxy")}: must be true or false`);
  const allowedOrigins = parseAllowedOrigins(fields.allowedOrigins ?? [], where("allowedOrigins"));
  return { name, listen: `${host}:${port}`, host, port, url, dataDir, tls, limits, trustProxy, allowedOrigins, configFile };
}

/**
 * `allowedOrigins`: origins besides the node's own whose pages may use the session
 * cookie (the public https origin of a TLS-terminating proxy, say). Exact origins only
 * (`https://chat.example.org`, `http://10.0.0.5:8080`): no paths, no wildcards.
 */
function parseAllowedOrigins(value, label) {
  if (!Array.isArray(value)) throw new Error(`${label}: must be a list of origins like "https://chat.example.org"`);
  return value.map((o) => {
    let u;
    try {
      u = typeof o === "string" ? new URL(o) : null;
    } catch {
      u = null;
    }
    if (!u || !/^https?:$/.test(u.protocol) || u.origin !== o) {
      throw new Error(`${label}: ${JSON.stringify(o)} is not an origin (scheme://host[:port], no path or trailing slash)`);
    }
    return o;
  });
}

/**
 * Defaults overlaid with `overrides`; unknown names and non-integer values are errors,
 * and so is 0 except for the quotas that 0 turns off (ZERO_OFF_LIMITS).
 */
export function mergeLimits(overrides, label = "limits") {
  if (overrides === undefined || overrides === null) return { ...DEFAULT_LIMITS };
  if (!isPlainObject(overrides)) throw new Error(`${label}: must be an object of limit names to integers`);
  const limits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(overrides)) {
    if (LIST_LIMITS.includes(key)) {
      if (!Array.isArray(value) || value.length === 0 || !value.every((t) => typeof t === "string" && /^[a-z0-9.+*-]+\/[a-z0-9.+*-]+$/.test(t))) {
        throw new Error(`limits.${key}: must be a non-empty list of media types like "image/png" or "image/*"`);
      }
      limits[key] = value;
      continue;
    }
    if (!(key in DEFAULT_LIMITS)) {
      throw new Error(`limits.${key}: unknown limit (known: ${[...Object.keys(DEFAULT_LIMITS), ...LIST_LIMITS].join(", ")})`);
    }
    if (ZERO_OFF_LIMITS.includes(key)) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new Error(`limits.${key}: must be a positive integer, or 0 to turn it off, got ${JSON.stringify(value)}`);
      }
    } else if (!Number.isSafeInteger(value) || value <= 0) {
      throw new Error(`limits.${key}: must be a positive integer, got ${JSON.stringify(value)}`);
    }
    limits[key] = value;
  }
  if (limits.maxFrameBytes > WORKERD_MAX_MESSAGE_BYTES) {
    throw new Error(`limits.maxFrameBytes: at most ${WORKERD_MAX_MESSAGE_BYTES} (workerd closes larger WebSocket messages itself)`);
  }
  if (limits.maxTextBytes >= limits.maxFrameBytes) {
    throw new Error(
      `limits.maxTextBytes: ${limits.maxTextBytes} must be smaller than limits.maxFrameBytes (${limits.maxFrameBytes}), ` +
        "so that a message's text fits in one WebSocket frame",
    );
  }
  return limits;
}

/**
 * `"host:port"` → `{ host, port }`. Host: `*` (all interfaces), an IPv4 address, a host
 * name, or a bracketed IPv6 address (`[::1]`). The port is required (1–65535).
 */
export function parseListen(listen, label = "listen") {
  const bad = (why) => new Error(`${label}: ${JSON.stringify(listen)} ${why} (expected "host:port", e.g. "127.0.0.1:8787", "*:8787" or "[::1]:8787")`);
  if (typeof listen !== "string") throw bad("is not a string");
  const m = /^(\[[^\]]+\]|[^:[\]\s]+):(\d{1,5})$/.exec(listen.trim());
  if (!m) throw bad("is not a valid listen address");
  const [, host, portText] = m;
  const port = Number(portText);
  if (port < 1 || port > 65535) throw bad("has a port outside 1-65535");
  const hostOk =
    host === "*" ||
    (host.startsWith("[") ? net.isIPv6(host.slice(1, -1)) : net.isIPv4(host) || /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host));
  if (!hostOk) throw bad("has an invalid host");
  return { host, port };
}

/**
 * The Worker's bindings, as plain objects in workerd's `Worker.Binding` shape.
 * `fromEnvironment` values are read by workerd from its own environment at start-up
 * (null when unset), so secrets never land in the generated file.
 */
export function bindings(config) {
  return [
    { name: "NODE_NAME", text: config.name },
    { name: "LIMITS", json: JSON.stringify({ ...DEFAULT_LIMITS, ...(config.limits ?? {}) }) },
    { name: "VERSION", text: VERSION },
    { name: "ALLOWED_ORIGINS", json: JSON.stringify(config.allowedOrigins ?? []) },
    { name: "SETUP_TOKEN", fromEnvironment: "OUTPOST_SETUP_TOKEN" },
    { name: "ADMIN_PASSWORD", fromEnvironment: "OUTPOST_ADMIN_PASSWORD" },
    // A random token per start, echoed by /healthz: the start-up check knows it reached this process.
    { name: "INSTANCE_TOKEN", fromEnvironment: "OUTPOST_INSTANCE_TOKEN" },
    ...DURABLE_OBJECTS.map((d) => ({ name: d.binding, durableObjectNamespace: d.className })),
    // The files disk (PUT/GET/HEAD/DELETE over HTTP). wrangler has no equivalent: wrangler.toml
    // binds an R2 bucket as FILES_BUCKET instead, and the Worker takes whichever is bound
    // (durable-objects/shared/file-store.ts).
    { name: "FILES", service: FILES_DISK_SERVICE },
  ];
}

/**
 * A capnp text literal. Escapes `"` and `\`, writes control characters and every
 * non-ASCII byte of the UTF-8 encoding as `\xNN`: capnp text is bytes, and `\xNN`
 * means exactly one byte, so this round-trips any string.
 */
export function capnpString(value) {
  let out = '"';
  for (const byte of Buffer.from(String(value), "utf8")) {
    if (byte === 0x22) out += '\\"';
    else if (byte === 0x5c) out += "\\\\";
    else if (byte < 0x20 || byte >= 0x7f) out += `\\x${byte.toString(16).padStart(2, "0")}`;
    else out += String.fromCharCode(byte);
  }
  return `${out}"`;
}

function renderBinding(b) {
  const name = `name = ${capnpString(b.name)}`;
  if ("text" in b) return `(${name}, text = ${capnpString(b.text)})`;
  if ("json" in b) return `(${name}, json = ${capnpString(b.json)})`;
  if ("fromEnvironment" in b) return `(${name}, fromEnvironment = ${capnpString(b.fromEnvironment)})`;
  if ("durableObjectNamespace" in b) return `(${name}, durableObjectNamespace = ${capnpString(b.durableObjectNamespace)})`;
  if ("service" in b) return `(${name}, service = ${capnpString(b.service)})`;
  throw new Error(`renderCapnp: binding ${b.name} has no kind this renderer knows`);
}

/** `path` as an embed path relative to `fromDir` (capnp resolves embeds against the config file). */
function embedPath(fromDir, target) {
  return path.relative(fromDir, target).split(path.sep).join("/");
}

/**
 * The workerd config for this node, as capnp text.
 *
 * @param {ReturnType<typeof makeNodeConfig>} config
 * @param {{ bundlePath: string, configDir?: string, tlsCertPath?: string, tlsKeyPath?: string }} paths
 *   bundlePath: the ES module bundle; configDir: where the capnp file will be written
 *   (embeds are relative to it; default `<dataDir>/.workerd`); tls*Path: the PEM files
 *   to embed (default: the config's own tls paths).
 */
export function renderCapnp(config, { bundlePath, configDir, tlsCertPath, tlsKeyPath } = {}) {
  if (!bundlePath) throw new Error("renderCapnp: bundlePath is required");
  const dir = path.resolve(configDir ?? path.join(config.dataDir, WORKERD_DIR));
  const q = capnpString;
  const indent = (lines, n) => lines.map((l) => " ".repeat(n) + l).join(",\n");

  const namespaces = DURABLE_OBJECTS.map(
    (d) => `(className = ${q(d.className)}, uniqueKey = ${q(uniqueKeyFor(d.className))}, enableSql = true)`,
  );

  const httpOptions = config.trustProxy
    ? "()"
    : `(injectRequestHeaders = [${ADDRESS_HEADERS.map((h) => `(name = ${q(h)})`).join(", ")}])`;
  let socket;
  if (config.tls) {
    const cert = embedPath(dir, path.resolve(tlsCertPath ?? config.tls.cert));
    const key = embedPath(dir, path.resolve(tlsKeyPath ?? config.tls.key));
    socket =
      `(name = "https", address = ${q(config.listen)}, service = ${q(WORKER_SERVICE)},\n` +
      `      https = (options = ${httpOptions}, tlsOptions = (keypair = (privateKey = embed ${q(key)}, certificateChain = embed ${q(cert)}))))`;
  } else {
    socket = `(name = "http", address = ${q(config.listen)}, http = ${httpOptions}, service = ${q(WORKER_SERVICE)})`;
  }

  return `# Generated by ops/node-config.mjs for node ${JSON.stringify(config.name)}. Do not edit: it is rewritten
# on every start. Change the node description (OUTPOST_CONFIG / OUTPOST_* env) instead.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = ${q(WORKER_SERVICE)}, worker = (
      modules = [(name = "worker.js", esModule = embed ${q(embedPath(dir, path.resolve(bundlePath)))})],
      compatibilityDate = ${q(COMPATIBILITY_DATE)},
      compatibilityFlags = [${COMPATIBILITY_FLAGS.map(q).join(", ")}],
      bindings = [
${indent(bindings(config).map(renderBinding), 8)}
      ],
      durableObjectNamespaces = [
${indent(namespaces, 8)}
      ],
      durableObjectStorage = (localDisk = ${q(DO_DISK_SERVICE)}),
      # Nodes must reach peers and webhook receivers on the LAN; the default outbound
      # reaches public addresses only.
      globalOutbound = ${q(NETWORK_SERVICE)},
    )),
    # One <id>.sqlite file (+ WAL) per object, in a folder per class named by its uniqueKey.
    (name = ${q(DO_DISK_SERVICE)}, disk = (path = ${q(path.join(config.dataDir, "objects"))}, writable = true)),
    (name = ${q(FILES_DISK_SERVICE)}, disk = (path = ${q(path.join(config.dataDir, "files"))}, writable = true)),
    (name = ${q(NETWORK_SERVICE)}, network = (allow = ["public", "private", "local"], tlsOptions = (trustBrowserCas = true))),
  ],
  sockets = [
    ${socket},
  ],
);
`;
}

/**
 * Lay out the node's data directory and write the workerd config into `<dataDir>/.workerd/`:
 * a copy of the bundle (so a rebuild never changes a running node's code mid-flight, and
 * embeds stay inside the folder), copies of the TLS files (key kept 0600), and `outpost.capnp`.
 * Called right before workerd starts (`npm start`, the e2e harness, bench), so it also
 * removes uploads a crash left half-written (ops/files-sweep.mjs).
 *
 * @returns {{ configPath: string, configDir: string, sweptUploads: { removed: string[], bytes: number } }}
 */
export function writeWorkerdFiles(config, { bundlePath }) {
  if (!bundlePath || !fs.existsSync(bundlePath)) throw new Error(`writeWorkerdFiles: bundle not found: ${bundlePath}`);
  const configDir = path.join(config.dataDir, WORKERD_DIR);
  // workerd refuses to start when a disk service's folder is missing.
  for (const dir of [config.dataDir, path.join(config.dataDir, "objects"), path.join(config.dataDir, "files"), configDir]) {
    fs.mkdirSync(dir, { recursive: true });
  }
  const sweptUploads = sweepPartialUploads(path.join(config.dataDir, "files"));
  const bundleCopy = path.join(configDir, BUNDLE_FILE);
  fs.copyFileSync(bundlePath, bundleCopy);
  let tlsPaths = {};
  if (config.tls) {
    const tlsDir = path.join(configDir, "tls");
    fs.mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
    const tlsCertPath = path.join(tlsDir, "cert.pem");
    const tlsKeyPath = path.join(tlsDir, "key.pem");
    fs.copyFileSync(config.tls.cert, tlsCertPath);
    // Created 0600 (never briefly world-readable); chmod too in case an older copy exists.
    fs.writeFileSync(tlsKeyPath, fs.readFileSync(config.tls.key), { mode: 0o600 });
    fs.chmodSync(tlsKeyPath, 0o600);
    tlsPaths = { tlsCertPath, tlsKeyPath };
  }
  const configPath = path.join(configDir, CAPNP_FILE);
  const tmp = `${configPath}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, renderCapnp(config, { bundlePath: bundleCopy, configDir, ...tlsPaths }));
  fs.renameSync(tmp, configPath);
  return { configPath, configDir, sweptUploads };
}

function isPlainObject(v) {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
