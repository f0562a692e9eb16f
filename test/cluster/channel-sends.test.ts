/**
 * Sends on a room's channel (shared/link-channel.ts, "Sends on the channel"),
 * on three real nodes. A member on another node sends into a room homed on
 * beijing: while the room's channel is up, each send is one frame to the home
 * and one answer back, with no request on the link; when the channel cannot
 * answer (a route that swallows everything), the sends not answered go to the
 * link's queue and arrive once, in the order they were sent, with the sends
 * made after them. And from outside, as an attacker on either end would:
 * a node posing as shanghai's mirror may send only for shanghai's people, in
 * order, sealed with the channel's key; a node posing as the home that answers
 * out of order, or says it cannot take sends, loses them to the queue, which
 * delivers them to the real home.
 */
import http from "node:http";
import path from "node:path";
import Database from "better-sqlite3";
import type net from "node:net";
import { WebSocketServer, type WebSocket as WsSocket } from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { roomWs, type RoomWs } from "../e2e/client";
import { LINK_HEADERS, signResponse } from "../../durable-objects/shared/link-auth";
import { CHANNEL_ACKS_HEADER, CHANNEL_KEY_HEADER, SEND_MARK, channelKey, channelOffer, channelSecret, openFrame, sealFrame } from "../../durable-objects/shared/link-channel";
import { closed, keyOf, openChannel } from "./fake-home";
import type { TestCluster } from "./cluster-harness";
import { threeBranches, type ThreeBranches } from "./three-branches";
import { callNode, eventually } from "./cluster-client";
import { filesUnder, rowsContaining } from "./data-files";

let cluster: TestCluster;
let admin: Record<string, string> = {};
let people: ThreeBranches["people"] = {};
let roomId = "";

beforeAll(async () => {
  ({ cluster, admin, people, roomId } = await threeBranches("Sends"));
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

const room = () => encodeURIComponent(roomId);
const DAY_MS = 24 * 3600_000;
const socketOf = (who: string) => roomWs(`${cluster.nodes[people[who].node].wsUrl}/api/v1/rooms/${room()}/socket`, people[who].token);

/** How many `POST /link/v1/sends` requests `node` has served (its metrics). */
async function sendRequests(node: string): Promise<number> {
  const scrape = await (await fetch(`${cluster.nodes[node].url}/metrics`, { headers: { authorization: `Bearer ${admin[node]}` } })).text();
  return scrape
    .split("\n")
    .filter((l) => l.startsWith('outpost_http_requests_total{method="POST",route="/link/v1/sends"'))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
}

/** The home's history of the room: texts in seq order. */
async function homeTexts(): Promise<string[]> {
  const page = await callNode(cluster, "beijing", people.liwei.token, "GET", `/rooms/${room()}/messages?limit=100`);
  return (page.body.messages as { text: string }[]).map((m) => m.text);
}

/** Send `texts` on `ws` one after another without waiting; resolve with each one's ack seq, in the order sent. */
async function sendAll(ws: RoomWs, prefix: string, texts: string[], withinMs: number): Promise<number[]> {
  for (const [i, text] of texts.entries()) ws.send({ type: "msg.send", clientId: `${prefix}-${i}`, text });
  const seqs: number[] = [];
  for (let i = 0; i < texts.length; i++) {
    const ack = await ws.next("msg.ack", (f) => f.clientId === `${prefix}-${i}`, withinMs);
    seqs.push(ack.seq);
  }
  return seqs;
}

/** The channel is up from beijing to `node`: a message of the home reached a member there. */
async function channelUp(ws: RoomWs, tag: string): Promise<void> {
  const sent = await callNode(cluster, "beijing", people.liwei.token, "POST", `/rooms/${room()}/messages`, { clientId: `warm-${tag}`, text: `warm ${tag}` });
  expect(sent.status).toBe(201);
  await ws.next("msg.new", (f) => f.message.text === `warm ${tag}`, 15_000);
}

describe("sends on a room's channel", () => {
  it("go to the home as frames, acked in the order sent, with no request on the link", async () => {
    const sh = await socketOf("chenmei");
    const sz = await socketOf("zhaolei");
    await sh.next("hello");
    await sz.next("hello");
    await channelUp(sh, "a");
    const before = await sendRequests("beijing");
    const texts = Array.from({ length: 40 }, (_, i) => `on the channel ${i}`);
    const seqs = await sendAll(sh, "ch", texts, 15_000);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(40);
    // Shenzhen's member sees them in the order they were sent.
    const seen: string[] = [];
    while (seen.length < 40) {
      const f = await sz.next("msg.new", (m) => m.message.text.startsWith("on the channel "), 15_000);
      seen.push(f.message.text);
    }
    expect(seen).toEqual(texts);
    expect((await homeTexts()).filter((t) => t.startsWith("on the channel "))).toEqual(texts);
    // Not one went as a request: the home served no `POST /link/v1/sends` meanwhile.
    expect(await sendRequests("beijing")).toBe(before);
    await sh.close();
    await sz.close();
  }, 60_000);

  it("that the channel does not answer go to the link's queue and arrive once, in order, with the ones after them", async () => {
    const sh = await socketOf("chenmei");
    const sz = await socketOf("zhaolei");
    await sh.next("hello");
    await sz.next("hello");
    await channelUp(sh, "b");
    const before = await sendRequests("beijing");
    // The route swallows everything: the channel stays open at both ends and answers nothing.
    cluster.blackhole("beijing", "shanghai");
    const held = Array.from({ length: 10 }, (_, i) => `held ${i}`);
    for (const [i, text] of held.entries()) sh.send({ type: "msg.send", clientId: `held-${i}`, text });
    // Each sender hears `msg.queued` (the send is on this node's disk) …
    for (let i = 0; i < held.length; i++) await sh.next("msg.queued", (f) => f.clientId === `held-${i}`, 15_000);
    // … and more sends made meanwhile wait behind them.
    const after = Array.from({ length: 5 }, (_, i) => `after ${i}`);
    for (const [i, text] of after.entries()) sh.send({ type: "msg.send", clientId: `after-${i}`, text });
    await new Promise((r) => setTimeout(r, 1000));
    await cluster.heal("beijing", "shanghai");
    const acked: number[] = [];
    for (let i = 0; i < held.length; i++) acked.push((await sh.next("msg.ack", (f) => f.clientId === `held-${i}`, 30_000)).seq);
    for (let i = 0; i < after.length; i++) acked.push((await sh.next("msg.ack", (f) => f.clientId === `after-${i}`, 30_000)).seq);
    expect(acked).toEqual([...acked].sort((a, b) => a - b));
    // Once each, in the order sent, at the home and for shenzhen's member.
    const all = [...held, ...after];
    expect((await homeTexts()).filter((t) => t.startsWith("held ") || t.startsWith("after "))).toEqual(all);
    const seen: string[] = [];
    while (seen.length < all.length) seen.push((await sz.next("msg.new", (m) => m.message.text.startsWith("held ") || m.message.text.startsWith("after "), 30_000)).message.text);
    expect(seen).toEqual(all);
    expect(await sendRequests("beijing")).toBeGreaterThan(before);
    // With the queue empty again, sends take the channel again.
    await channelUp(sh, "c");
    const again = await sendRequests("beijing");
    await sendAll(sh, "again", ["back on the channel"], 15_000);
    expect(await sendRequests("beijing")).toBe(again);
    await sh.close();
    await sz.close();
  }, 90_000);

  it("that a sender heard `msg.queued` for survive kill -9 of the sending node, and arrive once, in order", async () => {
    const sh = await socketOf("chenmei");
    await sh.next("hello");
    await channelUp(sh, "k");
    cluster.blackhole("beijing", "shanghai");
    const texts = Array.from({ length: 5 }, (_, i) => `through a crash ${i}`);
    for (const [i, text] of texts.entries()) sh.send({ type: "msg.send", clientId: `crash-${i}`, text });
    // "Queued" means on shanghai's disk: the node is killed the moment the last sender hears it.
    for (let i = 0; i < texts.length; i++) await sh.next("msg.queued", (f) => f.clientId === `crash-${i}`, 15_000);
    await cluster.nodes.shanghai.kill9();
    await sh.close().catch(() => {});
    await cluster.heal("beijing", "shanghai");
    await cluster.nodes.shanghai.restart();
    await eventually("the queued sends at the home", async () => (await homeTexts()).filter((t) => t.startsWith("through a crash ")).length >= texts.length, 30_000, 250);
    expect((await homeTexts()).filter((t) => t.startsWith("through a crash "))).toEqual(texts);
    // The sender's repeat, after the restart, is answered with the stored message.
    const again = await callNode(cluster, "shanghai", people.chenmei.token, "POST", `/rooms/${room()}/messages`, { clientId: "crash-0", text: texts[0] });
    expect([again.status, again.body.text]).toEqual([200, texts[0]]);
  }, 90_000);

  it("wait for the queue to empty when it holds one, however long, then take the channel, in order", async () => {
    const sh = await socketOf("chenmei");
    await sh.next("hello");
    await channelUp(sh, "d");
    const upgrades = async () => {
      const scrape = await (await fetch(`${cluster.nodes.shanghai.url}/metrics`, { headers: { authorization: `Bearer ${admin.shanghai}` } })).text();
      return Number(scrape.split("\n").find((l) => l.startsWith('outpost_http_requests_total{method="GET",route="/link/v1/rooms/:id/stream",status="101"} '))?.split(" ")[1] ?? 0);
    };
    const opened = await upgrades();
    const before = await sendRequests("beijing");
    const logsBefore = cluster.nodes.shanghai.logs().length;
    // Shanghai's requests to beijing (the queue's way) are refused; the channel (beijing's way) is not.
    await cluster.proxies.shanghai.beijing.cut();
    // The channel goes: the next send takes the queue, and waits there.
    await cluster.proxies.beijing.shanghai.cut();
    await cluster.proxies.beijing.shanghai.heal();
    sh.send({ type: "msg.send", clientId: "first-by-queue", text: "first, by the queue" });
    await sh.next("msg.queued", (f) => f.clientId === "first-by-queue", 15_000);
    // The home opens a new channel (its back-off is half a second); the sends made now are held behind the queued one …
    await eventually("a new channel", async () => (await upgrades()) > opened, 5000, 50);
    const later = Array.from({ length: 5 }, (_, i) => `then by the channel ${i}`);
    for (const [i, text] of later.entries()) sh.send({ type: "msg.send", clientId: `later-${i}`, text });
    for (let i = 0; i < later.length; i++) await sh.next("msg.queued", (f) => f.clientId === `later-${i}`, 15_000);
    // … longer than a channel send waits for its answer (3 s): they are not on the channel, so nothing hands them to the queue.
    await new Promise((r) => setTimeout(r, 4000));
    expect((await homeTexts()).filter((t) => t === "first, by the queue" || t.startsWith("then by the channel "))).toEqual([]);
    await cluster.proxies.shanghai.beijing.heal();
    const first = await sh.next("msg.ack", (f) => f.clientId === "first-by-queue", 20_000);
    const seqs = [first.seq];
    for (let i = 0; i < later.length; i++) seqs.push((await sh.next("msg.ack", (f) => f.clientId === `later-${i}`, 15_000)).seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect((await homeTexts()).filter((t) => t === "first, by the queue" || t.startsWith("then by the channel "))).toEqual(["first, by the queue", ...later]);
    // One request: the queue's, with the first send alone. The later sends went on the channel when it was answered.
    expect(await sendRequests("beijing")).toBe(before + 1);
    expect(cluster.nodes.shanghai.logs().slice(logsBefore)).not.toContain("mirror.sends_handed_over");
    await sh.close();
  }, 60_000);

  it("are recorded without their text: a repeat hears the message as it is now, and records older than a day go", async () => {
    const marker = `recall me ${Date.now()}`;
    const sent = await callNode(cluster, "shanghai", people.chenmei.token, "POST", `/rooms/${room()}/messages`, { clientId: "recorded-1", text: marker });
    expect(sent.status).toBe(201);
    const id = sent.body.id as string;
    const sendsRows = (needle: string) => rowsContaining(cluster.nodes.shanghai.dataDir, needle).filter((hit) => hit.endsWith(": sends"));
    // The record of the send knows the message by its id (written with the others of a moment).
    await eventually("the send's record", async () => sendsRows(id).length === 1, 5000, 50);
    // The sender recalls it: the text is gone from every row shanghai keeps (its copy, its search index, the send's record).
    const recalled = await callNode(cluster, "shanghai", people.chenmei.token, "DELETE", `/rooms/${room()}/messages/${id}`);
    expect(recalled.status).toBe(200);
    await eventually("the recall in shanghai's copy", async () => (await callNode(cluster, "shanghai", people.chenmei.token, "GET", `/rooms/${room()}/messages/${id}`)).body.deletedAt != null, 10_000, 100);
    expect(rowsContaining(cluster.nodes.shanghai.dataDir, marker)).toEqual([]);
    // A repeat is answered from the record with the message as it is now: recalled.
    const repeat = await callNode(cluster, "shanghai", people.chenmei.token, "POST", `/rooms/${room()}/messages`, { clientId: "recorded-1", text: marker });
    expect([repeat.status, repeat.body.id, repeat.body.text === marker, repeat.body.deletedAt != null]).toEqual([200, id, false, true]);

    // Two days later (the records' times moved back while the node is down), the next answer written takes
    // the records older than a day (send-records.ts ANSWERS_KEPT_MS) away.
    await cluster.nodes.shanghai.kill9();
    for (const f of filesUnder(cluster.nodes.shanghai.dataDir).filter((p) => p.endsWith(".sqlite"))) {
      const db = new Database(path.join(cluster.nodes.shanghai.dataDir, f));
      try {
        if (db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sends'").get()) db.prepare("UPDATE sends SET at = at - ? WHERE state != 'queued'").run(2 * DAY_MS);
      } finally {
        db.close();
      }
    }
    await cluster.nodes.shanghai.restart();
    await eventually("shanghai's link to beijing", async () => (await callNode(cluster, "shanghai", people.chenmei.token, "GET", "/cluster")).body?.nodes.find((n: { node: string }) => n.node === "beijing").state === "up", 15_000, 100);
    const next = await callNode(cluster, "shanghai", people.chenmei.token, "POST", `/rooms/${room()}/messages`, { clientId: "recorded-2", text: "after a day" }, { timeoutMs: 15_000 });
    expect(next.status).toBe(201);
    await eventually("the new send's record", async () => sendsRows(next.body.id).length === 1, 5000, 50);
    expect(sendsRows(id)).toEqual([]);
    // A repeat of the forgotten send goes home, which knows it: the same message, once.
    const late = await callNode(cluster, "shanghai", people.chenmei.token, "POST", `/rooms/${room()}/messages`, { clientId: "recorded-1", text: marker }, { timeoutMs: 15_000 });
    expect([late.status, late.body.id, late.body.deletedAt != null]).toEqual([200, id, true]);
    expect((await homeTexts()).filter((t) => t === marker)).toEqual([]);
  }, 90_000);
});

/**
 * Posing as shanghai's mirror: the home's channel to shanghai is pointed at a
 * server of the test that answers the upgrade with shanghai's own key (read
 * from its data folder) and acknowledges every push.
 */
async function fakeMirror(): Promise<{ port: number; channels: { ws: WsSocket; key: CryptoKey }[]; close(): Promise<void> }> {
  const shanghaiKey = await keyOf(cluster, "shanghai");
  const channels: { ws: WsSocket; key: CryptoKey }[] = [];
  const wss = new WebSocketServer({ noServer: true });
  const server = http.createServer((_req, res) => {
    res.statusCode = 503;
    res.end();
  });
  server.on("upgrade", (req, socket: net.Socket, head) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://fake");
      const nonce = String(req.headers[LINK_HEADERS.nonce]);
      const offer = await channelOffer();
      const secret = (await channelSecret(offer.privateKey, url.searchParams.get("k") ?? "", nonce))!;
      const signature = await signResponse(shanghaiKey, { nonce, status: 101, from: "shanghai", to: "beijing", body: offer.publicKey });
      const key = await channelKey(secret);
      wss.once("headers", (headers) => headers.push(`${CHANNEL_KEY_HEADER}: ${offer.publicKey}`, `${LINK_HEADERS.signature}: ${signature}`, `${CHANNEL_ACKS_HEADER}: batch`));
      wss.handleUpgrade(req, socket, head, (ws) => {
        // Every push acknowledged at once, as a mirror would.
        ws.on("message", (d) => {
          const text = String(d);
          if (text.startsWith(SEND_MARK)) return;
          void openFrame(key, "push", text).then(async (f) => {
            if (!f) return;
            const p = JSON.parse(f.payload) as { version: number; lastSeq: number; membersRev: number };
            ws.send(await sealFrame(key, "ack", f.n, JSON.stringify({ a: { version: p.version, lastSeq: p.lastSeq, membersRev: p.membersRev } })));
          });
        });
        channels.push({ ws, key });
      });
    })();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    channels,
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        server.close(() => r());
      }),
  };
}

/** The next answer to a send on a channel from the home, opened. */
function nextAnswer(ws: WsSocket, key: CryptoKey): Promise<{ n: number; body: { r?: { ok: boolean; code?: string; message?: unknown }; t?: string } }> {
  return new Promise((resolve) => {
    const on = (d: unknown) => {
      const text = String(d);
      if (!text.startsWith(SEND_MARK)) return;
      ws.off("message", on);
      void openFrame(key, "sent", text.slice(1)).then((f) => resolve({ n: f!.n, body: JSON.parse(f!.payload) }));
    };
    ws.on("message", on);
  });
}

describe("sends on a room's channel, from outside", () => {
  it("a mirror may send only for its own node's people, in order, sealed with the channel's key", async () => {
    const fake = await fakeMirror();
    const realPort = cluster.proxies.beijing.shanghai.target;
    try {
      // The home's next channel to shanghai reaches the fake.
      cluster.proxies.beijing.shanghai.retarget(fake.port);
      await cluster.proxies.beijing.shanghai.cut();
      await cluster.proxies.beijing.shanghai.heal();
      const opened = async (tag: string) => {
        const count = fake.channels.length;
        await callNode(cluster, "beijing", people.liwei.token, "POST", `/rooms/${room()}/messages`, { clientId: `lure-${tag}`, text: `lure ${tag}` });
        return eventually(`a channel to the fake (${tag})`, async () => fake.channels.length > count && fake.channels[fake.channels.length - 1], 20_000);
      };
      const send = async (c: { ws: WsSocket; key: CryptoKey }, n: number, item: object, key = c.key) => c.ws.send(`${SEND_MARK}${await sealFrame(key, "send", n, JSON.stringify({ s: item }))}`);
      const item = (who: string, clientId: string, text: string) => ({ roomId, userId: people[who].id, sessionId: "s_forged", clientId, text });

      const c1 = await opened("1");
      // For a person of beijing: refused, nothing stored.
      let answer = nextAnswer(c1.ws, c1.key);
      await send(c1, 1, item("liwei", "forged-1", "forged as liwei"));
      expect((await answer).n).toBe(1);
      expect((await answer).body.r).toMatchObject({ ok: false, code: "forbidden" });
      // For a person of shenzhen: refused too.
      answer = nextAnswer(c1.ws, c1.key);
      await send(c1, 2, item("zhaolei", "forged-2", "forged as zhaolei"));
      expect((await answer).body.r).toMatchObject({ ok: false, code: "forbidden" });
      // For its own person: stored, and the answer carries the message.
      answer = nextAnswer(c1.ws, c1.key);
      await send(c1, 3, item("chenmei", "own-3", "chenmei by the channel"));
      expect((await answer).body.r).toMatchObject({ ok: true, duplicate: false, message: { text: "chenmei by the channel" } });
      // Skipping a number closes the channel, and that send is not stored.
      await send(c1, 5, item("chenmei", "own-5", "skipped a number"));
      expect(await closed(c1.ws as never)).toBe(1008);

      const c2 = await opened("2");
      // Sealed with another key, or as the home's own answer: closed, not stored.
      await send(c2, 1, item("chenmei", "own-6", "not sealed by the channel"), await channelKey(crypto.getRandomValues(new Uint8Array(32))));
      expect(await closed(c2.ws as never)).toBe(1008);
      const c3 = await opened("3");
      c3.ws.send(`${SEND_MARK}${await sealFrame(c3.key, "sent", 1, JSON.stringify({ s: item("chenmei", "own-7", "sealed as an answer") }))}`);
      expect(await closed(c3.ws as never)).toBe(1008);

      const texts = await homeTexts();
      expect(texts.filter((t) => t === "chenmei by the channel")).toHaveLength(1);
      for (const t of ["forged as liwei", "forged as zhaolei", "skipped a number", "not sealed by the channel", "sealed as an answer"]) expect(texts, t).not.toContain(t);
    } finally {
      cluster.proxies.beijing.shanghai.retarget(realPort);
      await cluster.proxies.beijing.shanghai.cut();
      await cluster.proxies.beijing.shanghai.heal();
      await fake.close();
    }
  }, 90_000);

  it("a home that says it cannot take sends, or answers out of order, loses them to the queue, which delivers them", async () => {
    const sh = await socketOf("chenmei");
    await sh.next("hello");
    // The real home cannot reach shanghai meanwhile (it would open its own channel, replacing the fake's);
    // shanghai still reaches it, so the link's queue delivers.
    await cluster.proxies.beijing.shanghai.cut();
    for (const [tag, answerWith] of [
      ["stopped", async (key: CryptoKey, n: number) => `${SEND_MARK}${await sealFrame(key, "sent", n, JSON.stringify({ t: "storage_error" }))}`],
      ["out-of-order", async (key: CryptoKey, n: number) => `${SEND_MARK}${await sealFrame(key, "sent", n + 1, JSON.stringify({ t: "storage_error" }))}`],
    ] as const) {
      // Posing as the home (beijing's key, from its data folder): the mirror takes this channel in place of the real one.
      const { ws, key } = await openChannel(cluster, "shanghai", roomId, "beijing", { batch: true, sends: true });
      const frames: string[] = [];
      ws!.on("message", (d) => frames.push(String(d)));
      const before = await sendRequests("beijing");
      sh.send({ type: "msg.send", clientId: `lost-${tag}`, text: `lost ${tag}` });
      const frame = await eventually(`the send on the fake home's channel (${tag})`, async () => frames.find((f) => f.startsWith(SEND_MARK)), 10_000);
      const opened = (await openFrame(key!, "send", frame.slice(1)))!;
      expect(JSON.parse(opened.payload).s).toMatchObject({ roomId, userId: people.chenmei.id, clientId: `lost-${tag}`, text: `lost ${tag}` });
      ws!.send(await answerWith(key!, opened.n));
      // The mirror hands it to the link's queue, which delivers it to the real home.
      const ack = await sh.next("msg.ack", (f) => f.clientId === `lost-${tag}`, 20_000);
      expect(ack.duplicate).toBe(false);
      expect(await sendRequests("beijing")).toBeGreaterThan(before);
      expect((await homeTexts()).filter((t) => t === `lost ${tag}`)).toHaveLength(1);
      ws!.close();
    }
    await cluster.proxies.beijing.shanghai.heal();
    await sh.close();
  }, 90_000);
});
