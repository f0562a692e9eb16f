/**
 * `npm start` itself, as a person runs it: a node on the configured address
 * with its data in the configured folder, a one-time setup link when no admin
 * password is given, the admin created through that link, and a clean stop
 * on SIGTERM. (The README's first command.) And what a person can fix ends
 * the start with one clear line and a non-zero exit, never a stack: the
 * address taken by another node (whose /healthz answer must not pass for
 * ours), a weak OUTPOST_ADMIN_PASSWORD, a read-only data folder.
 */
import { afterAll, describe, expect, it } from "vitest";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { freePort, startNode } from "../harness";

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
  const exit = (ms = 30_000) =>
    new Promise<number | null>((resolve, reject) => {
      if (child.exitCode !== null) return resolve(child.exitCode);
      const t = setTimeout(() => reject(new Error(`npm start still running after ${ms} ms: ${out}`)), ms);
      child.once("exit", (code) => {
        clearTimeout(t);
        resolve(code);
      });
    });
  return { child, waitFor, exit, output: () => out };
}

/** Nothing of a raw failure reached the person: no native or JavaScript stack, no bare errno dump. */
function expectNoStack(output: string) {
  expect(output).not.toMatch(/kj::Exception|^stack: |\n\s+at \S+ \(|node:internal|Node\.js v\d/m);
}

function freshDataDir() {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-start-"));
  dirs.push(data);
  return data;
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

  it("with the address taken by another node: one clear line, a non-zero exit, and never 'listening'", async () => {
    // Another node on the port: it answers /healthz with 200, as a real one does.
    const other = http.createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true, node: "other" })));
    const port = await freePort();
    await new Promise<void>((resolve) => other.listen(port, "127.0.0.1", resolve));
    try {
      const node = start({ OUTPOST_LISTEN: `127.0.0.1:${port}`, OUTPOST_DATA: freshDataDir(), OUTPOST_ADMIN_PASSWORD: "" });
      const code = await node.exit();
      expect(code).not.toBe(0);
      expect(node.output().trim()).toBe(`outpost: 127.0.0.1:${port} is already in use — is another node running? set OUTPOST_LISTEN`);
      expectNoStack(node.output());
    } finally {
      other.close();
    }
  }, 90_000);

  it("refuses a weak OUTPOST_ADMIN_PASSWORD before starting anything: one line, no setup link, nothing listening", async () => {
    for (const weak of ["s3cr3t", "password123", "my admin password"]) {
      const port = await freePort();
      const node = start({ OUTPOST_LISTEN: `127.0.0.1:${port}`, OUTPOST_DATA: freshDataDir(), OUTPOST_ADMIN_PASSWORD: weak });
      const code = await node.exit();
      expect(code).not.toBe(0);
      const lines = node.output().trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^outpost: OUTPOST_ADMIN_PASSWORD is too weak: .*(at least 10 characters|most common|username)/);
      expect(node.output()).not.toContain(weak); // never echoed
      expect(node.output()).not.toMatch(/setup#token=|listening on/);
      await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    }
  }, 90_000);

  it("a weak admin password that reaches the Worker another way (npm run dev, a hand-made config) creates no admin", async () => {
    const node = await startNode({ adminPassword: "password123" });
    try {
      const setup = await (await fetch(`${node.url}/api/v1/setup`)).json();
      expect(setup).toEqual({ needed: true });
      const login = await fetch(`${node.url}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "admin", password: "password123" }) });
      expect(login.status).toBe(401);
    } finally {
      await node.stop();
    }
  }, 90_000);

  it("with a read-only data folder: one line naming the folder and a non-zero exit", async () => {
    // A read-only file system (EROFS), as a full or remounted disk gives; root ignores permission bits.
    const data = freshDataDir();
    execFileSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", data]);
    try {
      for (const dir of [data, path.join(data, "not-yet-made")]) {
        const node = start({ OUTPOST_LISTEN: `127.0.0.1:${await freePort()}`, OUTPOST_DATA: dir, OUTPOST_ADMIN_PASSWORD: "" });
        const code = await node.exit();
        expect(code).not.toBe(0);
        expect(node.output().trim()).toBe(`outpost: cannot write to the data folder ${dir}: it is on a read-only file system (EROFS) — set OUTPOST_DATA to a writable folder`);
        expectNoStack(node.output());
      }
    } finally {
      execFileSync("umount", [data]);
    }
    // A node's folder, set up by an earlier start, that has since become read-only.
    const used = freshDataDir();
    for (const sub of ["objects", "files", ".workerd"]) fs.mkdirSync(path.join(used, sub));
    execFileSync("mount", ["--bind", used, used]);
    try {
      execFileSync("mount", ["-o", "remount,ro,bind", used]);
      const node = start({ OUTPOST_LISTEN: `127.0.0.1:${await freePort()}`, OUTPOST_DATA: used, OUTPOST_ADMIN_PASSWORD: "" });
      expect(await node.exit()).not.toBe(0);
      expect(node.output().trim()).toBe(`outpost: cannot write to the data folder ${used}: it is on a read-only file system (EROFS) — set OUTPOST_DATA to a writable folder`);
      expectNoStack(node.output());
    } finally {
      execFileSync("umount", [used]);
    }
  }, 90_000);
});
