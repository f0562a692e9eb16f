/**
 * Rooms that span branches, on three real nodes. A room homed in Beijing with
 * members in Shanghai and Shenzhen: each member uses only their own node, with
 * the room's id; messages reach everyone in the room's one order; history on
 * every node is the home's. A cut link: the other side's sends are queued
 * (202 / msg.queued) and delivered exactly once, in order, when it returns,
 * while the home keeps chatting at full speed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs } from "../harness";
import { roomWs, type RoomWs } from "../e2e/client";
import { startCluster, type TestCluster } from "./cluster-harness";
import { callNode, eventually } from "./cluster-client";

const PASSWORD = "cluster operator passphrase";
const USER_PASSWORD = "a long enough passphrase";
let cluster: TestCluster;
const admin: Record<string, string> = {};
const people: Record<string, { id: string; node: string; token: string }> = {};
let roomId: string;

const call = (node: string, token: string, method: string, path: string, body?: unknown) => callNode(cluster, node, token, method, path, body);


const as = (who: string) => ({
  call: (method: string, path: string, body?: unknown) => call(people[who].node, people[who].token, method, path, body),
  socket: async (): Promise<RoomWs> => {
    const ws = await roomWs(`${cluster.nodes[people[who].node].wsUrl}/api/v1/rooms/${encodeURIComponent(roomId)}/socket`, people[who].token);
    await ws.next("hello", 10_000);
    return ws;
  },
});

async function texts(who: string): Promise<string[]> {
  const all: string[] = [];
  let after = 0;
  for (;;) {
    const page = await as(who).call("GET", `/rooms/${encodeURIComponent(roomId)}/messages?after=${after}&limit=100`);
    expect(page.status).toBe(200);
    all.push(...page.body.messages.map((m: { seq: number; text: string }) => `${m.seq}:${m.text}`));
    if (!page.body.hasMore || page.body.messages.length === 0) return all;
    after = page.body.messages[page.body.messages.length - 1].seq;
  }
}

beforeAll(async () => {
  cluster = await startCluster(["beijing", "shanghai", "shenzhen"], { adminPassword: PASSWORD });
  for (const n of cluster.names) admin[n] = await loginAs(cluster.nodes[n].url, "admin", PASSWORD);
  for (const [who, node] of [["liwei", "beijing"], ["chenmei", "shanghai"], ["zhaolei", "shenzhen"]]) {
    const made = await call(node, admin[node], "POST", "/users", { username: who, password: USER_PASSWORD, displayName: who });
    expect(made.status).toBe(201);
    people[who] = { id: made.body.id, node, token: await loginAs(cluster.nodes[node].url, who, USER_PASSWORD) };
  }
  // Beijing knows the other branches' people before inviting them.
  await eventually("beijing knows everyone", async () => (await call("beijing", admin.beijing, "GET", `/users/${people.zhaolei.id}`)).status === 200 && (await call("beijing", admin.beijing, "GET", `/users/${people.chenmei.id}`)).status === 200);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

describe("a room across three branches", () => {
  it("is created in Beijing and reaches each member's own node", async () => {
    const made = await as("liwei").call("POST", "/rooms", { name: "季度报表 Q3", visibility: "private", members: [people.chenmei.id, people.zhaolei.id] });
    expect(made.status).toBe(201);
    roomId = made.body.id;
    expect(roomId).toMatch(/@beijing$/);
    for (const who of ["chenmei", "zhaolei"]) {
      await eventually(`${who} sees the room in their inbox`, async () => (await as(who).call("GET", "/me/rooms")).body.rooms.some((r: { roomId: string }) => r.roomId === roomId));
      await eventually(`${who} can open it on their node`, async () => (await as(who).call("GET", `/rooms/${encodeURIComponent(roomId)}`)).status === 200);
    }
    const info = await as("chenmei").call("GET", `/rooms/${encodeURIComponent(roomId)}/members`);
    expect(info.body.members.map((m: { userId: string }) => m.userId).sort()).toEqual([people.liwei.id, people.chenmei.id, people.zhaolei.id].sort());
  });

  it("carries messages both ways, live and in the room's one order", async () => {
    const sockets = { liwei: await as("liwei").socket(), chenmei: await as("chenmei").socket(), zhaolei: await as("zhaolei").socket() };
    sockets.liwei.send({ type: "msg.send", clientId: "bj-1", text: "早上好，上海" });
    const ack1 = await sockets.liwei.next("msg.ack");
    for (const ws of [sockets.chenmei, sockets.zhaolei]) expect((await ws.next("msg.new", (f) => f.message.clientId === "bj-1", 10_000)).message.seq).toBe(ack1.seq);
    sockets.chenmei.send({ type: "msg.send", clientId: "sh-1", text: "收到 from Shanghai" });
    const ack2 = await sockets.chenmei.next("msg.ack", 10_000);
    expect(ack2.seq).toBe(ack1.seq + 1);
    for (const ws of [sockets.liwei, sockets.zhaolei]) expect((await ws.next("msg.new", (f) => f.message.clientId === "sh-1", 10_000)).message.text).toBe("收到 from Shanghai");
    for (const ws of Object.values(sockets)) await ws.close();
    const home = await texts("liwei");
    expect(home).toEqual(["1:早上好，上海", "2:收到 from Shanghai"]);
    for (const who of ["chenmei", "zhaolei"]) await eventually(`${who}'s history equals the home's`, async () => JSON.stringify(await texts(who)) === JSON.stringify(home));
  });

  it("lets a member on another node do everything a local member does", async () => {
    const id = encodeURIComponent(roomId);
    const [sh, bj] = [await as("chenmei").socket(), await as("liwei").socket()];
    // A mention of someone on another node, by username, counts there.
    const sent = await as("liwei").call("POST", `/rooms/${id}/messages`, { clientId: "mention-1", text: "@chenmei 请看 A301会议室 的安排" });
    expect(sent.status).toBe(201);
    expect(sent.body.mentions.users).toEqual([people.chenmei.id]);
    await eventually("a mention in Shanghai's inbox", async () => (await as("chenmei").call("GET", "/me/rooms")).body.rooms.find((r: { roomId: string }) => r.roomId === roomId)?.mentions >= 1);
    const msg = await sh.next("msg.new", (f) => f.message.clientId === "mention-1", 10_000);
    // Edit and react from Shanghai: decided at the home, seen everywhere.
    const mine = await as("chenmei").call("POST", `/rooms/${id}/messages`, { clientId: "to-edit", text: "draft" });
    expect(mine.status).toBe(201);
    const edited = await as("chenmei").call("PATCH", `/rooms/${id}/messages/${mine.body.id}`, { text: "final version" });
    expect(edited.status).toBe(200);
    expect((await bj.next("msg.updated", (f) => f.message.id === mine.body.id && f.message.text === "final version", 10_000)).message.editedAt).not.toBeNull();
    const reacted = await as("chenmei").call("POST", `/rooms/${id}/messages/${msg.message.id}/reactions`, { emoji: "👍" });
    expect(reacted.body.reactions).toEqual([{ emoji: "👍", users: [people.chenmei.id] }]);
    await bj.next("msg.updated", (f) => f.message.id === msg.message.id && f.message.reactions.length === 1, 10_000);
    // Editing someone else's message is refused at the home, as for anyone.
    expect((await as("chenmei").call("PATCH", `/rooms/${id}/messages/${msg.message.id}`, { text: "not mine" })).body.error.code).toBe("forbidden");
    // Typing and reading travel too.
    sh.send({ type: "typing" });
    expect((await bj.next("typing", 10_000)).userId).toBe(people.chenmei.id);
    sh.send({ type: "read", seq: mine.body.seq, reqId: "r1" });
    expect((await bj.next("receipt", (f) => f.userId === people.chenmei.id, 10_000)).seq).toBe(mine.body.seq);
    await eventually("her unread count back to 0", async () => (await as("chenmei").call("GET", "/me/rooms")).body.rooms.find((r: { roomId: string }) => r.roomId === roomId)?.unread === 0);
    // Search on her own node finds the room's messages in her mirror.
    const found = await as("chenmei").call("GET", `/search?q=${encodeURIComponent("会议室")}`);
    expect(found.body.hits.map((h: { message: { clientId: string } }) => h.message.clientId)).toContain("mention-1");
    for (const ws of [sh, bj]) await ws.close();
  }, 60_000);

  it("opens one DM per pair across nodes, and takes later invitations", async () => {
    const dm = await as("chenmei").call("POST", "/dms", { userId: people.zhaolei.id });
    expect(dm.status).toBe(201);
    expect(dm.body.id).toMatch(/@shanghai$/);
    await eventually("Shenzhen has the DM", async () => (await as("zhaolei").call("GET", `/rooms/${encodeURIComponent(dm.body.id)}`)).status === 200);
    // Opened from the other side, on the other node: the same room, not a second one.
    const again = await as("zhaolei").call("POST", "/dms", { userId: people.chenmei.id });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(dm.body.id);
    // A room of Shenzhen's with nobody from Beijing yet; Beijing's person is invited later.
    const room = await as("zhaolei").call("POST", "/rooms", { name: "深圳项目", visibility: "private" });
    const invited = await as("zhaolei").call("POST", `/rooms/${encodeURIComponent(room.body.id)}/members`, { userId: people.liwei.id });
    expect(invited.status).toBe(200);
    await eventually("Beijing's person can open it on Beijing's node", async () => (await as("liwei").call("GET", `/rooms/${encodeURIComponent(room.body.id)}`)).status === 200);
    expect((await as("liwei").call("POST", `/rooms/${encodeURIComponent(room.body.id)}/messages`, { clientId: "hello-sz", text: "你好，深圳" })).status).toBe(201);
  }, 60_000);

  it("queues sends across a cut link and delivers them once, in order, when it returns", async () => {
    await cluster.cut("beijing", "shanghai");
    await eventually("shanghai sees beijing down", async () => (await as("chenmei").call("GET", "/cluster")).body.nodes.find((n: { node: string }) => n.node === "beijing").state === "down");
    const queued = [];
    for (let i = 1; i <= 20; i++) {
      const r = await as("chenmei").call("POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { clientId: `cut-${i}`, text: `during the cut ${i}` });
      queued.push(r);
    }
    expect(queued.map((r) => r.status)).toEqual(Array(20).fill(202));
    // Reads answer at once from the copy, flagged stale, with when it last heard from the home.
    const copy = await as("chenmei").call("GET", `/rooms/${encodeURIComponent(roomId)}/messages`);
    expect(copy.status).toBe(200);
    expect(copy.body.stale).toBe(true);
    expect(copy.body.syncedAt).toBeLessThanOrEqual(Date.now());
    expect(queued[0].body).toEqual({ queued: true, clientId: "cut-1" });
    // The home keeps chatting meanwhile.
    for (let i = 1; i <= 5; i++) expect((await as("liwei").call("POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { clientId: `home-${i}`, text: `home ${i}` })).status).toBe(201);
    // A repeat of a queued send is not queued twice.
    expect((await as("chenmei").call("POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { clientId: "cut-3", text: "during the cut 3" })).status).toBe(202);
    const healedAt = Date.now();
    await cluster.heal("beijing", "shanghai");
    await eventually("all 20 queued messages at the home", async () => (await texts("liwei")).filter((t) => t.includes("during the cut")).length === 20, 15_000);
    const deliveredIn = Date.now() - healedAt;
    const home = await texts("liwei");
    const cut = home.filter((t) => t.includes("during the cut")).map((t) => t.split(":")[1]);
    expect(cut).toEqual(Array.from({ length: 20 }, (_, i) => `during the cut ${i + 1}`));
    expect(new Set(home.map((t) => t.split(":")[0])).size).toBe(home.length);
    for (const who of ["chenmei", "zhaolei"]) await eventually(`${who}'s history equals the home's`, async () => JSON.stringify(await texts(who)) === JSON.stringify(home), 15_000);
    console.log(`20 queued sends delivered ${deliveredIn} ms after the link returned`);
  }, 90_000);
});
