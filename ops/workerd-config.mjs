/**
 * A node's description (ops/node-config.mjs) rendered as what workerd runs: the
 * Worker's bindings, the capnp config, and the files it embeds, laid out under
 * `<dataDir>/.workerd/`. Used by `npm start`, the end-to-end harness and the bench,
 * so every node runs the same way.
 *
 * @example
 *   const { configPath } = writeWorkerdFiles(loadNodeConfig(), { bundlePath: "dist/worker.js" });
 *   // workerd serve <configPath> --experimental
 */
import fs from "node:fs";
import path from "node:path";
import { sweepPartialUploads } from "./files-sweep.mjs";
import { COMPATIBILITY_DATE, COMPATIBILITY_FLAGS, DEFAULT_LIMITS, DURABLE_OBJECTS, VERSION, uniqueKeyFor } from "./node-config.mjs";

/** @typedef {import("./node-config.mjs").NodeConfig} NodeConfig */
/**
 * A binding in workerd's `Worker.Binding` shape.
 * @typedef {{ name: string, text: string } | { name: string, json: string } | { name: string, fromEnvironment: string }
 *   | { name: string, durableObjectNamespace: string } | { name: string, service: string }} Binding
 */

/** Names used inside the generated capnp. */
export const WORKER_SERVICE = "outpost";
export const DO_DISK_SERVICE = "do-disk";
export const FILES_DISK_SERVICE = "files-disk";
export const NETWORK_SERVICE = "internet";
export const PEERS_SERVICE = "peers";

/** The folder under the data dir that holds the generated config and what it embeds. */
export const WORKERD_DIR = ".workerd";
export const CAPNP_FILE = "outpost.capnp";
export const BUNDLE_FILE = "worker.js";

/**
 * Client-address headers. workerd does not tell a Worker the peer's address, so
 * login throttling per address only works behind the branch's reverse proxy,
 * which sets these. Unless the node is told it sits behind one
 * (`trustProxy: true`), the socket strips them, so no client can pick its own
 * address; throttling is then per username plus a node-wide KDF budget.
 */
const ADDRESS_HEADERS = ["x-real-ip", "x-forwarded-for", "cf-connecting-ip"];

/**
 * The Worker's bindings, as plain objects in workerd's `Worker.Binding` shape.
 * `fromEnvironment` values are read by workerd from its own environment at start-up
 * (null when unset), so secrets never land in the generated file.
 *
 * @param {Pick<NodeConfig, "name"> & { allowedOrigins?: string[], limits?: Partial<import("./node-config.mjs").Limits>, identity?: NodeConfig["identity"], oidc?: NodeConfig["oidc"], mfa?: NodeConfig["mfa"] }} config
 * @returns {Binding[]}
 */
export function bindings(config) {
  return [
    { name: "NODE_NAME", text: config.name },
    { name: "LIMITS", json: JSON.stringify({ ...DEFAULT_LIMITS, ...(config.limits ?? {}) }) },
    { name: "VERSION", text: VERSION },
    { name: "ALLOWED_ORIGINS", json: JSON.stringify(config.allowedOrigins ?? []) },
    // Sign-in policy: SSO (without its secret, which comes from the environment like the
    // node's key, so it never lands in the generated file) and two-factor rules.
    { name: "AUTH", json: JSON.stringify(authBinding(config)) },
    { name: "OIDC_CLIENT_SECRET", fromEnvironment: "OUTPOST_OIDC_CLIENT_SECRET" },
    { name: "SETUP_TOKEN", fromEnvironment: "OUTPOST_SETUP_TOKEN" },
    { name: "ADMIN_PASSWORD", fromEnvironment: "OUTPOST_ADMIN_PASSWORD" },
    // A random token per start, echoed by /healthz: the start-up check knows it reached this process.
    { name: "INSTANCE_TOKEN", fromEnvironment: "OUTPOST_INSTANCE_TOKEN" },
    // The metrics scraper's token (node config `metrics.token`), from the environment like the
    // other secrets: ops/start.mjs and the test harness put it there (metricsEnv below).
    { name: "METRICS_TOKEN", fromEnvironment: "OUTPOST_METRICS_TOKEN" },
    // The node's identity (ops/node-identity.mjs): its public key, and its private key from
    // the environment, so the key never lands in the generated file.
    { name: "NODE_PUBLIC_KEY", text: config.identity?.publicKey ?? "" },
    { name: "NODE_PRIVATE_KEY", fromEnvironment: "OUTPOST_NODE_PRIVATE_KEY" },
    // The organisation's other nodes (ops/cluster.mjs), and the only way to reach them.
    ...(config.identity?.cluster
      ? [
          { name: "CLUSTER", json: JSON.stringify({ self: config.identity.cluster.self, nodes: config.identity.cluster.nodes }) },
          { name: "PEERS", service: PEERS_SERVICE },
        ]
      : []),
    ...DURABLE_OBJECTS.map((d) => ({ name: d.binding, durableObjectNamespace: d.className })),
    // The files disk (PUT/GET/HEAD/DELETE over HTTP). wrangler has no equivalent: wrangler.toml
    // binds an R2 bucket as FILES_BUCKET instead, and the Worker takes whichever is bound
    // (durable-objects/shared/file-store.ts).
    { name: "FILES", service: FILES_DISK_SERVICE },
  ];
}

/**
 * The environment workerd needs for the node's metrics token: set when the node
 * config has one, else removed (so a token in the launcher's own environment
 * that the config check did not see never reaches the Worker).
 *
 * @param {Pick<NodeConfig, "metrics">} config
 * @param {NodeJS.ProcessEnv} env  changed in place
 */
export function putMetricsEnv(config, env) {
  if (config.metrics?.token) env.OUTPOST_METRICS_TOKEN = config.metrics.token;
  else delete env.OUTPOST_METRICS_TOKEN;
  return env;
}

/**
 * The AUTH binding: what durable-objects/shared/env.ts reads as `AuthConfig`.
 * @param {{ oidc?: import("./node-config.mjs").NodeConfig["oidc"], mfa?: { requiredForAdmins: boolean } }} config
 */
export function authBinding(config) {
  const oidc = config.oidc ? (({ clientSecret: _secret, ...rest }) => rest)(config.oidc) : null;
  return { oidc, mfa: config.mfa ?? { requiredForAdmins: false } };
}

/**
 * A capnp text literal. Escapes `"` and `\`, writes control characters and every
 * non-ASCII byte of the UTF-8 encoding as `\xNN`: capnp text is bytes, and `\xNN`
 * means exactly one byte, so this round-trips any string.
 *
 * @param {unknown} value
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

/** @param {Binding} b */
function renderBinding(b) {
  const name = `name = ${capnpString(b.name)}`;
  if ("text" in b) return `(${name}, text = ${capnpString(b.text)})`;
  if ("json" in b) return `(${name}, json = ${capnpString(b.json)})`;
  if ("fromEnvironment" in b) return `(${name}, fromEnvironment = ${capnpString(b.fromEnvironment)})`;
  if ("durableObjectNamespace" in b) return `(${name}, durableObjectNamespace = ${capnpString(b.durableObjectNamespace)})`;
  if ("service" in b) return `(${name}, service = ${capnpString(b.service)})`;
  throw new Error(`renderCapnp: binding ${/** @type {{ name: string }} */ (b).name} has no kind this renderer knows`);
}

/**
 * `target` as an embed path relative to `fromDir` (capnp resolves embeds against the config file).
 * @param {string} fromDir
 * @param {string} target
 */
function embedPath(fromDir, target) {
  return path.relative(fromDir, target).split(path.sep).join("/");
}

/**
 * The workerd config for this node, as capnp text.
 *
 * @param {NodeConfig} config
 * @param {{ bundlePath: string, configDir?: string, tlsCertPath?: string, tlsKeyPath?: string, peersCaPath?: string }} paths
 *   bundlePath: the ES module bundle; configDir: where the capnp file will be written
 *   (embeds are relative to it; default `<dataDir>/.workerd`); tls*Path: the PEM files
 *   to embed (default: the config's own tls paths).
 */
export function renderCapnp(config, { bundlePath, configDir, tlsCertPath, tlsKeyPath, peersCaPath }) {
  if (!bundlePath) throw new Error("renderCapnp: bundlePath is required");
  const dir = path.resolve(configDir ?? path.join(config.dataDir, WORKERD_DIR));
  const q = capnpString;
  /** @param {string[]} lines @param {number} n */
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

  return `# Generated by ops/workerd-config.mjs for node ${JSON.stringify(config.name)}. Do not edit: it is rewritten
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
      # Ordinary outbound fetches reach public addresses, and on the LAN only what the node
      # config's outboundAllow lists (the organisation's own systems). Other nodes of the cluster
      # (often on the LAN or a VPN) are reached through the PEERS binding, which allows
      # exactly their addresses: a feature that fetches URLs can never be turned against
      # the branch's own network (SSRF).
      globalOutbound = ${q(NETWORK_SERVICE)},
    )),
    # One <id>.sqlite file (+ WAL) per object, in a folder per class named by its uniqueKey.
    (name = ${q(DO_DISK_SERVICE)}, disk = (path = ${q(path.join(config.dataDir, "objects"))}, writable = true)),
    (name = ${q(FILES_DISK_SERVICE)}, disk = (path = ${q(path.join(config.dataDir, "files"))}, writable = true)),
    (name = ${q(NETWORK_SERVICE)}, network = (allow = [${["public", ...(config.outboundAllow ?? [])].map(q).join(", ")}], tlsOptions = (trustBrowserCas = true))),${
      config.identity?.cluster
        ? `\n    (name = ${q(PEERS_SERVICE)}, network = (allow = [${config.identity.peerAllow.map(q).join(", ")}], tlsOptions = (${peersTls(dir, peersCaPath)}))),`
        : ""
    }
  ],
  sockets = [
    ${socket},
  ],
);
`;
}

/**
 * How this node checks the certificates of peers with `https://` URLs: the
 * system's CAs, and the organisation's own CA when the cluster file names one
 * (`ca`). A peer whose certificate neither signed (or whose name does not match
 * its URL's host) is refused at the handshake: its link stays down.
 *
 * @param {string} dir  the config's folder (embeds are relative to it)
 * @param {string | undefined} caPath  the copy of the cluster's CA file, if any
 */
function peersTls(dir, caPath) {
  return caPath ? `trustBrowserCas = true, trustedCertificates = [embed ${capnpString(embedPath(dir, path.resolve(caPath)))}]` : "trustBrowserCas = true";
}

/**
 * Lay out the node's data directory and write the workerd config into `<dataDir>/.workerd/`:
 * a copy of the bundle (so a rebuild never changes a running node's code mid-flight, and
 * embeds stay inside the folder), copies of the TLS files (key kept 0600), and `outpost.capnp`.
 * Called right before workerd starts (`npm start`, the e2e harness, bench), so it also
 * removes uploads a crash left half-written (ops/files-sweep.mjs).
 *
 * @param {NodeConfig} config
 * @param {{ bundlePath: string }} options
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
  const ca = config.identity?.cluster?.ca;
  if (ca) {
    const tlsDir = path.join(configDir, "tls");
    fs.mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
    const peersCaPath = path.join(tlsDir, "peers-ca.pem");
    fs.writeFileSync(peersCaPath, ca.pem);
    tlsPaths = { ...tlsPaths, peersCaPath };
  }
  const configPath = path.join(configDir, CAPNP_FILE);
  const tmp = `${configPath}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, renderCapnp(config, { bundlePath: bundleCopy, configDir, ...tlsPaths }));
  fs.renameSync(tmp, configPath);
  return { configPath, configDir, sweptUploads };
}
