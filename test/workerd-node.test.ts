/**
 * The generated workerd config, run for real by the harness, with a stub Worker in
 * place of worker/index.ts: this tests the ops layer alone (capnp accepted by the
 * pinned workerd, every binding arrives in the shape the Worker reads, Durable
 * Object SQLite lands in the data dir and survives kill -9, TLS, LAN outbound),
 * so a failure here is never the app's fault.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { bundleWorker } from "../ops/build.mjs";
import { DEFAULT_LIMITS, VERSION } from "../ops/node-config.mjs";
import { loginAs, startNode, TEST_NODE_LIMITS, wsConnect, type OutpostNode } from "./harness";

const STUB_WORKER = `
import { DurableObject } from "cloudflare:workers";

export class RoomObject extends DurableObject {
  async fetch() {
    const sql = this.ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS hits (at INTEGER)");
    sql.exec("INSERT INTO hits VALUES (?)", Date.now());
    return Response.json({ hits: sql.exec("SELECT count(*) AS n FROM hits").one().n });
  }
}
export class UserObject extends DurableObject {}
export class DirectoryObject extends DurableObject {}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/healthz":
        // The harness checks that the answer comes from the workerd it started.
        return new Response("ok", { headers: { "x-outpost-instance": env.INSTANCE_TOKEN ?? "" } });
      case "/env":
        return Response.json({
          NODE_NAME: env.NODE_NAME, LIMITS: env.LIMITS, VERSION: env.VERSION,
          SETUP_TOKEN: env.SETUP_TOKEN, ADMIN_PASSWORD: env.ADMIN_PASSWORD,
          classes: [env.ROOMS, env.USERS, env.DIRECTORY].map((ns) => typeof ns?.idFromName),
        });
      case "/files": {
        const put = await env.FILES.fetch("http://files/a/b.txt", { method: "PUT", body: "stored" });
        const got = await env.FILES.fetch("http://files/a/b.txt");
        return Response.json({ put: put.status, body: await got.text() });
      }
      case "/hit":
        return env.ROOMS.get(env.ROOMS.idFromName("r")).fetch(request);
      case "/outbound":
        try {
          const res = await fetch(url.searchParams.get("to"));
          return Response.json({ status: res.status, body: await res.text() });
        } catch (err) {
          return Response.json({ error: String(err) });
        }
      case "/api/v1/auth/login": {
        const { username } = await request.json();
        return Response.json({ token: "t-" + username });
      }
      case "/ws": {
        const { 0: client, 1: server } = new WebSocketPair();
        server.accept();
        server.send(JSON.stringify({ type: "hello", auth: request.headers.get("authorization") }));
        server.addEventListener("message", (e) => server.send(JSON.stringify({ type: "echo", got: JSON.parse(e.data) })));
        return new Response(null, { status: 101, webSocket: client });
      }
    }
    return new Response("not found", { status: 404 });
  },
};
`;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-stub-"));
let bundlePath: string;
const nodes: OutpostNode[] = [];

beforeAll(async () => {
  fs.writeFileSync(path.join(tmp, "stub.js"), STUB_WORKER);
  bundlePath = await bundleWorker({ entry: path.join(tmp, "stub.js"), outfile: path.join(tmp, "dist/worker.js") });
});
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function node(options: Parameters<typeof startNode>[0] = {}) {
  const n = await startNode({ bundlePath, ...options });
  nodes.push(n);
  return n;
}

/** The stub Worker's frames: a hello naming the Authorization header, then an echo of each frame sent. */
const StubFrame = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("hello"), auth: z.string().nullable() }),
  z.strictObject({ type: z.literal("echo"), got: z.record(z.string(), z.unknown()) }),
]);

/** A JSON answer of the stub Worker (its shape is what each test asserts). */
const getJson = async (url: string): Promise<Record<string, unknown>> => (await fetch(url)).json();

describe("a node in real workerd", () => {
  it("gets every binding in the shape the Worker reads", async () => {
    const n = await node({ name: "shanghai", limits: { maxSessionsPerUser: 3 } });
    expect(await getJson(`${n.url}/env`)).toEqual({
      NODE_NAME: "shanghai",
      LIMITS: { ...DEFAULT_LIMITS, ...TEST_NODE_LIMITS, maxSessionsPerUser: 3 }, // a test node's cheap sign-ins (harness), then this test's own
      VERSION,
      SETUP_TOKEN: n.setupToken,
      ADMIN_PASSWORD: null, // fromEnvironment gives null when the variable is unset
      classes: ["function", "function", "function"],
    });
    expect(await getJson(`${n.url}/files`)).toEqual({ put: 204, body: "stored" });
    expect(fs.readFileSync(path.join(n.dataDir, "files/a/b.txt"), "utf8")).toBe("stored");
  });

  it("hands the admin password through when given", async () => {
    const n = await node({ adminPassword: "correct horse battery" });
    expect((await getJson(`${n.url}/env`)).ADMIN_PASSWORD).toBe("correct horse battery");
  });

  it("keeps Durable Object SQLite in the data dir across kill -9 and restart on the same port", async () => {
    const n = await node();
    expect(await getJson(`${n.url}/hit`)).toEqual({ hits: 1 });
    expect(await getJson(`${n.url}/hit`)).toEqual({ hits: 2 });
    const files = fs.readdirSync(path.join(n.dataDir, "objects/outpost-RoomObject"));
    expect(files.some((f) => /^[0-9a-f]{64}\.sqlite$/.test(f))).toBe(true);

    const pid = n.pid();
    await n.kill9();
    expect(n.pid()).toBeNull();
    await expect(fetch(`${n.url}/healthz`)).rejects.toThrow();
    await n.restart();
    expect(n.pid()).not.toBe(pid);
    expect(await getJson(`${n.url}/hit`)).toEqual({ hits: 3 });

    await n.restart(); // graceful stop, then start
    expect(await getJson(`${n.url}/hit`)).toEqual({ hits: 4 });
    expect(n.logs()).toContain("--- restart 2 ---");
  });

  it("removes its temp data dir on stop() and leaves no workerd behind", async () => {
    const n = await startNode({ bundlePath });
    const pid = n.pid()!;
    await n.stop();
    expect(fs.existsSync(n.dataDir)).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow(); // no such process
  });

  it("ordinary fetches reach this machine and the LAN only at addresses the node config lists (no SSRF)", async () => {
    const srv = http.createServer((_req, res) => res.end("from the LAN"));
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    try {
      const { port } = srv.address() as { port: number };
      const to = `/outbound?to=${encodeURIComponent(`http://127.0.0.1:${port}/`)}`;
      const closed = await node();
      const refused = await getJson(`${closed.url}${to}`);
      expect(refused.status).toBeUndefined();
      expect(String(refused.error)).toMatch(/internal error|not permitted|refused/i);
      const open = await node({ outboundAllow: ["127.0.0.1/32"] });
      expect(await getJson(`${open.url}${to}`)).toEqual({ status: 200, body: "from the LAN" });
    } finally {
      srv.close();
    }
  });

  it("speaks WebSocket without permessage-deflate, and the harness client works", async () => {
    const n = await node();
    const ws = await wsConnect(`${n.wsUrl}/ws`, "tok", { schema: StubFrame });
    expect(ws.ws.extensions).toBe(""); // no_web_socket_compression: ~97 KB per socket, not ~320 KB
    expect(await ws.next("hello")).toEqual({ type: "hello", auth: "Bearer tok" });
    ws.send({ n: 1 });
    ws.send({ n: 2 });
    expect(await ws.next("echo", (f) => f.got.n === 2)).toEqual({ type: "echo", got: { n: 2 } });
    expect(await ws.next("echo")).toEqual({ type: "echo", got: { n: 1 } }); // not yet taken
    await expect(ws.next("echo", 200)).rejects.toThrow(/no matching frame within 200 ms/);
    expect(ws.frames).toHaveLength(3);
    expect((await ws.close()).code).toBe(1000);

    await expect(wsConnect(`${n.url}/nope`, null)).rejects.toThrow(/upgrade refused: HTTP 404/);
    expect(await loginAs(n.url, "ada", "pw")).toBe("t-ada");
  });

  const hasOpenssl = (() => {
    try {
      execFileSync("openssl", ["version"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  })();

  it("serves https and wss with the configured keypair", async () => {
    const cert = path.join(tmp, "cert.pem");
    const key = path.join(tmp, "key.pem");
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"], {
      stdio: "ignore",
    });
    const n = await node({ tls: { cert, key } });
    expect(n.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(n.wsUrl).toMatch(/^wss:/);
    expect(fs.statSync(path.join(n.dataDir, ".workerd/tls/key.pem")).mode & 0o077).toBe(0);
    const ws = await wsConnect(`${n.wsUrl}/ws`, "x", { schema: StubFrame });
    expect((await ws.next("hello")).auth).toBe("Bearer x");
    await ws.close();
  });
});
