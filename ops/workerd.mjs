/**
 * Running a node's `workerd`: find the binary, spawn it, wait until it answers,
 * stop it. Shared by `npm start` (ops/start.mjs) and the end-to-end test
 * harness (test/harness.ts), so both run the node the same way.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import http from "node:http";
import https from "node:https";
import os from "node:os";
// @ts-expect-error the workerd package ships no types; workerdBinary() checks what it gives.
import workerdPackage from "workerd";

/** @typedef {import("node:child_process").ChildProcess} ChildProcess */
/** @typedef {{ code: number | null, signal: NodeJS.Signals | null }} ExitInfo */

/**
 * The workerd binary that the `workerd` npm package installed. The package is
 * CommonJS with `exports.default = <path>`, so from ESM its default import is
 * the exports object, not the path; accept either shape.
 */
export function workerdBinary() {
  const p = typeof workerdPackage === "string" ? workerdPackage : workerdPackage?.default;
  if (typeof p !== "string") throw new Error("the workerd package did not give a binary path; is it installed (npm ci)?");
  return p;
}

/**
 * Start `workerd serve <configPath> --experimental`. `--experimental` is required
 * by `durableObjectStorage = (localDisk = …)`. Without `verbose`, workerd prints
 * console output and uncaught errors but not their JavaScript stack traces.
 *
 * @param {string} configPath
 * @param {{ env?: NodeJS.ProcessEnv, stdio?: import("node:child_process").StdioOptions, cwd?: string, verbose?: boolean }} [options]
 */
export function spawnWorkerd(configPath, { env = process.env, stdio = "inherit", cwd, verbose = false } = {}) {
  const args = ["serve", configPath, "--experimental"];
  if (verbose) args.push("--verbose");
  return spawn(workerdBinary(), args, { env, stdio, cwd });
}

/**
 * Resolves with `{ code, signal }` once the child has exited (at once if it already has).
 * @param {ChildProcess} child
 * @returns {Promise<ExitInfo>}
 */
export function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

/**
 * The exit code a shell would report for a child that exited so: its code, or 128 + the
 * signal's number. `npm start` and `npm run dev` end with it, mirroring workerd (or wrangler).
 *
 * @param {number | null} code
 * @param {NodeJS.Signals | null} signal
 */
export function shellExitCode(code, signal) {
  return code ?? 128 + (signal ? os.constants.signals[signal] : 0);
}

/**
 * SIGTERM, then SIGKILL after `graceMs` if it is still running (workerd waits for
 * open WebSockets to drain on SIGTERM). Resolves with how it exited.
 *
 * @param {ChildProcess} child
 * @param {{ graceMs?: number }} [options]
 * @returns {Promise<ExitInfo>}
 */
export async function stopWorkerd(child, { graceMs = 5000 } = {}) {
  const done = exited(child);
  if (child.exitCode !== null || child.signalCode !== null) return done;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  try {
    return await done;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A small HTTP(S) request that does not verify certificates when `insecure` is set:
 * used only to talk to our own node on this machine, which may have a self-signed cert.
 *
 * @param {string} url
 * @param {{ method?: string, headers?: Record<string, string>, body?: string | Buffer, insecure?: boolean, timeoutMs?: number }} [options]
 * @returns {Promise<{ status: number, headers: import("node:http").IncomingHttpHeaders, body: string }>}
 */
export function request(url, { method = "GET", headers = {}, body, insecure = true, timeoutMs = 5000 } = {}) {
  const u = new URL(url);
  const lib = u.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      u,
      { method, headers, rejectUnauthorized: !insecure, timeout: timeoutMs },
      (res) => {
        /** @type {Buffer[]} */
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${method} ${url}`)));
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * A random token for one start of a node: handed to workerd as OUTPOST_INSTANCE_TOKEN
 * (the Worker's INSTANCE_TOKEN), which /healthz echoes in `X-Outpost-Instance`.
 */
export function newInstanceToken() {
  return randomBytes(16).toString("base64url");
}

/**
 * Poll `GET <url>/healthz` until it answers 200. Rejects after `timeoutMs`, or as soon
 * as `child` exits (a bad config makes workerd exit at once; no point waiting).
 *
 * `instance`: the token this start gave workerd. A 200 without it came from some other
 * server on the address (another node already running there, whose answer would
 * otherwise pass for ours while our workerd fails to bind): keep waiting.
 *
 * @param {string} url
 * @param {{ timeoutMs?: number, child?: ChildProcess, intervalMs?: number, instance?: string }} [options]
 * @returns {Promise<void>}
 */
export async function waitForHealthy(url, { timeoutMs = 20000, child, intervalMs = 100, instance } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  /** @type {ExitInfo | null} */
  let gone = null;
  child?.once("exit", (code, signal) => (gone = { code, signal }));
  while (Date.now() < deadline) {
    // `gone` is set by the listener (TypeScript cannot see that, hence the cast); the child
    // may also have exited before the listener was added.
    const ended = child && (child.exitCode !== null || child.signalCode !== null) ? { code: child.exitCode, signal: child.signalCode } : null;
    const exit = /** @type {ExitInfo | null} */ (gone) ?? ended;
    if (exit) throw new Error(`workerd exited (${exit.signal ?? `code ${exit.code}`}) before ${url}/healthz answered`);
    try {
      const res = await request(`${url}/healthz`, { timeoutMs: 2000 });
      if (res.status === 200 && (!instance || res.headers["x-outpost-instance"] === instance)) return;
      last = res.status === 200 ? "another server answered (not the workerd just started)" : `HTTP ${res.status}`;
    } catch (err) {
      const e = /** @type {Error & { code?: string }} */ (err);
      last = e.code ?? e.message;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${url}/healthz did not answer 200 within ${timeoutMs} ms (last: ${last})`);
}
