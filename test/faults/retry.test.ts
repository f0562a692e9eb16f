/**
 * Retries after a lost ack. A local TCP proxy between the client and the node
 * drops the connection at the moment the node's `msg.ack` comes back — the
 * message is committed, the client never hears so. The client reconnects and
 * retries with the same clientId: it gets the original message back and no
 * duplicate is ever stored. Plus the transaction-id cases of Matrix's
 * Complement suite (txnid_test.go), with clientId as the transaction id.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import net from "node:net";
import { freePort, loginAs, type OutpostNode } from "../harness";
import { roomWs } from "../e2e/client";
import { withNode } from "../fixtures";
import { recordFigures } from "../figures";

let node: OutpostNode;
let admin: string;

async function api(method: string, p: string, token: string, body?: unknown) {
  const r = await fetch(node.url + p, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
  return { status: r.status, body: await r.json().catch(() => null) };
}

async function user(name: string) {
  const r = await api("POST", "/api/v1/users", admin, { username: name, password: "correct horse battery", displayName: name });
  expect(r.status).toBe(201);
  return { id: r.body.id as string, token: await loginAs(node.url, name, "correct horse battery") };
}

/** A proxy that, while armed, cuts both sides the moment a server frame carrying `msg.ack` passes. */
async function ackDroppingProxy(targetPort: number) {
  const port = await freePort();
  let armed = true;
  let drops = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    client.on("data", (d) => upstream.write(d));
    upstream.on("data", (d) => {
      // Frames from the server are unmasked and uncompressed (the node negotiates no
      // permessage-deflate), so the frame's JSON is visible in the bytes.
      if (armed && d.includes("\"msg.ack\"")) {
        drops++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(d);
    });
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return {
    url: `ws://127.0.0.1:${port}`,
    disarm: () => (armed = false),
    drops: () => drops,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

beforeAll(async () => {
  ({ node, admin } = await withNode());
}, 60_000);

afterAll(async () => {
  await node?.stop();
});

describe("retry after a lost ack", () => {
  it("the node commits, the ack is lost, the retry with the same clientId returns the original: 0 duplicates", async () => {
    const a = await user("retrya");
    const room = (await api("POST", "/api/v1/rooms", a.token, { name: "Retry", visibility: "private" })).body;
    const proxy = await ackDroppingProxy(node.port);
    const N = 20;
    let duplicatesAcked = 0;
    for (let i = 0; i < N; i++) {
      const clientId = `lost-ack-${i}`;
      const viaProxy = await roomWs(`${proxy.url}/api/v1/rooms/${room.id}/socket`, a.token, { perMessageDeflate: false });
      await viaProxy.next("hello");
      viaProxy.send({ type: "msg.send", clientId, text: `message ${i}` });
      const closed = await viaProxy.closed;
      expect(closed.code).toBe(1006); // cut, no ack seen
      expect(viaProxy.frames.some((f) => f.type === "msg.ack")).toBe(false);
      // Reconnect (directly) and retry with the same clientId.
      const direct = await roomWs(`${node.wsUrl}/api/v1/rooms/${room.id}/socket`, a.token);
      await direct.next("hello");
      direct.send({ type: "msg.send", clientId, text: `message ${i}` });
      const ack = await direct.next("msg.ack", (f) => f.clientId === clientId);
      expect(ack.seq).toBe(i + 1);
      if (ack.duplicate) duplicatesAcked++;
      await direct.close();
    }
    proxy.disarm();
    await proxy.close();
    const hist = await api("GET", `/api/v1/rooms/${room.id}/messages?limit=100`, a.token);
    const ids = hist.body.messages.map((m: { clientId: string }) => m.clientId);
    expect(ids.length).toBe(N);
    expect(new Set(ids).size).toBe(N);
    expect(duplicatesAcked).toBe(N); // every retry was recognised as already stored
    recordFigures("retry", {
      "connections cut after commit, before the ack": proxy.drops(),
      "retries with the same clientId": N,
      "retries answered with the original message": duplicatesAcked,
      "messages stored": ids.length,
      "duplicates stored": ids.length - new Set(ids).size,
    });
  }, 120_000);
});

describe("transaction ids (Matrix Complement txnid cases, clientId = txn id)", () => {
  it("same id, same room, same session: the same message, even if the text changed", async () => {
    const a = await user("txna");
    const room = (await api("POST", "/api/v1/rooms", a.token, { name: "Txn", visibility: "private" })).body;
    const first = await api("POST", `/api/v1/rooms/${room.id}/messages`, a.token, { text: "first", clientId: "txn-1" });
    const again = await api("POST", `/api/v1/rooms/${room.id}/messages`, a.token, { text: "changed text", clientId: "txn-1" });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(again.body.text).toBe("first");
    // Over the socket too.
    const ws = await roomWs(`${node.wsUrl}/api/v1/rooms/${room.id}/socket`, a.token);
    await ws.next("hello");
    ws.send({ type: "msg.send", clientId: "txn-1", text: "third try" });
    const ack = await ws.next("msg.ack");
    expect(ack).toMatchObject({ id: first.body.id, seq: first.body.seq, duplicate: true });
    await ws.close();
  });

  it("same id in another room: a new message", async () => {
    const a = await user("txnb");
    const r1 = (await api("POST", "/api/v1/rooms", a.token, { name: "One", visibility: "private" })).body;
    const r2 = (await api("POST", "/api/v1/rooms", a.token, { name: "Two", visibility: "private" })).body;
    const m1 = await api("POST", `/api/v1/rooms/${r1.id}/messages`, a.token, { text: "x", clientId: "txn-2" });
    const m2 = await api("POST", `/api/v1/rooms/${r2.id}/messages`, a.token, { text: "x", clientId: "txn-2" });
    expect(m1.status).toBe(201);
    expect(m2.status).toBe(201);
    expect(m2.body.id).not.toBe(m1.body.id);
  });

  it("same id from another session of the same user: a new message", async () => {
    const a = await user("txnc");
    const second = await loginAs(node.url, "txnc", "correct horse battery");
    const room = (await api("POST", "/api/v1/rooms", a.token, { name: "Sessions", visibility: "private" })).body;
    const m1 = await api("POST", `/api/v1/rooms/${room.id}/messages`, a.token, { text: "x", clientId: "txn-3" });
    const m2 = await api("POST", `/api/v1/rooms/${room.id}/messages`, second, { text: "x", clientId: "txn-3" });
    expect(m2.status).toBe(201);
    expect(m2.body.id).not.toBe(m1.body.id);
  });

  it("same id from another user: a new message", async () => {
    const a = await user("txnd");
    const b = await user("txne");
    const room = (await api("POST", "/api/v1/rooms", a.token, { name: "Users", visibility: "private", members: [b.id] })).body;
    const m1 = await api("POST", `/api/v1/rooms/${room.id}/messages`, a.token, { text: "x", clientId: "txn-4" });
    const m2 = await api("POST", `/api/v1/rooms/${room.id}/messages`, b.token, { text: "x", clientId: "txn-4" });
    expect(m2.status).toBe(201);
    expect(m2.body.id).not.toBe(m1.body.id);
    const hist = await api("GET", `/api/v1/rooms/${room.id}/messages`, a.token);
    expect(hist.body.messages.length).toBe(2);
  });
});
