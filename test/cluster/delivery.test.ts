/**
 * The hard parts of rooms across branches, on real nodes:
 * - queued sends survive `kill -9` of the sending node and are delivered once,
 *   in order, after its restart and the link's return;
 * - a queued send the home refuses on arrival comes back to its sender with
 *   the reason, never silently dropped;
 * - a room with residency "home" leaves no message text, preview or file on
 *   any other node's disk, and is unreachable (not stale) during a cut.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { loginAs } from "../harness";
import { roomWs } from "../e2e/client";
import { recordFigures } from "../figures";
import { startCluster, type TestCluster } from "./cluster-harness";
import { callNode, eventually } from "./cluster-client";
import { filesContaining } from "./data-files";

const PASSWORD = "cluster operator passphrase";
const USER_PASSWORD = "a long enough passphrase";
let cluster: TestCluster;
const admin: Record<string, string> = {};
const people: Record<string, { id: string; node: string; token: string }> = {};

const call = (node: string, token: string, method: string, p: string, body?: unknown, raw?: { type: string; data: Buffer }) => callNode(cluster, node, token, method, p, body, { raw });
const as = (who: string) => (method: string, p: string, body?: unknown) => call(people[who].node, people[who].token, method, p, body);


async function history(who: string, roomId: string): Promise<{ seq: number; text: string; clientId: string }[]> {
  const out = [];
  let after = 0;
  for (;;) {
    const page = await as(who)("GET", `/rooms/${encodeURIComponent(roomId)}/messages?after=${after}&limit=100`);
    if (page.status !== 200) throw new Error(`history: ${page.status} ${JSON.stringify(page.body)}`);
    out.push(...page.body.messages);
    if (!page.body.hasMore || page.body.messages.length === 0) return out;
    after = page.body.messages[page.body.messages.length - 1].seq;
  }
}

async function room(owner: string, members: string[], extra: Record<string, unknown> = {}): Promise<string> {
  const made = await as(owner)("POST", "/rooms", { name: "跨分行", visibility: "private", members: members.map((m) => people[m].id), ...extra });
  expect(made.status).toBe(201);
  for (const m of members) await eventually(`${m} can open the room`, async () => (await as(m)("GET", `/rooms/${encodeURIComponent(made.body.id)}`)).status === 200);
  return made.body.id;
}

beforeAll(async () => {
  // One person queues 1,000 messages in a few seconds below: the message budget is off.
  cluster = await startCluster(["beijing", "shanghai", "shenzhen"], { adminPassword: PASSWORD, limits: { messagesPerSecondPerUser: 0 } });
  for (const n of cluster.names) admin[n] = await loginAs(cluster.nodes[n].url, "admin", PASSWORD);
  for (const [who, node] of [["liwei", "beijing"], ["chenmei", "shanghai"], ["zhaolei", "shenzhen"]]) {
    const made = await call(node, admin[node], "POST", "/users", { username: who, password: USER_PASSWORD, displayName: who });
    people[who] = { id: made.body.id, node, token: await loginAs(cluster.nodes[node].url, who, USER_PASSWORD) };
  }
  await eventually("beijing knows everyone", async () => (await call("beijing", admin.beijing, "GET", `/users?q=`)).body.users.length >= 6);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

describe("queued sends", () => {
  it("survive kill -9 of the sending node and arrive once, in order", async () => {
    const roomId = await room("liwei", ["chenmei"]);
    await cluster.cut("beijing", "shanghai");
    for (let i = 1; i <= 30; i++) {
      const r = await as("chenmei")("POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { clientId: `k-${i}`, text: `queued ${i}` });
      expect([201, 202]).toContain(r.status);
    }
    await cluster.nodes.shanghai.kill9();
    await cluster.nodes.shanghai.restart();
    people.chenmei.token = await loginAs(cluster.nodes.shanghai.url, "chenmei", USER_PASSWORD).catch(() => people.chenmei.token);
    await cluster.heal("beijing", "shanghai");
    await eventually("all 30 at the home", async () => (await history("liwei", roomId)).length === 30, 20_000);
    const home = await history("liwei", roomId);
    expect(home.map((m) => m.text)).toEqual(Array.from({ length: 30 }, (_, i) => `queued ${i + 1}`));
    expect(home.map((m) => m.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  }, 120_000);

  it("delivers 1,000 queued messages within 5 s of the link's return, once and in order", async () => {
    const roomId = await room("liwei", ["chenmei"]);
    const ws = await roomWs(`${cluster.nodes.shanghai.wsUrl}/api/v1/rooms/${encodeURIComponent(roomId)}/socket`, people.chenmei.token);
    await ws.next("hello");
    await cluster.cut("beijing", "shanghai");
    await eventually("shanghai sees beijing down", async () => (await as("chenmei")("GET", "/cluster")).body.nodes.find((n: { node: string }) => n.node === "beijing").state === "down");
    // One at a time, as the SDK's send queue does: each is queued (durable) before the next goes.
    for (let i = 1; i <= 1000; i++) {
      ws.send({ type: "msg.send", clientId: `bulk-${i}`, text: `bulk ${i}` });
      await ws.next("msg.queued", (f) => f.clientId === `bulk-${i}`, 10_000);
    }
    const view = await as("chenmei")("GET", "/cluster");
    expect(view.body.nodes.find((n: { node: string }) => n.node === "beijing").queued).toBe(1000);
    const healed = Date.now();
    await cluster.heal("beijing", "shanghai");
    await ws.next("msg.ack", (f) => f.clientId === "bulk-1000", 30_000);
    const deliveredMs = Date.now() - healed;
    const home = await history("liwei", roomId);
    expect(home.map((m) => m.text)).toEqual(Array.from({ length: 1000 }, (_, i) => `bulk ${i + 1}`));
    await ws.close();
    recordFigures("cluster", { "1,000 queued messages: delivered after the link returned (ms)": deliveredMs });
    expect(deliveredMs).toBeLessThan(5000);
  }, 120_000);

  it("tell a socket sender `msg.queued` after the REST wait when the cut is not yet noticed, and deliver once at the return", async () => {
    const roomId = await room("liwei", ["chenmei"]);
    const ws = await roomWs(`${cluster.nodes.shanghai.wsUrl}/api/v1/rooms/${encodeURIComponent(roomId)}/socket`, people.chenmei.token);
    await ws.next("hello");
    // Black-holed: the link still counts as up for ~5 s (two heartbeats must time out), so the send is queued "up".
    cluster.blackhole("beijing", "shanghai");
    const sentAt = Date.now();
    ws.send({ type: "msg.send", clientId: "early-1", text: "sent at the start of a cut" });
    await ws.next("msg.queued", (f) => f.clientId === "early-1", 6000);
    const queuedMs = Date.now() - sentAt;
    expect(queuedMs).toBeGreaterThanOrEqual(2900); // REST's wait: an answer from the home within it would have been an ack
    expect(ws.untaken().filter((f) => f.type === "msg.ack")).toEqual([]);
    await cluster.heal("beijing", "shanghai");
    expect((await ws.next("msg.ack", (f) => f.clientId === "early-1", 20_000)).seq).toBe(1);
    expect((await history("liwei", roomId)).map((m) => m.text)).toEqual(["sent at the start of a cut"]);
    // Nothing more arrives for it (one ack, no second queued).
    await new Promise((r) => setTimeout(r, 500));
    expect(ws.untaken().filter((f) => (f.type === "msg.ack" || f.type === "msg.queued") && f.clientId === "early-1")).toEqual([]);
    await ws.close();
  }, 60_000);

  it("come back to the sender with the reason when the home refuses them", async () => {
    const roomId = await room("liwei", ["chenmei"]);
    const ws = await roomWs(`${cluster.nodes.shanghai.wsUrl}/api/v1/rooms/${encodeURIComponent(roomId)}/socket`, people.chenmei.token);
    await ws.next("hello");
    await cluster.cut("beijing", "shanghai");
    await eventually("shanghai sees beijing down", async () => (await as("chenmei")("GET", "/cluster")).body.nodes.find((n: { node: string }) => n.node === "beijing").state === "down");
    ws.send({ type: "msg.send", clientId: "ok-1", text: "fine" });
    expect((await ws.next("msg.queued")).clientId).toBe("ok-1");
    // A reply to a message the home does not have: refused there, on arrival.
    ws.send({ type: "msg.send", clientId: "bad-1", text: "reply to nothing", replyTo: "m_0000000000000000" });
    expect((await ws.next("msg.queued")).clientId).toBe("bad-1");
    ws.send({ type: "msg.send", clientId: "ok-2", text: "also fine" });
    await ws.next("msg.queued");
    await cluster.heal("beijing", "shanghai");
    expect((await ws.next("msg.ack", (f) => f.clientId === "ok-1", 15_000)).seq).toBe(1);
    const refused = await ws.next("error", (f) => f.replyTo === "bad-1", 15_000);
    expect(refused.code).toBe("invalid_request");
    expect(refused.message).toMatch(/replyTo/);
    expect((await ws.next("msg.ack", (f) => f.clientId === "ok-2", 15_000)).seq).toBe(2);
    await ws.close();
    // Asking again gives the same answer.
    const again = await as("chenmei")("POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { clientId: "bad-1", text: "reply to nothing", replyTo: "m_0000000000000000" });
    expect(again.status).toBe(400);
    expect((await history("liwei", roomId)).map((m) => m.text)).toEqual(["fine", "also fine"]);
  }, 60_000);
});

describe("residency: home", () => {
  it("leaves no message, preview or file of the room on another node's disk", async () => {
    const roomId = await room("liwei", ["chenmei", "zhaolei"], { residency: "home" });
    const marker = `RESIDENCY-${randomBytes(8).toString("hex")}`;
    const fileBytes = Buffer.concat([Buffer.from(`FILE-${marker}-`), randomBytes(4096)]);
    const ws = await roomWs(`${cluster.nodes.shanghai.wsUrl}/api/v1/rooms/${encodeURIComponent(roomId)}/socket`, people.chenmei.token);
    await ws.next("hello");
    const upload = await call("beijing", people.liwei.token, "POST", `/rooms/${encodeURIComponent(roomId)}/files?name=plan.bin`, undefined, { type: "application/octet-stream", data: fileBytes });
    expect(upload.status).toBe(201);
    const sent = await as("liwei")("POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { clientId: "secret", text: `the plan is ${marker}`, attachments: [upload.body.id] });
    expect(sent.status).toBe(201);
    // Live to the member in Shanghai, and in her history (asked of the home)…
    expect((await ws.next("msg.new", (f) => f.message.clientId === "secret", 10_000)).message.text).toContain(marker);
    // …and her own messages go to the home live, by REST and on her socket, leaving nothing on her node's disk either.
    const reply = await as("chenmei")("POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { clientId: "reply-rest", text: `noted ${marker} by REST` });
    expect(reply.status).toBe(201);
    expect(reply.body.seq).toBe(2);
    ws.send({ type: "msg.send", clientId: "reply-socket", text: `noted ${marker} on the socket` });
    expect((await ws.next("msg.ack", (f) => f.clientId === "reply-socket", 10_000)).seq).toBe(3);
    // A repeat is the same message (the home keeps it once by its key).
    const again = await as("chenmei")("POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { clientId: "reply-rest", text: `noted ${marker} by REST` });
    expect([again.status, again.body.seq]).toEqual([200, 2]);
    await ws.next("msg.new", (f) => f.message.clientId === "reply-socket", 10_000);
    await ws.close();
    expect((await history("chenmei", roomId)).map((m) => m.text)).toEqual([`the plan is ${marker}`, `noted ${marker} by REST`, `noted ${marker} on the socket`]);
    expect((await as("zhaolei")("GET", `/search?q=${marker}&room=${encodeURIComponent(roomId)}`)).body.hits.length).toBe(3);
    // …her inbox knows there is something unread, without the text.
    await eventually("an unread count in Shenzhen", async () => (await as("zhaolei")("GET", "/me/rooms")).body.rooms.find((r: { roomId: string }) => r.roomId === roomId)?.unread === 3);
    // …and nothing of it on disk outside Beijing.
    for (const node of ["shanghai", "shenzhen"]) {
      const found = filesContaining(cluster.nodes[node].dataDir, Buffer.from(marker));
      if (found.length) console.log(node, found);
      expect(found, node).toEqual([]);
      expect(filesContaining(cluster.nodes[node].dataDir, fileBytes.subarray(0, 64)), node).toEqual([]);
    }
    expect(filesContaining(cluster.nodes.beijing.dataDir, Buffer.from(marker)).length).toBeGreaterThan(0);
    // During a cut the room is unreachable from Shanghai, not stale.
    await cluster.cut("beijing", "shanghai");
    const cut = await as("chenmei")("GET", `/rooms/${encodeURIComponent(roomId)}/messages`);
    expect(cut.status).toBe(503);
    expect(cut.body.error.code).toBe("room_unreachable");
    // …and a message to it is refused as unreachable, not queued on this node's disk.
    const refused = await as("chenmei")("POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { clientId: "during-cut", text: `cut ${marker}` });
    expect([refused.status, refused.body.error?.code]).toEqual([503, "room_unreachable"]);
    await cluster.heal("beijing", "shanghai");
    expect(filesContaining(cluster.nodes.shanghai.dataDir, Buffer.from(marker))).toEqual([]);
  }, 60_000);
});
