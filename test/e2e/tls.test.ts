/**
 * TLS on the node's own listener (node config `tls: {cert, key}`;
 * docs/OPERATIONS.md "TLS"), against a real `workerd serve` node with a
 * certificate made here by the `openssl` CLI for 127.0.0.1. Every client
 * below verifies the certificate (`ca:` the test's own), as a real one would:
 * /healthz, a sign-in (its cookies marked Secure), a WebSocket over wss that
 * sends a message and gets the ack, and the metrics over https.
 *
 * Plain http on the same port is not served (decided: a TLS node has one
 * listener and it speaks only TLS; no redirect, since the first request over
 * http would already have sent its cookie or token in clear): the connection
 * fails without any HTTP answer.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNode, type OutpostNode } from "../harness";
import { TEST_ADMIN_PASSWORD } from "../fixtures";
import { ServerRoomFrame } from "../../protocol/frames";

const METRICS_TOKEN = "tls-test-metrics-token-0123456789abcdef";
let dir: string;
let ca: Buffer;
let t: { node: OutpostNode; admin: string; adminPassword: string; stop(): Promise<void> };

/** A request verified against the test's certificate (and nothing else). */
function request(
  url: string,
  opts: { method?: string; body?: unknown; headers?: Record<string, string>; trust?: Buffer | null } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const headers = { ...opts.headers, ...(body ? { "content-type": "application/json" } : {}) };
  const u = new URL(url);
  const lib = u.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(u, { method: opts.method ?? "GET", headers, ...(u.protocol === "https:" ? { ca: opts.trust === undefined ? ca : (opts.trust ?? undefined), rejectUnauthorized: true } : {}), timeout: 5000 }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(body);
  });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-tls-"));
  const cert = path.join(dir, "cert.pem");
  const key = path.join(dir, "key.pem");
  // P-256: quick to make; workerd (BoringSSL) serves it like RSA.
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=outpost test node", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
    { stdio: "ignore" },
  );
  ca = fs.readFileSync(cert);
  // Not withNode(): its sign-in uses fetch, which trusts only the system's CAs.
  const node = await startNode({ tls: { cert, key }, metricsToken: METRICS_TOKEN, adminPassword: TEST_ADMIN_PASSWORD });
  const login = await request(`${node.url}/api/v1/auth/login`, { method: "POST", body: { username: "admin", password: TEST_ADMIN_PASSWORD } });
  t = { node, admin: JSON.parse(login.text).token, adminPassword: TEST_ADMIN_PASSWORD, stop: () => node.stop() };
}, 60_000);
afterAll(async () => {
  await t?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("a node with tls", () => {
  it("serves https with the configured certificate: /healthz verifies against it, and only against it", async () => {
    expect(t.node.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await request(`${t.node.url}/healthz`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({ ok: true, node: "local" });
    // A client that does not trust the test's certificate refuses the node: it is real TLS.
    await expect(request(`${t.node.url}/healthz`, { trust: null })).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
  });

  it("signs in over https, with Secure cookies", async () => {
    const res = await request(`${t.node.url}/api/v1/auth/login`, { method: "POST", body: { username: "admin", password: t.adminPassword } });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).token).toMatch(/^op1\./);
    const cookies = res.headers["set-cookie"] ?? [];
    expect(cookies.length).toBeGreaterThan(0);
    for (const c of cookies) expect(c, c.split("=")[0]).toMatch(/;\s*Secure/i);
  });

  it("carries a room socket over wss: hello, a message, its ack", async () => {
    const room = JSON.parse(
      (await request(`${t.node.url}/api/v1/rooms`, { method: "POST", headers: { authorization: `Bearer ${t.admin}` }, body: { name: "Over TLS", visibility: "private", members: [] } })).text,
    ) as { id: string };
    const ws = new WebSocket(`${t.node.wsUrl}/api/v1/rooms/${encodeURIComponent(room.id)}/socket`, { ca, headers: { authorization: `Bearer ${t.admin}` } });
    const frames: ServerRoomFrame[] = [];
    const next = (type: string) =>
      new Promise<ServerRoomFrame>((resolve, reject) => {
        const check = () => {
          const f = frames.find((x) => x.type === type);
          if (f) {
            ws.off("message", check);
            resolve(f);
          }
        };
        ws.on("message", check);
        ws.once("error", reject);
        check();
      });
    ws.on("message", (d) => frames.push(ServerRoomFrame.parse(JSON.parse(d.toString()))));
    const hello = await next("hello");
    expect(hello).toMatchObject({ type: "hello", room: { id: room.id } });
    ws.send(JSON.stringify({ type: "msg.send", clientId: "tls-1", text: "over wss" }));
    expect(await next("msg.ack")).toMatchObject({ type: "msg.ack", clientId: "tls-1", seq: 1 });
    ws.close();
  });

  it("answers GET /metrics over https", async () => {
    const res = await request(`${t.node.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/^outpost_messages_sent_total [1-9]/m);
  });

  it("does not serve plain http on its port: the connection fails with no HTTP answer", async () => {
    const plain = t.node.url.replace(/^https:/, "http:");
    // workerd reads the plain request as a failed handshake and closes the connection.
    const err = await request(`${plain}/healthz`).then(() => null, (e: Error & { code?: string }) => e);
    expect(err?.code).toBe("ECONNRESET");
    // And a WebSocket over ws:// likewise.
    const ws = new WebSocket(`${plain.replace(/^http:/, "ws:")}/api/v1/socket`, { headers: { authorization: `Bearer ${t.admin}` } });
    await expect(new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)))).rejects.toThrow();
  });
});
