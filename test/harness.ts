/**
 * End-to-end harness: real `workerd serve` nodes, run exactly as `npm start` runs
 * them (same node description, same generated capnp), each on its own free port
 * and temporary data directory.
 *
 * @example
 *   const node = await startNode({ adminPassword: "correct horse" });
 *   const token = await loginAs(node.url, "admin", "correct horse");
 *   const ws = await wsConnect(`${node.wsUrl}/api/v1/…`, token);
 *   const hello = await ws.next("hello");
 *   await node.kill9();       // crash: nothing flushed, nothing drained
 *   await node.restart();     // same port, same data
 *   await node.stop();        // and the temp dir is removed
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import WebSocket from "ws";
import type { z } from "zod";
import { bundleWorker } from "../ops/build.mjs";
import { makeNodeConfig, type Limits, type NodeConfig } from "../ops/node-config.mjs";
import { putMetricsEnv, writeWorkerdFiles } from "../ops/workerd-config.mjs";
import { nodeIdentity } from "../ops/node-identity.mjs";
import { exited, newInstanceToken, spawnWorkerd, stopWorkerd, waitForHealthy } from "../ops/workerd.mjs";
import type { Frame, FrameOf } from "./frame-types";

export type { Frame, FrameOf } from "./frame-types";

export interface StartNodeOptions {
  /** node name (default "local") */
  name?: string;
  /** handed to the Worker as ADMIN_PASSWORD (OUTPOST_ADMIN_PASSWORD): it creates the admin account itself */
  adminPassword?: string;
  /** use this data dir (kept after stop()); default: a fresh temp dir, removed by stop() */
  dataDir?: string;
  /** over TEST_NODE_LIMITS (which are over the node's defaults) */
  limits?: Partial<Limits>;
  /** extra environment for workerd */
  env?: Record<string, string>;
  /** keep the temp data dir after stop() (e.g. to inspect the SQLite files) */
  keepData?: boolean;
  /** run this bundle instead of building worker/index.ts (default: env OUTPOST_E2E_BUNDLE, else a fresh build) */
  bundlePath?: string;
  /** origins besides the node's own whose pages may use the session cookie (node config `allowedOrigins`) */
  allowedOrigins?: string[];
  /** LAN addresses/ranges the Worker's ordinary fetches may reach (node config `outboundAllow`) */
  outboundAllow?: string[];
  /** single sign-on (node config `oidc`) */
  oidc?: { issuer: string; clientId: string; clientSecret: string; displayName?: string; autoCreate?: boolean; linkExisting?: boolean; allowedDomains?: string[]; allowedGroups?: string[]; usernameClaim?: string; passwordSignIn?: boolean };
  /** two-factor policy (node config `mfa`) */
  mfa?: { requiredForAdmins: boolean };
  /** the cluster file (path) or description this node belongs to (ops/cluster.mjs); default: alone */
  cluster?: string | { nodes: { name: string; url: string; publicKey: string }[] };
  /** listen on this port (default: a free one) */
  port?: number;
  /** TLS keypair (PEM paths): the node then serves https/wss with it */
  tls?: { cert: string; key: string };
  /** the node config's `metrics.token` (GET /metrics) */
  metricsToken?: string;
  /** workerd --verbose: JavaScript stacks of uncaught errors in logs() (default: env OUTPOST_VERBOSE) */
  verbose?: boolean;
  /** how long to wait for /healthz (default 20 s) */
  healthTimeoutMs?: number;
}

export interface OutpostNode {
  /** http://127.0.0.1:<port> (https with tls) */
  url: string;
  /** ws://127.0.0.1:<port> (wss with tls) */
  wsUrl: string;
  name: string;
  port: number;
  /** the node's Ed25519 public key (base64url), as GET /healthz shows it */
  publicKey: string;
  dataDir: string;
  /** the one-time setup token this node was started with (kept across restart()) */
  setupToken: string;
  config: NodeConfig;
  configPath: string;
  /** pid of the running workerd, or null when stopped */
  pid(): number | null;
  /** SIGTERM, SIGKILL after 3 s; removes the temp data dir unless kept */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit: a crash, nothing drained */
  kill9(): Promise<void>;
  /** start again on the same port and data dir (stops it first if it is running) */
  restart(): Promise<void>;
  /** everything workerd printed so far (stdout and stderr, all runs) */
  logs(): string;
  /** what workerd printed on stdout only (all runs): the node's JSON log lines (durable-objects/shared/log.ts) */
  stdout(): string;
}

const STOP_GRACE_MS = 3000;

// ---- build once per process --------------------------------------------------

let buildPromise: Promise<string> | null = null;

/**
 * The Worker's bundle: the one test/global-setup.ts made for the whole vitest run, or
 * (a harness used outside that run) built once per process, into a folder of this
 * process's own so a concurrent `npm start` or another test process never reads a
 * half-written bundle.
 */
export function buildOnce(): Promise<string> {
  const shared = process.env.OUTPOST_HARNESS_BUNDLE;
  if (shared && fs.existsSync(shared)) return Promise.resolve(shared);
  buildPromise ??= bundleWorker({
    outfile: path.join(os.tmpdir(), `outpost-harness-build-${process.pid}`, "worker.js"),
  }).catch((err) => {
    buildPromise = null; // let a later test retry after the source is fixed
    throw err;
  });
  return buildPromise;
}

// ---- no node outlives the test process ---------------------------------------

const liveChildren = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let cleanupInstalled = false;

function killEverythingNow() {
  for (const child of liveChildren) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  liveChildren.clear();
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
  if (buildPromise) fs.rmSync(path.join(os.tmpdir(), `outpost-harness-build-${process.pid}`), { recursive: true, force: true });
}

function installCleanup() {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.once("exit", killEverythingNow);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const handler = () => {
      killEverythingNow();
      process.removeListener(sig, handler);
      // Keep the signal's usual effect unless someone else handles it.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, handler);
  }
}

// ---- nodes -------------------------------------------------------------------

/** A port that was free a moment ago (listen on 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * What every test node starts with unless the test says otherwise: cheap password
 * hashes (a hash at the default 600,000 iterations costs ~77 ms of the node's one
 * thread) and a sign-in budget no test reaches by accident, so tests sign in as
 * fast as they like. A test of the budget or of the hash cost sets its own.
 */
export const TEST_NODE_LIMITS = { signInsPerSecond: 1000, signInBurst: 1000, passwordHashIterations: 1000 } satisfies Partial<Limits>;

/**
 * True when a node failed to start because its port was taken. freePort() lets
 * go of the port it found before workerd binds it, and in that moment another
 * test process may take it (a full run starts hundreds of nodes beside each other).
 */
export function portTaken(err: unknown): boolean {
  return err instanceof Error && err.message.includes("Address already in use");
}

/**
 * Start a node in real workerd and wait until GET /healthz answers 200. A node
 * on a port of its own choosing tries another port when its port was taken
 * in the meantime (portTaken); one on `options.port` fails, as the test chose it.
 */
export async function startNode(options: StartNodeOptions = {}): Promise<OutpostNode> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNodeOnce(options);
    } catch (err) {
      if (options.port !== undefined || attempt >= 3 || !portTaken(err)) throw err;
    }
  }
}

async function startNodeOnce(options: StartNodeOptions): Promise<OutpostNode> {
  installCleanup();
  // OUTPOST_E2E_BUNDLE: run a prebuilt bundle instead (e.g. a deliberately broken build, to see the e2e tests fail)
  const bundlePath = options.bundlePath ?? process.env.OUTPOST_E2E_BUNDLE ?? (await buildOnce());
  const ownDir = !options.dataDir;
  const dataDir = options.dataDir
    ? path.resolve(options.dataDir)
    : fs.mkdtempSync(path.join(os.tmpdir(), `outpost-node-${options.name ?? "local"}-`));
  if (ownDir && !options.keepData) tempDirs.add(dataDir);

  const port = options.port ?? (await freePort());
  const config = makeNodeConfig({
    name: options.name ?? "local",
    listen: `127.0.0.1:${port}`,
    dataDir,
    limits: { ...TEST_NODE_LIMITS, ...options.limits },
    tls: options.tls ?? null,
    allowedOrigins: options.allowedOrigins ?? [],
    outboundAllow: options.outboundAllow ?? [],
    ...(options.oidc ? { oidc: options.oidc } : {}),
    ...(options.mfa ? { mfa: options.mfa } : {}),
    cluster: options.cluster ?? null,
    metrics: options.metricsToken ? { token: options.metricsToken } : null,
  });
  // The node's key (made in its data dir on first start) and cluster, as `npm start` does.
  const identity = await nodeIdentity(config);
  config.identity = { publicKey: identity.publicKey, cluster: identity.cluster, peerAllow: identity.peerAllow };
  // Written again on every launch, so a restart after stop() (which may have removed the
  // data dir) still finds its config and folders.
  const { configPath } = writeWorkerdFiles(config, { bundlePath });
  const setupToken = randomBytes(24).toString("base64url");

  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env, OUTPOST_SETUP_TOKEN: setupToken, OUTPOST_NODE_PRIVATE_KEY: identity.privateKey };
  if (config.oidc) env.OUTPOST_OIDC_CLIENT_SECRET = config.oidc.clientSecret;
  if (options.adminPassword) env.OUTPOST_ADMIN_PASSWORD = options.adminPassword;
  else delete env.OUTPOST_ADMIN_PASSWORD;
  putMetricsEnv(config, env);

  const verbose = options.verbose ?? ["1", "true", "yes"].includes((process.env.OUTPOST_VERBOSE ?? "").toLowerCase());
  let output = "";
  let stdout = "";
  let child: ChildProcess | null = null;
  let runs = 0;

  const launch = async () => {
    runs += 1;
    if (runs > 1) {
      output += `\n--- restart ${runs - 1} ---\n`;
      writeWorkerdFiles(config, { bundlePath });
      if (ownDir && !options.keepData) tempDirs.add(dataDir);
    }
    // A token per launch: /healthz must echo it, so a stranger on the port never passes for this node.
    const instance = newInstanceToken();
    const c = spawnWorkerd(configPath, { env: { ...env, OUTPOST_INSTANCE_TOKEN: instance }, stdio: ["ignore", "pipe", "pipe"], verbose });
    child = c;
    liveChildren.add(c);
    c.stdout?.on("data", (d: Buffer) => {
      output += d.toString("utf8");
      stdout += d.toString("utf8");
    });
    c.stderr?.on("data", (d: Buffer) => (output += d.toString("utf8")));
    c.once("exit", () => liveChildren.delete(c));
    try {
      await waitForHealthy(config.url, { child: c, timeoutMs: options.healthTimeoutMs ?? 20000, instance });
    } catch (err) {
      c.kill("SIGKILL");
      await exited(c);
      throw new Error(`node ${config.name} did not start: ${(err as Error).message}\n--- workerd output ---\n${output}`);
    }
  };

  const halt = async (how: "term" | "kill") => {
    const c = child;
    if (!c) return;
    child = null;
    if (how === "kill") {
      c.kill("SIGKILL");
      await exited(c);
    } else {
      await stopWorkerd(c, { graceMs: STOP_GRACE_MS });
    }
    liveChildren.delete(c);
  };

  await launch();

  const wsScheme = config.tls ? "wss" : "ws";
  return {
    url: config.url,
    wsUrl: `${wsScheme}://127.0.0.1:${port}`,
    name: config.name,
    port,
    publicKey: identity.publicKey,
    dataDir,
    setupToken,
    config,
    configPath,
    pid: () => (child as ChildProcess | null)?.pid ?? null,
    logs: () => output,
    stdout: () => stdout,
    kill9: () => halt("kill"),
    async restart() {
      await halt("term");
      await launch();
    },
    async stop() {
      await halt("term");
      if (ownDir && !options.keepData) {
        fs.rmSync(dataDir, { recursive: true, force: true });
        tempDirs.delete(dataDir);
      }
    },
  };
}

// ---- clients -----------------------------------------------------------------

/** POST /api/v1/auth/login and return the bearer token. Throws with the server's answer otherwise. */
export async function loginAs(url: string, username: string, password: string): Promise<string> {
  // No retry on 429: test nodes get a sign-in budget no test reaches (TEST_NODE_LIMITS),
  // so a 429 here is a finding, not load.
  const res = await fetch(`${url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const token = (body as { token?: unknown } | undefined)?.token;
  if (!res.ok || typeof token !== "string") {
    throw new Error(`login as ${username} failed: HTTP ${res.status} ${text.slice(0, 300)}`);
  }
  return token;
}

/**
 * A frame as the harness sees it: JSON with a `type`. The harness knows no API; a
 * test that names the protocol's schema (`wsConnect(url, token, { schema: ServerRoomFrame })`)
 * gets that schema's frames, each parsed strictly as it arrives.
 */
export type JsonFrame = { type: string; [field: string]: unknown };
/** What a frame that is not JSON becomes in `frames`. */
export type NonJsonFrame = { type: "<non-json>"; raw: Buffer | string };
export type FramePredicate<F extends Frame> = ((frame: F) => boolean) | F["type"];

export interface WsClient<F extends Frame = JsonFrame> {
  ws: WebSocket;
  /** every frame received, in order (a non-JSON one as { type: "<non-json>", raw }, which next() skips) */
  frames: (F | NonJsonFrame)[];
  /**
   * The first frame not yet returned by next() that matches: a frame `type` (typed as that
   * frame; with `where`, also a condition on it), a type predicate, or any predicate. Waits
   * up to `timeoutMs` (default 5000). Rejects on timeout, when the socket closes, and when
   * a frame arrived that does not parse with the socket's schema.
   */
  next<K extends F["type"]>(type: K, timeoutMs?: number): Promise<FrameOf<F, K>>;
  next<K extends F["type"]>(type: K, where: (f: FrameOf<F, K>) => boolean, timeoutMs?: number): Promise<FrameOf<F, K>>;
  next<G extends F>(predicate: (f: F) => f is G, timeoutMs?: number): Promise<G>;
  next(predicate?: (f: F) => boolean, timeoutMs?: number): Promise<F>;
  /** the frames received so far that next() has not taken, in order */
  untaken(): F[];
  /** send a value as JSON (a string is sent as is) */
  send(frame: unknown): void;
  /** resolves when the socket has closed */
  closed: Promise<{ code: number; reason: string }>;
  /**
   * Resolves as soon as the server's close frame arrives (or the socket closes without
   * one). workerd may keep the TCP connection for ~10 s after the closing handshake,
   * so `closed` can lag well behind the moment the server actually closed the socket.
   */
  closeFrame: Promise<{ code: number; reason: string }>;
  close(code?: number, reason?: string): Promise<{ code: number; reason: string }>;
}

export interface WsConnectOptions<F extends Frame> {
  headers?: Record<string, string>;
  perMessageDeflate?: boolean;
  /** parse every frame with this (strict) schema; without it frames are only JSON */
  schema?: z.ZodType<F>;
}

/**
 * Open a WebSocket with `Authorization: Bearer <token>` (omitted when token is empty).
 * `url` may be http(s):// or ws(s)://. Resolves once open; rejects with the HTTP status
 * and body when the upgrade is refused.
 */
export function wsConnect<F extends Frame>(url: string, token: string | null | undefined, options: WsConnectOptions<F> & { schema: z.ZodType<F> }): Promise<WsClient<F>>;
export function wsConnect(url: string, token?: string | null, options?: WsConnectOptions<JsonFrame>): Promise<WsClient<JsonFrame>>;
export function wsConnect<F extends Frame>(url: string, token?: string | null, options: WsConnectOptions<F> = {}): Promise<WsClient<F>> {
  const wsUrl = url.replace(/^http(s?):\/\//, "ws$1://");
  const headers: Record<string, string> = { ...options.headers };
  if (token) headers.authorization = `Bearer ${token}`;
  const ws = new WebSocket(wsUrl, {
    headers,
    perMessageDeflate: options.perMessageDeflate ?? true,
    rejectUnauthorized: false, // our own test node, possibly with a self-signed cert
  });

  const frames: (F | NonJsonFrame)[] = [];
  const consumed = new Set<number>();
  const waiters = new Set<() => void>();
  let closeInfo: { code: number; reason: string } | null = null;
  let invalid: Error | null = null;

  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on("close", (code, reason) => {
      closeInfo = { code, reason: reason.toString("utf8") };
      resolve(closeInfo);
      for (const w of waiters) w();
    });
  });

  // The `ws` package has no public event for "close frame received"; its receiver's
  // 'conclude' event is that moment (the receiver exists once the upgrade is done).
  const closeFrame = new Promise<{ code: number; reason: string }>((resolve) => {
    closed.then(resolve);
    ws.once("open", () => {
      const receiver = (ws as unknown as { _receiver?: NodeJS.EventEmitter })._receiver;
      receiver?.once("conclude", (code: number, reason: Buffer) => resolve({ code, reason: reason.toString("utf8") }));
    });
  });

  ws.on("message", (data, isBinary) => {
    const raw = isBinary ? (data as Buffer) : data.toString();
    let value: unknown;
    try {
      value = JSON.parse(raw.toString());
    } catch {
      frames.push({ type: "<non-json>", raw });
      for (const w of waiters) w();
      return;
    }
    if (options.schema) {
      const parsed = options.schema.safeParse(value);
      if (parsed.success) frames.push(parsed.data);
      else invalid ??= new Error(`a frame outside the protocol: ${JSON.stringify(value).slice(0, 300)}: ${parsed.error.message.slice(0, 300)}`);
    } else {
      // Without a schema the frame is only JSON; F is then JsonFrame (the overloads say so).
      frames.push(value as F);
    }
    for (const w of waiters) w();
  });

  const next = (what?: string | ((f: F) => boolean), whereOrTimeout?: ((f: never) => boolean) | number, maybeTimeout?: number): Promise<F> => {
    let predicate: (f: F) => boolean;
    let timeoutMs: number;
    if (typeof what === "string") {
      // Called only with frames of type `what`, which is what the overload promised `where`.
      const where = typeof whereOrTimeout === "function" ? (whereOrTimeout as (f: F) => boolean) : () => true;
      predicate = (f) => f.type === what && where(f);
      timeoutMs = (typeof whereOrTimeout === "number" ? whereOrTimeout : maybeTimeout) ?? 5000;
    } else {
      predicate = what ?? (() => true);
      timeoutMs = (typeof whereOrTimeout === "number" ? whereOrTimeout : undefined) ?? 5000;
    }
    return new Promise((resolve, reject) => {
      const check = () => {
        if (invalid) {
          done();
          reject(invalid);
          return;
        }
        for (let i = 0; i < frames.length; i++) {
          const f = frames[i];
          // Non-JSON frames are only kept in `frames` (for a test to look at): next() skips them.
          if (!consumed.has(i) && f.type !== "<non-json>" && predicate(f as F)) {
            consumed.add(i);
            done();
            resolve(f as F);
            return;
          }
        }
        if (closeInfo) {
          done();
          reject(new Error(`socket closed (${closeInfo.code} ${closeInfo.reason}) before a matching frame; got: ${recent()}`));
        }
      };
      const recent = () => JSON.stringify(frames.slice(-5)).slice(0, 1000);
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching frame within ${timeoutMs} ms; last frames: ${recent()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  };

  const client: WsClient<F> = {
    ws,
    frames,
    closed,
    closeFrame,
    next: next as WsClient<F>["next"],
    untaken: () => frames.filter((f, i): f is F => !consumed.has(i) && f.type !== "<non-json>"),
    send(frame) {
      ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
    },
    close(code = 1000, reason = "") {
      if (ws.readyState === WebSocket.CLOSED) return closed;
      ws.close(code, reason);
      return closed;
    },
  };

  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(client));
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString("utf8")));
      res.on("end", () => {
        ws.terminate();
        reject(Object.assign(new Error(`WebSocket upgrade refused: HTTP ${res.statusCode} ${body.slice(0, 300)}`), { status: res.statusCode, body }));
      });
    });
    ws.once("error", (err) => reject(err));
  });
}
