/**
 * `npm run cluster:demo` as a newcomer runs it: three nodes come up with a
 * generated cluster file, people on each and a room that spans them; it prints
 * each node's address and sign-in; Ctrl-C stops all three.
 */
import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..", "..");

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

async function threeFreePorts(): Promise<number> {
  for (;;) {
    const base = 20000 + Math.floor(Math.random() * 20000);
    if ((await portFree(base)) && (await portFree(base + 1)) && (await portFree(base + 2))) return base;
  }
}

describe("npm run cluster:demo", () => {
  it("starts three linked nodes with people and a shared room, and stops them on Ctrl-C", async () => {
    const data = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-demo-"));
    const port = await threeFreePorts();
    const child = spawn(process.execPath, [path.join(ROOT, "ops", "cluster-demo.mjs")], { cwd: ROOT, env: { ...process.env, OUTPOST_DEMO_DATA: data, OUTPOST_DEMO_PORT: String(port) }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      const started = Date.now();
      while (!out.includes("cluster demo: ready")) {
        if (child.exitCode !== null || Date.now() - started > 120_000) throw new Error(`the demo did not get ready:\n${out}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      for (const [i, who] of ["liwei", "chenmei", "zhaolei"].entries()) expect(out).toContain(`http://127.0.0.1:${port + i}   sign in as ${who}`);
      const password = /sign in as chenmei \/ (.+)$/m.exec(out)![1].trim();
      const login = await fetch(`http://127.0.0.1:${port + 1}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "chenmei", password }) });
      const token = ((await login.json()) as { token: string }).token;
      const headers = { authorization: `Bearer ${token}` };
      let rooms: { roomId: string; name: string }[] = [];
      for (let i = 0; i < 40 && !rooms.some((r) => r.name.includes("Weekly sync")); i++) {
        rooms = ((await (await fetch(`http://127.0.0.1:${port + 1}/api/v1/me/rooms`, { headers })).json()) as { rooms: typeof rooms }).rooms;
        await new Promise((r) => setTimeout(r, 250));
      }
      const room = rooms.find((r) => r.name.includes("Weekly sync"))!;
      expect(room.roomId).toMatch(/@beijing$/);
      const cluster = (await (await fetch(`http://127.0.0.1:${port + 1}/api/v1/cluster`, { headers })).json()) as { nodes: { node: string; state: string }[] };
      expect(cluster.nodes.map((n) => n.node)).toEqual(["beijing", "shanghai", "shenzhen"]);
    } finally {
      child.kill("SIGINT");
      expect(await exited).toBe(0);
      for (const p of [port, port + 1, port + 2]) expect(await portFree(p)).toBe(true);
      fs.rmSync(data, { recursive: true, force: true });
    }
  }, 240_000);
});
