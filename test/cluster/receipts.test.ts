/**
 * Read positions across nodes: a push carries only the positions that moved
 * since what that node confirmed, and a mirror announces only those. Every
 * push used to carry every member's position and each mirror socket got a
 * `receipt` event per member per push — 17–22 per chat message in the bench,
 * with nobody reading anything.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs } from "../harness";
import { makeUser, roomWs, type TestUser } from "../e2e/client";
import { startCluster, type TestCluster } from "./cluster-harness";
import { callNode, eventually } from "./cluster-client";

const PASSWORD = "cluster operator passphrase";
let cluster: TestCluster;
const people: Record<string, TestUser[]> = {};

beforeAll(async () => {
  cluster = await startCluster(["beijing", "shanghai"], { adminPassword: PASSWORD, limits: { messagesPerSecondPerUser: 0 } });
  for (const node of cluster.names) {
    const admin = await loginAs(cluster.nodes[node].url, "admin", PASSWORD);
    people[node] = [];
    for (let i = 0; i < 4; i++) people[node].push(await makeUser(cluster.nodes[node].url, admin, `${node.slice(0, 2)}${i}`));
  }
  const admin = await loginAs(cluster.nodes.beijing.url, "admin", PASSWORD);
  await eventually("beijing knows shanghai's people", async () => (await callNode(cluster, "beijing", admin, "GET", "/users?q=")).body?.users?.length >= 10, 20_000);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

describe("read positions across nodes", () => {
  it("reach a mirror socket as one receipt per read, none while nobody reads", async () => {
    const [owner, ...rest] = people.beijing;
    const made = await callNode(cluster, "beijing", owner.token, "POST", "/rooms", { name: "receipts", visibility: "private", members: [...rest, ...people.shanghai].map((p) => p.id) });
    expect(made.status).toBe(201);
    const roomId: string = made.body.id;
    const path = `/rooms/${encodeURIComponent(roomId)}`;
    const viewer = people.shanghai[0];
    await eventually("shanghai has the room", async () => (await callNode(cluster, "shanghai", viewer.token, "GET", path)).status === 200);
    const ws = await roomWs(`${cluster.nodes.shanghai.wsUrl}/api/v1${path}/socket`, viewer.token);
    await ws.next("hello");

    // Twenty messages, one at a time (each its own push), and nobody reads.
    for (let i = 1; i <= 20; i++) {
      expect((await callNode(cluster, "beijing", owner.token, "POST", `${path}/messages`, { clientId: `m${i}`, text: `message ${i}` })).status).toBe(201);
      await ws.next("msg.new", (f) => f.message.clientId === `m${i}`, 10_000);
    }
    const receipts = () => ws.frames.filter((f) => f.type === "receipt");
    expect(receipts()).toEqual([]);

    // One member reads: one receipt, then nothing more however many pushes follow.
    expect((await callNode(cluster, "beijing", rest[0].token, "POST", `${path}/read`, { seq: 20 })).status).toBe(200);
    expect(await ws.next("receipt", () => true, 10_000)).toMatchObject({ type: "receipt", userId: rest[0].id, seq: 20 });
    for (let i = 21; i <= 25; i++) {
      expect((await callNode(cluster, "beijing", owner.token, "POST", `${path}/messages`, { clientId: `m${i}`, text: `message ${i}` })).status).toBe(201);
      await ws.next("msg.new", (f) => f.message.clientId === `m${i}`, 10_000);
    }
    expect(receipts()).toEqual([{ type: "receipt", userId: rest[0].id, seq: 20 }]);
    // The mirror holds the position for REST too.
    const held = await callNode(cluster, "shanghai", viewer.token, "GET", `${path}/receipts`);
    expect(held.status).toBe(200);
    expect(held.body.receipts).toContainEqual({ userId: rest[0].id, seq: 20 });
    await ws.close();
  }, 60_000);
});
