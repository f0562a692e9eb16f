/**
 * Hostile input at the edges, against a real `workerd serve`: oversized and
 * fragmented frames, invalid UTF-8, deeply nested JSON, objects where strings
 * belong, binary frames, 10,000 connects from one client, a login storm. The
 * node answers with clear errors or close codes, keeps memory bounded, and
 * keeps serving everyone else.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import http from "node:http";
import WebSocket from "ws";
import { loginAs, type OutpostNode } from "../harness";
import { roomWs } from "../e2e/client";
import { withNode } from "../fixtures";
import { recordFigures } from "../figures";
import { DEFAULT_LIMITS } from "../../ops/node-config.mjs";

let node: OutpostNode;
let admin: string;
let roomId: string;

async function api(method: string, p: string, token: string | null, body?: unknown, on = node) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(on.url + p, { method, headers, body: body ? JSON.stringify(body) : undefined });
  return { status: r.status, body: await r.json().catch(() => null) };
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}

/** A second user keeps chatting; returns the round trip of one message in ms. */
async function stillServes(on = node, token = admin, room = roomId): Promise<number> {
  const ws = await roomWs(`${on.wsUrl}/api/v1/rooms/${room}/socket`, token);
  await ws.next("hello");
  const t = Date.now();
  const clientId = `alive-${t}-${Math.random().toString(36).slice(2, 8)}`;
  ws.send({ type: "msg.send", clientId, text: "still here" });
  await ws.next("msg.ack", (f) => f.clientId === clientId, 10_000);
  const ms = Date.now() - t;
  await ws.close();
  return ms;
}

beforeAll(async () => {
  ({ node, admin } = await withNode());
  roomId = (await api("POST", "/api/v1/rooms", admin, { name: "Hostile", visibility: "private" })).body.id;
}, 60_000);

afterAll(async () => {
  await node?.stop();
});

describe("hostile frames", () => {
  it("answers bad frames with error frames and closes on oversized ones", async () => {
    const ws = await roomWs(`${node.wsUrl}/api/v1/rooms/${roomId}/socket`, admin);
    await ws.next("hello");
    ws.send("{not json");
    expect((await ws.next("error")).code).toBe("bad_json");
    ws.send({ type: "msg.send", clientId: { $gt: "" }, text: ["a"] });
    expect((await ws.next("error")).code).toBe("invalid_request");
    ws.send({ type: "msg.send", clientId: "c1", text: "x", extra: true });
    expect((await ws.next("error")).code).toBe("invalid_request");
    ws.send({ type: "no.such.type" });
    expect((await ws.next("error")).code).toBe("invalid_request");
    ws.send("[".repeat(20_000) + "]".repeat(20_000));
    expect(["bad_json", "invalid_request"]).toContain((await ws.next("error")).code);
    ws.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect((await ws.next("error")).code).toBe("invalid_request");
    // Fragmented but small: one message.
    const parts = JSON.stringify({ type: "msg.send", clientId: "frag-1", text: "in pieces" }).match(/.{1,5}/g)!;
    parts.forEach((p, i) => ws.ws.send(p, { fin: i === parts.length - 1 }));
    expect((await ws.next("msg.ack")).clientId).toBe("frag-1");
    // Fragmented and too large in total: closed with 1009.
    for (let i = 0; i < 20; i++) ws.ws.send("x".repeat(4096), { fin: false });
    ws.ws.send("x".repeat(70_000), { fin: true });
    expect((await ws.closeFrame).code).toBe(1009);
  }, 60_000);

  it("closes a socket that sends invalid UTF-8, and only that one", async () => {
    const bad = await roomWs(`${node.wsUrl}/api/v1/rooms/${roomId}/socket`, admin);
    await bad.next("hello");
    // A text frame whose payload is not UTF-8 (the ws client does not validate what it sends).
    (bad.ws as unknown as { _sender: { send(d: Buffer, o: object): void } })._sender.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false, fin: true, mask: true, opcode: 1, readOnly: false, rsv1: false });
    const result = await Promise.race([bad.closeFrame.then((c) => `closed ${c.code}`), bad.next("error").then((f) => `error ${f.code}`)]);
    expect(result).toMatch(/^(closed 100[27]|error (bad_json|invalid_request))$/);
    expect(await stillServes()).toBeLessThan(5000);
  }, 60_000);
});

describe("floods", () => {
  it("10,000 connects from one client: sockets stay bounded, memory stays bounded, others are served", async () => {
    const pid = node.pid()!;
    const TOTAL = 10_000;
    const CONCURRENCY = 200;
    let opened = 0;
    let refused = 0;
    const keep: WebSocket[] = [];
    /** One wave of connects; the per-user cap closes all but the newest 10. */
    const wave = async (count: number) => {
      let next = 0;
      const worker = async () => {
        while (next < count) {
          next++;
          await new Promise<void>((resolve) => {
            const ws = new WebSocket(`${node.wsUrl}/api/v1/rooms/${roomId}/socket`, { headers: { authorization: `Bearer ${admin}` }, perMessageDeflate: true });
            ws.once("open", () => {
              opened++;
              keep.push(ws);
              resolve();
            });
            ws.once("unexpected-response", () => {
              refused++;
              resolve();
            });
            ws.once("error", () => resolve());
          });
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      await new Promise((r) => setTimeout(r, 12_000)); // closed connections linger ~10 s in workerd
    };
    const rssStart = rssKb(pid);
    const started = Date.now();
    await wave(TOTAL / 2);
    const rssMid = rssKb(pid);
    await wave(TOTAL / 2);
    const seconds = (Date.now() - started) / 1000 - 24;
    const stillOpen = keep.filter((w) => w.readyState === WebSocket.OPEN).length;
    const rssEnd = rssKb(pid);
    const rtt = await stillServes();
    // Unauthenticated connects cost nothing and get 401.
    let unauthorized = 0;
    await Promise.all(
      Array.from(
        { length: 500 },
        () =>
          new Promise<void>((resolve) => {
            const ws = new WebSocket(`${node.wsUrl}/api/v1/rooms/${roomId}/socket`);
            ws.once("unexpected-response", (_req, res) => {
              if (res.statusCode === 401) unauthorized++;
              res.resume();
              resolve();
            });
            ws.once("open", () => {
              ws.terminate();
              resolve();
            });
            ws.once("error", () => resolve());
          }),
      ),
    );
    for (const w of keep) w.terminate();
    recordFigures("hostile", {
      "connects attempted from one client": TOTAL,
      "connects accepted": opened,
      "connects refused": refused,
      "connects per second": Math.round(TOTAL / seconds),
      "sockets still open afterwards (per-user cap 10)": stillOpen,
      "node RSS growth, first 5,000 connects (MB)": Number(((rssMid - rssStart) / 1024).toFixed(1)),
      "node RSS growth, next 5,000 connects (MB)": Number(((rssEnd - rssMid) / 1024).toFixed(1)),
      "another client's message round trip right after (ms)": rtt,
      "unauthenticated upgrades answered 401": `${unauthorized}/500`,
    });
    expect(opened + refused).toBe(TOTAL);
    expect(stillOpen).toBeLessThanOrEqual(10);
    // Memory is reused, not accumulated: a leak per connect would make the second wave grow
    // as much as the first. When the runtime's heap and allocator give memory back varies from
    // run to run (second wave 53–138 MB against 185–202 MB for the first, in six runs on this
    // machine), so the bound is "clearly less than the first", not "half".
    expect(rssEnd - rssMid).toBeLessThan(Math.max(40 * 1024, (rssMid - rssStart) * 0.8));
    expect(unauthorized).toBe(500);
    expect(rtt).toBeLessThan(5000);
  }, 180_000);

  it("a login storm is throttled (429) and the node keeps serving chat", async () => {
    // A node with a real node's sign-in budget and password-hash cost (test nodes raise the
    // one and cheapen the other, TEST_NODE_LIMITS): this is the test of them.
    const real = await withNode({
      limits: { signInsPerSecond: DEFAULT_LIMITS.signInsPerSecond, signInBurst: DEFAULT_LIMITS.signInBurst, passwordHashIterations: DEFAULT_LIMITS.passwordHashIterations },
    });
    try {
      await storm(real.node, real.admin, real.adminPassword);
    } finally {
      await real.stop();
    }
  }, 120_000);

  async function storm(node: OutpostNode, admin: string, adminPassword: string) {
    const roomId = (await api("POST", "/api/v1/rooms", admin, { name: "Storm", visibility: "private" }, node)).body.id;
    const attempts = 300;
    // 300 attempts from 50 concurrent clients, each on a fresh connection (as an
    // attacker would; it also keeps client-side keep-alive reuse out of the figures).
    const agent = new http.Agent({ keepAlive: false });
    const post = (n: number) =>
      new Promise<number>((resolve) => {
        const body = JSON.stringify({ username: `nobody${n}`, password: "wrong password" });
        const req = http.request(`${node.url}/api/v1/auth/login`, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (r) => {
          r.resume();
          r.on("end", () => resolve(r.statusCode ?? 0));
        });
        req.on("error", () => resolve(0));
        req.end(body);
      });
    const statuses: number[] = [];
    let i = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (i < attempts) statuses.push(await post(i++));
      }),
    );
    const limited = statuses.filter((s) => s === 429).length;
    const unauthorized = statuses.filter((s) => s === 401).length;
    const rtt = await stillServes(node, admin, roomId);
    // The real admin can still sign in once the storm is over (the budget refills at 5 a second).
    await new Promise((r) => setTimeout(r, 2500));
    const ok = await api("POST", "/api/v1/auth/login", null, { username: "admin", password: adminPassword }, node);
    recordFigures("hostile", {
      "login storm: attempts": attempts,
      "login storm: answered 429 without hashing": limited,
      "login storm: answered 401 after hashing": unauthorized,
      "login storm: chat round trip right after (ms)": rtt,
      "login storm: admin login afterwards": ok.status,
    });
    if (limited + unauthorized !== attempts) console.log("STORM LOGS", node.logs().slice(-4000));
    expect(limited + unauthorized).toBe(attempts);
    expect(limited).toBeGreaterThan(0);
    expect(ok.status).toBe(200);
  }

  it("per-user session cap holds", async () => {
    const name = "capped";
    await api("POST", "/api/v1/users", admin, { username: name, password: "correct horse battery", displayName: name });
    const tokens: string[] = [];
    for (let i = 0; i < 24; i++) {
      tokens.push(await loginAs(node.url, name, "correct horse battery"));
    }
    const live = (await Promise.all(tokens.map((t) => api("GET", "/api/v1/me", t)))).filter((r) => r.status === 200).length;
    recordFigures("hostile", { "sessions alive after 24 logins (cap 20)": live });
    expect(live).toBe(20);
    expect((await api("GET", "/api/v1/me", tokens[0])).status).toBe(401);
    expect((await api("GET", "/api/v1/me", tokens[23])).status).toBe(200);
  }, 120_000);
});
