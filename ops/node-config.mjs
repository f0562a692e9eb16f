/**
 * The single description of an Outpost node.
 *
 * A node is: a name (the suffix of every id it homes, e.g. `r_…@shanghai`),
 * a listen address, optional TLS, a data directory, and limits. From that
 * description ops/workerd-config.mjs renders the self-hosted `workerd` capnp
 * config used by `npm start` and the end-to-end tests. `wrangler.toml` (dev,
 * vitest) is written by hand and checked against both by `test/config.test.ts`,
 * so the two cannot drift.
 *
 * Sources, later ones winning:
 *   1. defaults below;
 *   2. the JSON file named by `OUTPOST_CONFIG` (fields: see NodeDescriptionSchema);
 *      relative paths in it are resolved against the file's own folder;
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
import { z } from "zod";
import { LimitsSchema, limitsProblem } from "../durable-objects/shared/limits.mjs";
import { NODE_NAME_RE } from "../protocol/node-name.mjs";
/** The pattern node names must match, shared with the id patterns (protocol/ids.ts). */
export { NODE_NAME_RE };

export { DEFAULT_LIMITS } from "../durable-objects/shared/limits.mjs";

/** @typedef {import("../durable-objects/shared/limits.mjs").Limits} Limits */
/** @typedef {{ readonly binding: string, readonly className: string }} DurableObjectDescription */

/** The Durable Object classes the Worker exports, and the `env` binding each is reached by. */
export const DURABLE_OBJECTS = Object.freeze([
  Object.freeze({ binding: "ROOMS", className: "RoomObject" }),
  Object.freeze({ binding: "USERS", className: "UserObject" }),
  Object.freeze({ binding: "DIRECTORY", className: "DirectoryObject" }),
  Object.freeze({ binding: "LINKS", className: "LinkObject" }),
  Object.freeze({ binding: "MIRRORS", className: "MirrorObject" }),
]);

/**
 * The `uniqueKey` of a class's namespace: workerd keys each object's file name with it
 * (`<data>/objects/<uniqueKey>/<id>.sqlite`), so it must never change.
 *
 * @param {string} className
 */
export const uniqueKeyFor = (className) => `outpost-${className}`;

export const COMPATIBILITY_DATE = "2026-04-20";

/**
 * `no_web_socket_compression`: without it workerd accepts permessage-deflate
 * when the client offers it (browsers and `ws` do), and each socket then costs
 * ~320 KB instead of ~97 KB. Chat frames are small, so compression buys little.
 */
export const COMPATIBILITY_FLAGS = Object.freeze(["no_web_socket_compression"]);

export const DEFAULT_LISTEN = "127.0.0.1:8787";
export const DEFAULT_DATA_DIR = "./data";
export const DEFAULT_NODE_NAME = "local";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The version of this checkout (package.json), handed to the Worker as `env.VERSION`. */
export const VERSION = /** @type {string} */ (JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")).version);

/** An exact http(s) origin: scheme://host[:port], no path, no trailing slash. @param {string} o */
function isOrigin(o) {
  try {
    const u = new URL(o);
    return /^https?:$/.test(u.protocol) && u.origin === o;
  } catch {
    return false;
  }
}

/** @param {unknown} value */
const shown = (value) => JSON.stringify(value) ?? String(value);

const LISTEN_EXAMPLES = '(expected "host:port", e.g. "127.0.0.1:8787", "*:8787" or "[::1]:8787")';
/**
 * An IPv4 or IPv6 address, optionally with a /prefix: the forms workerd's network `allow` takes.
 *
 * @param {string} a
 */
function isCidr(a) {
  const [addr, prefix, ...rest] = a.split("/");
  const v = net.isIP(addr ?? "");
  if (!v || rest.length) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (v === 4 ? 32 : 128);
}
/** @param {{ input?: unknown }} issue */
const notACidr = (issue) => `${shown(issue.input)} is not an address or range (10.0.4.7, 10.0.4.0/24, fd00::/8)`;
/** @param {{ input?: unknown }} issue */
const notAnOrigin = (issue) => `${shown(issue.input)} is not an origin (scheme://host[:port], no path or trailing slash)`;

/**
 * `"host:port"` → `{ host, port }`, or why not. Host: `*` (all interfaces), an IPv4
 * address, a host name, or a bracketed IPv6 address (`[::1]`). The port is required (1–65535).
 *
 * @param {string} listen
 * @returns {{ host: string, port: number } | string}
 */
function listenAddress(listen) {
  const m = /^(\[[^\]]+\]|[^:[\]\s]+):(\d{1,5})$/.exec(listen.trim());
  if (!m) return "is not a valid listen address";
  const [, host, portText] = m;
  const port = Number(portText);
  if (port < 1 || port > 65535) return "has a port outside 1-65535";
  const hostOk =
    host === "*" ||
    (host.startsWith("[") ? net.isIPv6(host.slice(1, -1)) : net.isIPv4(host) || /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host));
  return hostOk ? { host, port } : "has an invalid host";
}

/** @param {{ input?: unknown }} issue */
const badName = (issue) =>
  `${shown(issue.input)} is not a valid node name ` +
  "(1 to 32 lower-case letters, digits or '-', not starting or ending with '-'; it ends every id this node homes)";

/** @param {string} message */
const always = (message) => ({ error: () => message });

const pemPath = z.string(always("a PEM file path is required when tls is given")).min(1, always("a PEM file path is required when tls is given"));

/** @param {string} what */
const nonEmpty = (what) => z.string(always(`must be ${what}`)).min(1, always(`must be ${what}`));
/** @param {string} example */
const stringList = (example) => z.array(z.string().min(1), always(`must be a list of strings like ${example}`)).default([]);

/**
 * `oidc`: the identity provider. `issuer` is where its discovery document lives
 * (`${issuer}/.well-known/openid-configuration`), https unless it is on loopback
 * (a test provider); the client is registered there with the redirect URI
 * `<node's public origin>/api/v1/auth/sso/callback`.
 */
const OidcSchema = z.strictObject(
  {
    issuer: z
      .string(always('must be the provider\'s issuer URL, like "https://login.example.org/realms/staff"'))
      .refine((u) => {
        try {
          const url = new URL(u);
          return url.protocol === "https:" || (url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname));
        } catch {
          return false;
        }
      }, always('must be an https URL like "https://login.example.org/realms/staff" (http only on loopback, for tests)')),
    clientId: nonEmpty("the client id registered at the provider"),
    clientSecret: nonEmpty("the client secret registered at the provider"),
    displayName: z.string(always('must be text, like "Example Corp"')).min(1).max(60).default("SSO"),
    scopes: z.array(z.string().regex(/^[\x21-\x7e]+$/), always('must be a list of scopes like ["openid", "profile", "email"]')).default(["openid", "profile", "email"]),
    usernameClaim: z.string(always('must be a claim name like "preferred_username"')).min(1).default("preferred_username"),
    allowedDomains: stringList('["example.org"]'),
    allowedGroups: stringList('["chat-users"]'),
    autoCreate: z.boolean(always("must be true or false")).default(false),
    linkExisting: z.boolean(always("must be true or false")).default(false),
    passwordSignIn: z.boolean(always("must be true or false")).default(true),
  },
  always('must be an object {"issuer", "clientId", "clientSecret", …}'),
);

/**
 * The shape of the JSON file `OUTPOST_CONFIG` names. Each error message reads after the
 * field's name ("listen (in /etc/outpost.json): …"); paths are resolved and files
 * checked afterwards, in makeNodeConfig, because that needs the file's folder.
 */
export const NodeDescriptionSchema = z.strictObject(
  {
    name: z.string({ error: badName }).regex(NODE_NAME_RE, { error: badName }).default(DEFAULT_NODE_NAME),
    listen: z
      .string({ error: (i) => `${shown(i.input)} is not a string ${LISTEN_EXAMPLES}` })
      .default(DEFAULT_LISTEN)
      .transform((listen, ctx) => {
        const address = listenAddress(listen);
        if (typeof address === "object") return address;
        ctx.issues.push({ code: "custom", input: listen, message: `${shown(listen)} ${address} ${LISTEN_EXAMPLES}` });
        return z.NEVER;
      }),
    dataDir: z
      .string(always("must be a non-empty path"))
      .refine((d) => d.trim() !== "", always("must be a non-empty path"))
      .default(DEFAULT_DATA_DIR),
    tls: z
      .strictObject({ cert: pemPath, key: pemPath }, always('must be an object {"cert": path, "key": path}'))
      .nullish(),
    limits: LimitsSchema.nullish().transform((limits) => limits ?? LimitsSchema.parse({})),
    /**
     * Client-address headers are kept only behind the branch's reverse proxy, which sets
     * them (ops/workerd-config.mjs): otherwise any client could pick its own address.
     */
    trustProxy: z.boolean(always("must be true or false")).default(false),
    /**
     * Origins besides the node's own whose pages may use the session cookie (the public
     * https origin of a TLS-terminating proxy, say). Exact origins only
     * (`https://chat.example.org`, `http://10.0.0.5:8080`): no paths, no wildcards.
     */
    allowedOrigins: z
      .array(
        z
          .string({ error: notAnOrigin })
          .refine((o) => isOrigin(o), { error: notAnOrigin }),
        always('must be a list of origins like "https://chat.example.org"'),
      )
      .default([]),
    /**
     * Addresses on the branch's own network the Worker may reach besides public ones: the
     * organisation's CRM, records system or private LLM, when an integration calls them.
     * Each an IPv4/IPv6 address or CIDR range (`10.0.4.7`, `10.0.4.0/24`). Default none:
     * a feature that fetches URLs can never be turned against the LAN (SSRF).
     */
    outboundAllow: z
      .array(
        z.string({ error: notACidr }).refine((a) => isCidr(a), { error: notACidr }),
        always('must be a list of addresses or ranges like "10.0.4.0/24"'),
      )
      .default([]),
    /**
     * The organisation's cluster file (a path, relative to this file) or the cluster
     * description itself; read and checked by ops/cluster.mjs once the node's key is
     * known (ops/node-identity.mjs). Absent: the node runs alone.
     */
    /**
     * `GET /metrics` (docs/OPERATIONS.md): the bearer token a Prometheus scraper sends
     * (administrators' session tokens work too). Long and random: it is compared in
     * constant time but has no sign-in throttle of its own. `OUTPOST_METRICS_TOKEN`
     * overrides it, so the file need not hold the secret.
     */
    metrics: z
      .strictObject(
        { token: z.string(always("must be a string of at least 32 characters")).min(32, always("must be at least 32 characters (e.g. `openssl rand -hex 32`)")).regex(/^\S+$/, always("must not contain spaces")) },
        always('must be an object {"token": "<at least 32 characters>"}'),
      )
      .nullish(),
    cluster: z.union([z.string().min(1), z.record(z.string(), z.unknown())], always('must be a path to the cluster file or the description {"nodes": [...]}')).nullish(),
    /** Single sign-on with the organisation's OpenID Connect provider (docs/OPERATIONS.md "Single sign-on"). */
    oidc: OidcSchema.nullish().transform((o) => o ?? null),
    /** Two-factor sign-in: `requiredForAdmins` sends an administrator without it to enrolment before anything else. */
    mfa: z
      .strictObject({ requiredForAdmins: z.boolean(always("must be true or false")).default(false) }, always('must be an object {"requiredForAdmins": true}'))
      .nullish()
      .transform((m) => m ?? { requiredForAdmins: false }),
  },
  always("must be an object"),
);

/** @typedef {z.input<typeof NodeDescriptionSchema>} NodeDescription  the JSON file's shape */

/**
 * A node, checked and normalised.
 * @typedef {object} NodeConfig
 * @property {string} name
 * @property {string} listen  normalised "host:port"
 * @property {string} host
 * @property {number} port
 * @property {string} url  where this machine reaches the node (a wildcard host becomes loopback), http or https
 * @property {string} dataDir  absolute
 * @property {{ cert: string, key: string } | null} tls  absolute paths
 * @property {Limits} limits
 * @property {boolean} trustProxy
 * @property {string[]} allowedOrigins
 * @property {string[]} outboundAllow  LAN addresses/ranges ordinary outbound fetches may reach
 * @property {{ token: string } | null} metrics  the metrics scraper's token, if any
 * @property {z.output<typeof OidcSchema> | null} oidc  single sign-on (docs/OPERATIONS.md)
 * @property {{ requiredForAdmins: boolean }} mfa  two-factor sign-in policy
 * @property {unknown} cluster  the cluster file's absolute path, the description inline, or null (alone)
 * @property {{ publicKey: string, cluster: import("./cluster.mjs").Cluster | null, peerAllow: string[] } | null} identity
 *   set by ops/node-identity.mjs before the workerd config is rendered (public parts only)
 * @property {string | null} configFile  the JSON file it came from, if any
 */

const FILE_FIELDS = Object.keys(NodeDescriptionSchema.shape);

/**
 * Read the node description from the environment (and the file `OUTPOST_CONFIG` names).
 * Throws an Error naming the offending field when anything is wrong.
 *
 * @param {Record<string, string | undefined>} [env]
 * @param {{ cwd?: string }} [options]
 * @returns {NodeConfig}
 */
export function loadNodeConfig(env = process.env, { cwd = process.cwd() } = {}) {
  /** @param {string} key */
  const pick = (key) => (env[key] === undefined || env[key] === "" ? undefined : env[key]);
  /** @type {Record<string, unknown>} */
  let description = {};
  let fileBase = cwd;
  const file = pick("OUTPOST_CONFIG");
  if (file) {
    const filePath = path.resolve(cwd, file);
    let text;
    try {
      text = fs.readFileSync(filePath, "utf8");
    } catch (err) {
      throw new Error(`OUTPOST_CONFIG: cannot read ${filePath}: ${errorCode(err)}`);
    }
    try {
      description = JSON.parse(text);
    } catch (err) {
      throw new Error(`OUTPOST_CONFIG: ${filePath} is not valid JSON: ${errorCode(err)}`);
    }
    if (!isPlainObject(description)) throw new Error(`OUTPOST_CONFIG: ${filePath} must hold a JSON object`);
    fileBase = path.dirname(filePath);
    description = { ...description, configFile: filePath };
  }
  /** @type {Record<string, string>} */
  const sources = {};
  /** @param {string} key @param {string} field @param {boolean} [isPath] */
  const fromEnv = (key, field, isPath) => {
    const v = pick(key);
    if (v === undefined) return;
    description[field] = isPath ? path.resolve(cwd, v) : v;
    sources[field] = key;
  };
  fromEnv("OUTPOST_NODE", "name");
  fromEnv("OUTPOST_LISTEN", "listen");
  fromEnv("OUTPOST_DATA", "dataDir", true);
  fromEnv("OUTPOST_CLUSTER", "cluster", true);
  const metricsToken = pick("OUTPOST_METRICS_TOKEN");
  if (metricsToken !== undefined) {
    description.metrics = { token: metricsToken };
    sources.metrics = "OUTPOST_METRICS_TOKEN";
  }
  return makeNodeConfig(description, { baseDir: fileBase, cwd, sources });
}

/**
 * Validate a description (the shape of the JSON file) and return the normalised node config.
 *
 * @param {unknown} description  a NodeDescription, plus `configFile` when it came from one
 * @param {{ baseDir?: string, cwd?: string, sources?: Record<string, string> }} [options]
 *   baseDir: folder that relative paths in the description are resolved against;
 *   sources: which env var a field came from, for error messages.
 * @returns {NodeConfig}
 */
export function makeNodeConfig(description, { baseDir = process.cwd(), cwd = process.cwd(), sources = {} } = {}) {
  if (!isPlainObject(description)) throw new Error("node config: must be an object");
  const { configFile = null, ...fields } = /** @type {Record<string, unknown> & { configFile?: string | null }} */ (description);
  /** Where a field came from, for the message: the env var, the file, or just its name. @param {string} field */
  const where = (field) => sources[field] ?? (configFile && field in fields ? `${field} (in ${configFile})` : field);

  const parsed = NodeDescriptionSchema.safeParse(fields);
  if (!parsed.success) {
    const issues = parsed.error.issues;
    // An unknown field first: it is usually a misspelt one, which explains the rest.
    const issue = issues.find((i) => i.code === "unrecognized_keys") ?? issues[0];
    throw new Error(describeIssue(issue, where, configFile));
  }
  const { name, listen, dataDir: rawData, tls: rawTls, limits, trustProxy, allowedOrigins, outboundAllow, metrics, cluster: rawCluster, oidc, mfa } = parsed.data;
  const { host, port } = listen;

  // A default or env value is relative to the cwd; a value from the file to the file's folder.
  const dataDir = path.resolve("dataDir" in fields && !sources.dataDir ? baseDir : cwd, rawData);
  if (fs.existsSync(dataDir) && !fs.statSync(dataDir).isDirectory()) {
    throw new Error(`${where("dataDir")}: ${dataDir} exists and is not a directory`);
  }

  let tls = null;
  if (rawTls) {
    tls = { cert: "", key: "" };
    for (const key of /** @type {const} */ (["cert", "key"])) {
      const abs = path.resolve(baseDir, rawTls[key]);
      if (!fs.existsSync(abs) || !fs.statSync(abs).isFile()) throw new Error(`tls.${key}: file not found: ${abs}`);
      tls[key] = abs;
    }
  }

  const reachableHost = host === "*" || host === "0.0.0.0" ? "127.0.0.1" : host === "[::]" ? "[::1]" : host;
  const url = `${tls ? "https" : "http"}://${reachableHost}:${port}`;
  // A cluster file named in the config file is relative to it; one from OUTPOST_CLUSTER is already absolute.
  const cluster = typeof rawCluster === "string" && !sources.cluster ? path.resolve(baseDir, rawCluster) : (rawCluster ?? null);
  return { name, listen: `${host}:${port}`, host, port, url, dataDir, tls, limits, trustProxy, allowedOrigins, outboundAllow, metrics: metrics ?? null, oidc, mfa, cluster, configFile, identity: null };
}

/**
 * One line for the first thing wrong with a description, led by where the field came from.
 *
 * @param {z.core.$ZodIssue} issue
 * @param {(field: string) => string} where
 * @param {string | null} configFile
 */
function describeIssue(issue, where, configFile) {
  const [field, subfield] = issue.path.map(String);
  if (field === undefined) {
    if (issue.code !== "unrecognized_keys") return `node config: ${issue.message}`;
    return `${configFile ? `${configFile}: ` : ""}unknown field "${issue.keys[0]}" (known: ${FILE_FIELDS.join(", ")})`;
  }
  // Sign-in policy: the field inside named, as `oidc.issuer (in file): …`.
  if (field === "oidc" || field === "mfa") {
    if (issue.code === "unrecognized_keys") return `${where(field)}: unknown field "${field}.${issue.keys[0]}"`;
    if (subfield !== undefined) return `${field}.${subfield}${configFile ? ` (in ${configFile})` : ""}: ${issue.message}`;
  }
  if (field === "limits") return limitsProblem({ ...issue, path: issue.path.slice(1) }, where("limits"));
  if (field === "tls") {
    if (issue.code === "unrecognized_keys") return `${where("tls")}: unknown field "tls.${issue.keys[0]}" (known: cert, key)`;
    if (subfield !== undefined) return `tls.${subfield}: ${issue.message}`;
  }
  return `${where(field)}: ${issue.message}`;
}

/** @param {unknown} err */
function errorCode(err) {
  const e = /** @type {{ code?: string, message?: string }} */ (err);
  return e?.code ?? e?.message ?? String(err);
}

/** @param {unknown} v @returns {v is Record<string, unknown>} */
function isPlainObject(v) {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
