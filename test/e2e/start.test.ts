/**
 * `npm start` itself, as a person runs it: a node on the configured address
 * with its data in the configured folder, a one-time setup link when no admin
 * password is given, the admin created through that link, and a clean stop
 * on SIGTERM. (The README's first command.)
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "../harness";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function start(env: Record<string, string>) {
  const child = spawn(process.execPath, [path.join(ROOT, "ops", "start.mjs")], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const waitFor = (re: RegExp, ms = 30_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const t0 = Date.now();
      const tick = () => {
        const m = re.exec(out);
        if (m) return resolve(m);
        if (child.exitCode !== null) return reject(new Error(`npm start exited ${child.exitCode}: ${out}`));
        if (Date.now() - t0 > ms) return reject(new Error(`timed out waiting for ${re}: ${out}`));
        setTimeout(tick, 100);
      };
      tick();
    });
  return { child, waitFor, output: () => out };
}

describe("npm start", () => {
  it("serves a node on OUTPOST_LISTEN with data in OUTPOST_DATA and prints a one-time setup link", async () => {
    const port = await freePort();
    const data = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-start-"));
    dirs.push(data);
    const node = start({ OUTPOST_LISTEN: `127.0.0.1:${port}`, OUTPOST_DATA: data, OUTPOST_NODE: "branch-1", OUTPOST_ADMIN_PASSWORD: "" });
    await node.waitFor(/listening on/);
    const health = await (await fetch(`http://127.0.0.1:${port}/healthz`)).json();
    expect(health).toMatchObject({ ok: true, node: "branch-1" });
    const [, token] = await node.waitFor(/setup#token=([A-Za-z0-9_-]+)/);
    const setup = await fetch(`http://127.0.0.1:${port}/api/v1/setup`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token, username: "boss", password: "a long enough password" }) });
    expect(setup.status).toBe(201);
    const body = await setup.json();
    expect(body.user.id).toMatch(/^u_[a-z0-9]{16}@branch-1$/);
    // The room and user files are in the data folder.
    expect(fs.existsSync(path.join(data, "objects"))).toBe(true);
    node.child.kill("SIGTERM");
    const code = await new Promise((r) => node.child.once("exit", r));
    expect(code).toBe(0);
  }, 90_000);

  it("creates the admin from OUTPOST_ADMIN_PASSWORD and prints no setup link", async () => {
    const port = await freePort();
    const data = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-start-"));
    dirs.push(data);
    const node = start({ OUTPOST_LISTEN: `127.0.0.1:${port}`, OUTPOST_DATA: data, OUTPOST_ADMIN_PASSWORD: "from-the-environment" });
    await node.waitFor(/listening on/);
    const login = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "admin", password: "from-the-environment" }) });
    expect(login.status).toBe(200);
    expect(node.output()).not.toMatch(/setup#token=/);
    expect(node.output()).not.toContain("from-the-environment");
    node.child.kill("SIGTERM");
    await new Promise((r) => node.child.once("exit", r));
  }, 90_000);
});
