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

  it("queues sends across a cut link and delivers them once, in order, when it returns", async () => {
    await cluster.cut("beijing", "shanghai");
    await eventually("shanghai sees beijing down", async () => (await as("chenmei").call("GET", "/cluster")).body.nodes.find((n: { node: string }) => n.node === "beijing").state === "down");
    const queued = [];
    for (let i = 1; i <= 20; i++) {
      const r = await as("chenmei").call("POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { clientId: `cut-${i}`, text: `during the cut ${i}` });
      queued.push(r);
    }
    expect(queued.map((r) => r.status)).toEqual(Array(20).fill(202));
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
