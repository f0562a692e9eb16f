/**
 * Starting and stopping the two servers the bench compares: an Outpost node in real
 * `workerd serve` (built and configured exactly as `npm start` does, via ops/), and the
 * baseline (bench/baseline/server.mjs). Both pinned to core 1 when taskset exists.
 */
import { execFileSync, fork, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { bundleWorker } from "../../ops/build.mjs";
import { COMPATIBILITY_DATE, COMPATIBILITY_FLAGS, makeNodeConfig } from "../../ops/node-config.mjs";
import { writeWorkerdFiles } from "../../ops/workerd-config.mjs";
import { spawnWorkerd, stopWorkerd, exited } from "../../ops/workerd.mjs";

export const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const repoRoot = path.resolve(benchDir, "..");
export const ADMIN_PASSWORD = "bench-operator-passphrase";
export const hasTaskset = (() => {
  try {
    execFileSync("which", ["taskset"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

const live = new Set();
/** Count a child process among those killAll() ends (bench/lib/cluster.mjs starts its own workerd). */
export const track = (child) => (live.add(child), child);
export const untrack = (child) => live.delete(child);
export function killAll() {
  for (const c of live) {
    try {
      c.kill("SIGKILL");
    } catch {}
  }
  live.clear();
}
process.once("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM"]) process.once(sig, () => (killAll(), process.exit(130)));

/** Pin every thread of `pid` to `cpu` (no-op without taskset). */
export function pin(pid, cpu) {
  if (!hasTaskset || !pid) return;
  try {
    execFileSync("taskset", ["-a", "-cp", String(cpu), String(pid)], { stdio: "ignore" });
  } catch {}
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Bundle the Worker once, and search-tokens.ts for the baseline and the seeder. */
let bundlePromise = null;
export function prepareBuild() {
  bundlePromise ??= (async () => {
    const outDir = path.join(benchDir, ".build");
    fs.mkdirSync(outDir, { recursive: true });
    await esbuild.build({
      entryPoints: [path.join(repoRoot, "durable-objects/room/search-tokens.ts")],
      outfile: path.join(outDir, "search-tokens.mjs"),
      bundle: true,
      format: "esm",
      platform: "node",
      logLevel: "warning",
    });
    return bundleWorker({ outfile: path.join(outDir, "worker.js") });
  })();
  return bundlePromise;
}

export const tmpDir = (prefix) => fs.mkdtempSync(path.join(os.tmpdir(), `outpost-bench-${prefix}-`));

// ---- /proc ----------------------------------------------------------------

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system, all threads) of a process so far. */
export function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}
/** Resident set size in bytes. */
export function rssBytes(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

// ---- HTTP -----------------------------------------------------------------

export async function api(base, method, p, { token, body } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let res = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  // The node allows a few password checks a second (a login-storm guard): setup waits its turn.
  for (let tries = 0; res.status === 429 && tries < 30; tries++) {
    await res.text();
    await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get("retry-after") ?? 1)));
    res = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  }
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {}
  if (!res.ok) throw new Error(`${method} ${p}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return json;
}

async function waitHealthy(url, child, timeoutMs = 30000, intervalMs = 5) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited (${child.exitCode ?? child.signalCode})`);
    try {
      const r = await fetch(`${url}/healthz`);
      await r.arrayBuffer();
      if (r.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${url}/healthz did not answer within ${timeoutMs} ms`);
}

// ---- servers --------------------------------------------------------------

/**
 * Start an Outpost node on `dataDir` (created if missing). Returns
 * { kind, url, wsUrl, pid, dataDir, startedAt, healthyAt, stop(), logs() }.
 */
export async function startOutpost(dataDir, { cpu = 1, v8Flags = [], cwd } = {}) {
  const bundlePath = await prepareBuild();
  const port = await freePort();
  // The bench drives 200–1,000 msg/s per room from many users and sets up hundreds of rooms:
  // the per-user quotas (messages, rooms) are off, so it measures the node, not the limits.
  const config = makeNodeConfig({ name: "bench", listen: `127.0.0.1:${port}`, dataDir, limits: { messagesPerSecondPerUser: 0, messageBurstPerUser: 0, roomsPerUserPerDay: 0 } });
  const { configPath } = writeWorkerdFiles(config, { bundlePath });
  // Profiling only (bench/profile.mjs): --perf-prof makes V8 write a jitdump (into `cwd`), so perf can name JIT'd JavaScript.
  if (v8Flags.length) {
    const flags = v8Flags.map((f) => JSON.stringify(f)).join(", ");
    fs.writeFileSync(configPath, fs.readFileSync(configPath, "utf8").replace("const config :Workerd.Config = (\n", `const config :Workerd.Config = (\n  v8Flags = [${flags}],\n`));
  }
  const env = { ...process.env, OUTPOST_SETUP_TOKEN: randomBytes(24).toString("base64url"), OUTPOST_ADMIN_PASSWORD: ADMIN_PASSWORD };
  return launchWorkerd("outpost", configPath, { port, dataDir, cpu, env, cwd });
}

/** Spawn workerd on `configPath` pinned to `cpu`, wait for /healthz on `port`; the server handle. */
export async function launchWorkerd(kind, configPath, { port, dataDir, cpu, env = process.env, cwd }) {
  const url = `http://127.0.0.1:${port}`;
  const startedAt = performance.now();
  const child = spawnWorkerd(configPath, { env, stdio: ["ignore", "pipe", "pipe"], cwd });
  live.add(child);
  pin(child.pid, cpu);
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  try {
    await waitHealthy(url, child);
  } catch (e) {
    child.kill("SIGKILL");
    throw new Error(`${e.message}\n${out}`);
  }
  const healthyAt = performance.now();
  return {
    kind,
    url,
    wsUrl: `ws://127.0.0.1:${port}`,
    pid: child.pid,
    dataDir,
    startedAt,
    healthyAt,
    logs: () => out,
    async stop() {
      await stopWorkerd(child, { graceMs: 3000 });
      live.delete(child);
    },
  };
}

export async function startBaseline(dataDir, { cpu = 1 } = {}) {
  await prepareBuild();
  fs.mkdirSync(dataDir, { recursive: true });
  const args = [path.join(benchDir, "baseline/server.mjs"), "--port", "0", "--db", path.join(dataDir, "baseline.sqlite")];
  const startedAt = performance.now();
  const child = hasTaskset ? spawn("taskset", ["-c", String(cpu), process.execPath, ...args], { stdio: ["ignore", "pipe", "pipe"] }) : spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  let out = "";
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`baseline did not start:\n${out}`)), 20000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) (clearTimeout(t), resolve(Number(m[1])));
    });
    child.stderr.on("data", (d) => (out += d));
    child.once("exit", () => reject(new Error(`baseline exited:\n${out}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, child);
  const healthyAt = performance.now();
  return {
    kind: "baseline",
    url,
    wsUrl: `ws://127.0.0.1:${port}`,
    pid: child.pid,
    dataDir,
    startedAt,
    healthyAt,
    logs: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited(child);
      clearTimeout(t);
      live.delete(child);
    },
  };
}

/**
 * The runtime floor (bench/floor/worker.js): the minimal Durable-Object-per-room
 * chat on the same workerd and compatibility settings as Outpost.
 */
export async function startFloor(dataDir, { cpu = 1 } = {}) {
  fs.mkdirSync(path.join(dataDir, "objects"), { recursive: true });
  fs.copyFileSync(path.join(benchDir, "floor/worker.js"), path.join(dataDir, "floor.js"));
  const port = await freePort();
  const configPath = path.join(dataDir, "floor.capnp");
  fs.writeFileSync(
    configPath,
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "floor", worker = (
      modules = [(name = "floor.js", esModule = embed "floor.js")],
      compatibilityDate = ${JSON.stringify(COMPATIBILITY_DATE)},
      compatibilityFlags = [${COMPATIBILITY_FLAGS.map((f) => JSON.stringify(f)).join(", ")}],
      bindings = [(name = "ROOMS", durableObjectNamespace = "FloorRoom")],
      durableObjectNamespaces = [(className = "FloorRoom", uniqueKey = "floor-room", enableSql = true)],
      durableObjectStorage = (localDisk = "disk"),
    )),
    (name = "disk", disk = (path = ${JSON.stringify(path.join(dataDir, "objects"))}, writable = true)),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "floor")],
);
`,
  );
  return launchWorkerd("floor", configPath, { port, dataDir, cpu });
}

/**
 * Run one load-generator task in a fresh process pinned to core 0. `onEvent(name, data)`
 * answers the task's questions to the bench (`ask()` in loadgen.mjs: cut a link now, note
 * the byte counters now); its return value goes back to the task.
 */
export function runLoadgen(task, timeoutMs = 180000, { onEvent } = {}) {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(benchDir, "lib/loadgen.mjs"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    pin(child.pid, 0);
    const reap = () => child.kill("SIGKILL");
    process.once("exit", reap);
    child.once("exit", () => process.removeListener("exit", reap));
    const timer = setTimeout(() => (child.kill("SIGKILL"), reject(new Error(`loadgen ${task.task} timed out after ${timeoutMs} ms`))), timeoutMs);
    child.on("message", (m) => {
      if (m.event !== undefined) {
        Promise.resolve()
          .then(() => onEvent?.(m.event, m.data))
          .then(
            (value) => child.connected && child.send({ reply: m.id, value: value ?? null }),
            (e) => child.connected && child.send({ reply: m.id, error: String(e?.message ?? e) }),
          );
        return;
      }
      clearTimeout(timer);
      child.kill("SIGKILL");
      m.ok ? resolve(m.result) : reject(new Error(m.error));
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`loadgen exited with ${code}`));
    });
    child.send(task);
  });
}

export const startServer = (kind, dataDir, opts) => (kind === "outpost" ? startOutpost(dataDir, opts) : startBaseline(dataDir, opts));

// ---- setup through each server's API ------------------------------------

/** Create `n` users and sign each in. Returns [{ id, username, token }]. Runs `concurrency` at a time. */
export async function createUsers(server, n, { prefix = "u", concurrency = 4 } = {}) {
  let adminToken = null;
  if (server.kind === "outpost") adminToken = (await api(server.url, "POST", "/api/v1/auth/login", { body: { username: "admin", password: ADMIN_PASSWORD } })).token;
  const out = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const username = `${prefix}${i}`;
      const password = `password-${i}-bench`;
      const user = await api(server.url, "POST", "/api/v1/users", { token: adminToken, body: server.kind === "outpost" ? { username, password, displayName: username } : { username, password } });
      const { token } = await api(server.url, "POST", "/api/v1/auth/login", { body: { username, password } });
      out[i] = { id: user.id, username, token };
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

/** Members only (no sign-in): for big member lists. Outpost needs real accounts; the baseline takes any id. */
export async function createMemberIds(server, n, { prefix = "m", concurrency = 4 } = {}) {
  if (server.kind === "baseline") return Array.from({ length: n }, (_, i) => `u_member${i}`);
  const adminToken = (await api(server.url, "POST", "/api/v1/auth/login", { body: { username: "admin", password: ADMIN_PASSWORD } })).token;
  const out = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const u = await api(server.url, "POST", "/api/v1/users", { token: adminToken, body: { username: `${prefix}${i}`, password: `password-${i}-bench`, displayName: `${prefix}${i}` } });
      out[i] = u.id;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

/** Create a room owned by `owner` with `memberIds` (besides the owner). Returns the room id. */
export async function createRoom(server, owner, name, memberIds = []) {
  const others = memberIds.filter((id) => id !== owner.id);
  if (server.kind === "baseline") return (await api(server.url, "POST", "/api/v1/rooms", { token: owner.token, body: { name, members: others } })).id;
  // At most 90 in the create body: with more, POST /rooms answers 500 (found by this bench: the
  // directory's getUsers binds one SQL parameter per id and workerd's SQLite allows 100).
  const first = others.slice(0, 90);
  const room = await api(server.url, "POST", "/api/v1/rooms", { token: owner.token, body: { name, visibility: "public", members: first } });
  let next = first.length;
  const worker = async () => {
    while (next < others.length) {
      const id = others[next++];
      await api(server.url, "POST", `/api/v1/rooms/${room.id}/members`, { token: owner.token, body: { userId: id } });
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return room.id;
}
