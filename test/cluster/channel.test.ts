/**
 * A room's channel to another node (shared/link-channel.ts), from outside, the
 * way an attacker on the link would try it, against real nodes: an unsigned or
 * foreign upgrade gets nothing; with the home's own key (read from its data
 * folder: the strongest attacker short of the home itself), a frame that is
 * not sealed with the channel's key, comes out of order, repeats, or carries
 * another room is refused by closing the channel, and nothing of it is
 * stored. And the real thing: three nodes whose pushes ride one channel per
 * (room, node) through a cut and a restart of the channel, every message once
 * and in order.
 */
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs } from "../harness";
import { roomWs } from "../e2e/client";
import { signRequest } from "../../durable-objects/shared/link-auth";
import { channelKey, channelOffer, sealFrame } from "../../durable-objects/shared/link-channel";
import { closed, keyOf as keyOfNode, openChannel as openChannelTo, streamPath } from "./fake-home";
import { startCluster, type TestCluster } from "./cluster-harness";
import { PASSWORD, USER_PASSWORD, threeBranches, type ThreeBranches } from "./three-branches";
import { callNode, eventually } from "./cluster-client";
import { filesContaining } from "./data-files";

let cluster: TestCluster;
let admin: Record<string, string> = {};
let people: ThreeBranches["people"] = {};
let roomId = "";

beforeAll(async () => {
  ({ cluster, admin, people, roomId } = await threeBranches("Channel"));
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

const keyOf = (node: string) => keyOfNode(cluster, node);
const openChannel = (to: string, room: string, as: string | null) => openChannelTo(cluster, to, room, as);

describe("a room's channel to another node", () => {
  it("is refused without a node's signature, and to a node that is not the room's home", async () => {
    const other = "r_0000000000000000@beijing";
    expect((await openChannel("shanghai", other, null)).status).toBe(401);
    // Shenzhen may not push Beijing's rooms, even with its own valid signature.
    expect((await openChannel("shanghai", roomId, "shenzhen")).status).toBe(403);
    // A plain GET, signed, is not a channel.
    const p = streamPath(roomId, (await channelOffer()).publicKey);
    const headers = await signRequest(await keyOf("beijing"), { from: "beijing", to: "shanghai", method: "GET", path: p, body: null });
    expect((await fetch(`${cluster.nodes.shanghai.url}${p}`, { headers })).status).toBe(426);
    // No valid channel key.
    const bad = `/link/v1/rooms/${encodeURIComponent(roomId)}/stream?k=nope`;
    const h2 = await signRequest(await keyOf("beijing"), { from: "beijing", to: "shanghai", method: "GET", path: bad, body: null });
    const refusedWith = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${cluster.nodes.shanghai.wsUrl}${bad}`, { headers: h2 });
      ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.once("upgrade", () => resolve(101));
      ws.once("error", () => resolve(0));
    });
    expect(refusedWith).toBe(400);
  });

  it("closes on a frame not sealed with its key, out of order, repeated, or of another room, and stores none of it", async () => {
    const stamp = Date.now();
    const push = (room: string, seq: number, text: string) =>
      JSON.stringify({
        room: { id: room, name: "Channel", topic: "", kind: "group", visibility: "private", createdBy: people.liwei.id, createdAt: stamp, residency: "everywhere" },
        members: null,
        membersRev: 1,
        lastSeq: seq,
        version: seq,
        after: 0,
        messages: [{ id: `m_forged${seq}`, roomId: room, seq, clientId: `f-${seq}`, senderId: people.liwei.id, text, replyTo: null, mentions: { users: [], all: false }, reactions: [], attachments: [], createdAt: stamp, editedAt: null, deletedAt: null, version: seq }],
        reads: [],
      });
    const refused: string[] = [];
    const cases: [string, (key: CryptoKey, text: string) => Promise<string>][] = [
      ["not sealed with the channel's key", async (_key, text) => sealFrame(await channelKey(crypto.getRandomValues(new Uint8Array(32))), "push", 1, push(roomId, 1, text))],
      ["sealed as an answer", async (key, text) => sealFrame(key, "ack", 1, push(roomId, 1, text))],
      ["numbered 2 before 1", async (key, text) => sealFrame(key, "push", 2, push(roomId, 2, text))],
      ["of another room", async (key, text) => sealFrame(key, "push", 1, push("r_1111111111111111@beijing", 1, text))],
      ["altered after sealing", async (key, text) => (await sealFrame(key, "push", 1, push(roomId, 1, "x".repeat(text.length)))).replace("x".repeat(text.length), text)],
    ];
    for (const [what, frame] of cases) {
      const text = `forged-${refused.length}-${stamp}`;
      refused.push(text);
      const { ws, key } = await openChannel("shanghai", roomId, "beijing");
      expect(ws, what).not.toBeNull();
      ws!.send(await frame(key!, text));
      expect(await closed(ws!), what).toBe(1008);
    }
    // A frame the home really sent cannot be replayed: a repeat of an accepted number closes the channel.
    // (A room id Beijing never made: a signed Beijing may push any of its ids; the test's room stays clean.)
    const spare = "r_2222222222222222@beijing";
    const { ws, key } = await openChannel("shanghai", spare, "beijing");
    const first = await sealFrame(key!, "push", 1, push(spare, 1, `taken-${stamp}`));
    const answers: string[] = [];
    ws!.on("message", (d) => answers.push(String(d)));
    ws!.send(first);
    await eventually("the first push answered", async () => answers.length === 1);
    expect(answers[0]).toMatch(/^[A-Za-z0-9_-]{43}\.1\.\{"a":\{"version":1,"lastSeq":1,"membersRev":0\}\}$/);
    ws!.send(first);
    expect(await closed(ws!)).toBe(1008);
    expect(answers).toHaveLength(1);
    // Only the frame sealed with the channel's key, in order, of its room was taken.
    await new Promise((r) => setTimeout(r, 300));
    expect(filesContaining(cluster.nodes.shanghai.dataDir, Buffer.from(`taken-${stamp}`)).length).toBeGreaterThan(0);
    for (const text of refused) expect(filesContaining(cluster.nodes.shanghai.dataDir, Buffer.from(text)), text).toEqual([]);
  }, 60_000);

  it("carries the room to every node once and in order, through a cut, with no push request", async () => {
    const sh = await roomWs(`${cluster.nodes.shanghai.wsUrl}/api/v1/rooms/${encodeURIComponent(roomId)}/socket`, people.chenmei.token);
    const sz = await roomWs(`${cluster.nodes.shenzhen.wsUrl}/api/v1/rooms/${encodeURIComponent(roomId)}/socket`, people.zhaolei.token);
    await sh.next("hello");
    await sz.next("hello");
    const say = async (i: number) => {
      const r = await callNode(cluster, "beijing", people.liwei.token, "POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { clientId: `c-${i}`, text: `channel ${i}` });
      expect(r.status).toBe(201);
    };
    for (let i = 0; i < 40; i++) await say(i);
    await cluster.cut("beijing", "shanghai");
    for (let i = 40; i < 80; i++) await say(i);
    await cluster.heal("beijing", "shanghai");
    for (let i = 80; i < 100; i++) await say(i);
    for (const ws of [sh, sz]) {
      const texts: string[] = [];
      while (texts.length < 100) {
        const f = await ws.next("msg.new", 30_000);
        texts.push(f.message.text);
      }
      expect(texts).toEqual(Array.from({ length: 100 }, (_, i) => `channel ${i}`));
    }
    // History on each node: each message once.
    for (const [node, who] of [["shanghai", "chenmei"], ["shenzhen", "zhaolei"]] as const) {
      const page = await callNode(cluster, node, people[who].token, "GET", `/rooms/${encodeURIComponent(roomId)}/messages?limit=100`);
      const texts = (page.body.messages as { text: string }[]).map((m) => m.text).filter((t) => t.startsWith("channel "));
      expect(texts).toHaveLength(100);
      expect(new Set(texts).size).toBe(100);
    }
    // No push went as a request: the metrics of both nodes count channel upgrades only.
    for (const node of ["shanghai", "shenzhen"]) {
      const scrape = await (await fetch(`${cluster.nodes[node].url}/metrics`, { headers: { authorization: `Bearer ${admin[node]}` } })).text();
      expect(scrape).toMatch(/outpost_http_requests_total\{method="GET",route="\/link\/v1\/rooms\/:id\/stream",status="101"\} [1-9]/);
      expect(scrape).not.toMatch(/route="\/link\/v1\/rooms\/:id\/push"/);
    }
    await sh.close();
    await sz.close();
  }, 90_000);
  it("outlives the mirror's hibernation: the next push after 15 s idle wakes it on the same channel", async () => {
    const scrape = async () => (await (await fetch(`${cluster.nodes.shanghai.url}/metrics`, { headers: { authorization: `Bearer ${admin.shanghai}` } })).text()).split("\n").find((l) => l.startsWith('outpost_http_requests_total{method="GET",route="/link/v1/rooms/:id/stream",status="101"} '));
    const sh = await roomWs(`${cluster.nodes.shanghai.wsUrl}/api/v1/rooms/${encodeURIComponent(roomId)}/socket`, people.chenmei.token);
    await sh.next("hello");
    const say = async (text: string) => expect((await callNode(cluster, "beijing", people.liwei.token, "POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { clientId: `nap-${text.length}-${Date.now()}`, text })).status).toBe(201);
    await say("before the nap");
    expect((await sh.next("msg.new", 10_000)).message.text).toBe("before the nap");
    const channels = await scrape();
    // workerd evicts an idle object after ~10 s (test/e2e/hibernation.test.ts); the channel idles out only after 30 s.
    await new Promise((r) => setTimeout(r, 15_000));
    await say("after the nap");
    expect((await sh.next("msg.new", 10_000)).message.text).toBe("after the nap");
    // The woken mirror took the push on the socket it already had (its secret and count came back from the attachment).
    expect(await scrape()).toBe(channels);
    await sh.close();
  }, 60_000);
});

describe("a node that takes no channels", () => {
  // Shanghai's own file turns channels off (ops/cluster.mjs `channels: false`): it answers the
  // upgrade as a node older than channels does (404), and Beijing's file does not know it.
  let two: TestCluster;
  afterAll(async () => {
    await two?.stop();
  });

  it("gets the room's pushes as requests, every message once and in order", async () => {
    two = await startCluster(["beijing", "shanghai"], { adminPassword: PASSWORD, noChannels: [{ at: "shanghai", node: "shanghai" }] });
    const adm: Record<string, string> = {};
    for (const n of two.names) adm[n] = await loginAs(two.nodes[n].url, "admin", PASSWORD);
    const made: Record<string, { id: string; token: string }> = {};
    for (const [who, node] of [["liwei", "beijing"], ["chenmei", "shanghai"]]) {
      const r = await callNode(two, node, adm[node], "POST", "/users", { username: who, password: USER_PASSWORD, displayName: who });
      made[who] = { id: r.body.id, token: await loginAs(two.nodes[node].url, who, USER_PASSWORD) };
    }
    await eventually("beijing knows chenmei", async () => (await callNode(two, "beijing", adm.beijing, "GET", `/users/${encodeURIComponent(made.chenmei.id)}`)).status === 200, 20_000);
    const room = (await callNode(two, "beijing", made.liwei.token, "POST", "/rooms", { name: "Old", visibility: "private", members: [made.chenmei.id] })).body.id as string;
    await eventually("chenmei can open the room", async () => (await callNode(two, "shanghai", made.chenmei.token, "GET", `/rooms/${encodeURIComponent(room)}`)).status === 200);
    const ws = await roomWs(`${two.nodes.shanghai.wsUrl}/api/v1/rooms/${encodeURIComponent(room)}/socket`, made.chenmei.token);
    await ws.next("hello");
    for (let i = 0; i < 30; i++) expect((await callNode(two, "beijing", made.liwei.token, "POST", `/rooms/${encodeURIComponent(room)}/messages`, { clientId: `o-${i}`, text: `old ${i}` })).status).toBe(201);
    const texts: string[] = [];
    while (texts.length < 30) texts.push((await ws.next("msg.new", 20_000)).message.text);
    expect(texts).toEqual(Array.from({ length: 30 }, (_, i) => `old ${i}`));
    const scrape = await (await fetch(`${two.nodes.shanghai.url}/metrics`, { headers: { authorization: `Bearer ${adm.shanghai}` } })).text();
    const count = (labels: string) => Number(scrape.split("\n").find((l) => l.startsWith(`outpost_http_requests_total${labels} `))?.split(" ")[1] ?? 0);
    expect(count('{method="GET",route="/link/v1/rooms/:id/stream",status="404"}')).toBeGreaterThan(0);
    expect(count('{method="GET",route="/link/v1/rooms/:id/stream",status="101"}')).toBe(0);
    expect(count('{method="POST",route="/link/v1/rooms/:id/push",status="200"}')).toBeGreaterThan(0);
    // Beijing says why it pushes as requests, once per try (every 10 minutes), not per push.
    const refusals = two.nodes.beijing
      .stdout()
      .split("\n")
      .filter((l) => l.includes('"room.channel_refused"'))
      .map((l) => JSON.parse(l) as { peer: string; status: number });
    expect(refusals).toEqual([expect.objectContaining({ peer: "shanghai", status: 404 })]);
    await ws.close();
  }, 90_000);
});
