/**
 * A mirror that writes its home's pushes together (mirror/link-socket.ts, the
 * `mirrorWriteDelayMs` limit), here with a delay of seconds so that what
 * happens meanwhile can be seen, on two real nodes: the mirror's members are
 * told at once; a read of the copy meanwhile has everything they were told;
 * the home gets one answer for the pushes written together, only once they
 * are on disk — because it asked for that (`acks=batch`, homes since
 * batching); a home that did not ask (an older version) is answered push by
 * push, at once, as before.
 */
import type WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs } from "../harness";
import { roomWs } from "../e2e/client";
import { sealFrame } from "../../durable-objects/shared/link-channel";
import { startCluster, type TestCluster } from "./cluster-harness";
import { callNode, eventually } from "./cluster-client";
import { filesContaining } from "./data-files";
import { openChannel, pushOf } from "./fake-home";

const PASSWORD = "cluster operator passphrase";
const USER_PASSWORD = "a long enough passphrase";
const DELAY_MS = 3000; // the most a node allows (the home gives up on an answer after 4 s)
let cluster: TestCluster;
const people: Record<string, { id: string; token: string }> = {};
let roomId = "";

beforeAll(async () => {
  cluster = await startCluster(["beijing", "shanghai"], { adminPassword: PASSWORD, limits: { mirrorWriteDelayMs: DELAY_MS } });
  for (const [who, node] of [["liwei", "beijing"], ["chenmei", "shanghai"]]) {
    const admin = await loginAs(cluster.nodes[node].url, "admin", PASSWORD);
    const made = await callNode(cluster, node, admin, "POST", "/users", { username: who, password: USER_PASSWORD, displayName: who });
    people[who] = { id: made.body.id, token: await loginAs(cluster.nodes[node].url, who, USER_PASSWORD) };
  }
  await eventually("beijing knows chenmei", async () => (await callNode(cluster, "beijing", people.liwei.token, "GET", `/users/${encodeURIComponent(people.chenmei.id)}`)).status === 200, 20_000);
  roomId = (await callNode(cluster, "beijing", people.liwei.token, "POST", "/rooms", { name: "Together", visibility: "private", members: [people.chenmei.id] })).body.id;
  await eventually("chenmei can open the room", async () => (await callNode(cluster, "shanghai", people.chenmei.token, "GET", `/rooms/${encodeURIComponent(roomId)}`)).status === 200);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

/** Answers on a channel as they come: [number, payload]. */
function answersOf(ws: WebSocket): [number, string][] {
  const got: [number, string][] = [];
  ws.on("message", (d) => {
    const [, n, ...rest] = String(d).split(".");
    got.push([Number(n), rest.join(".")]);
  });
  return got;
}

describe("a mirror that writes pushes together", () => {
  it("tells its members at once, and a read of the copy meanwhile has all they were told", async () => {
    const history = async () => (await callNode(cluster, "shanghai", people.chenmei.token, "GET", `/rooms/${encodeURIComponent(roomId)}/messages?limit=100`)).body.messages as { text: string }[];
    const ws = await roomWs(`${cluster.nodes.shanghai.wsUrl}/api/v1/rooms/${encodeURIComponent(roomId)}/socket`, people.chenmei.token);
    await ws.next("hello");
    await history(); // whatever waited since the room's first push is written now: the delay starts afresh below
    const started = Date.now();
    for (let i = 0; i < 10; i++) expect((await callNode(cluster, "beijing", people.liwei.token, "POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { clientId: `t-${i}`, text: `together ${i}` })).status).toBe(201);
    const told: string[] = [];
    while (told.length < 10) told.push((await ws.next("msg.new", 10_000)).message.text);
    expect(told).toEqual(Array.from({ length: 10 }, (_, i) => `together ${i}`));
    // Read well within the delay (nothing would be written yet without the read): the copy has them all, once, in order.
    const texts = (await history()).map((m) => m.text).filter((t) => t.startsWith("together "));
    expect(Date.now() - started).toBeLessThan(DELAY_MS - 500);
    expect(texts).toEqual(told);
    await ws.close();
  }, 60_000);

  it("answers a home that asked once for the pushes written together, after they are on disk", async () => {
    const stamp = Date.now();
    const room = "r_4444444444444444@beijing"; // Beijing may push any id of its own; the test's room stays clean
    const { ws, key, batched } = await openChannel(cluster, "shanghai", room, "beijing", { batch: true });
    expect(batched).toBe(true);
    const answers = answersOf(ws!);
    const started = Date.now();
    for (let n = 1; n <= 5; n++) ws!.send(await sealFrame(key!, "push", n, pushOf(room, n, `batched-${n}-${stamp}`, { createdBy: people.liwei.id, stamp })));
    await new Promise((r) => setTimeout(r, DELAY_MS / 2));
    // Taken, not yet written, not yet answered.
    expect(answers).toEqual([]);
    for (let n = 1; n <= 5; n++) expect(filesContaining(cluster.nodes.shanghai.dataDir, Buffer.from(`batched-${n}-${stamp}`))).toEqual([]);
    await eventually("the answer", async () => answers.length > 0, DELAY_MS * 2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(DELAY_MS - 500);
    // One answer, naming the last push, with the positions all five reach.
    expect(answers).toEqual([[5, JSON.stringify({ a: { version: 5, lastSeq: 5, membersRev: 0 } })]]);
    for (let n = 1; n <= 5; n++) expect(filesContaining(cluster.nodes.shanghai.dataDir, Buffer.from(`batched-${n}-${stamp}`)).length).toBeGreaterThan(0);
    ws!.close();
  }, 60_000);

  it("answers a home that did not ask push by push, at once", async () => {
    const stamp = Date.now();
    const room = "r_5555555555555555@beijing";
    const { ws, key, batched } = await openChannel(cluster, "shanghai", room, "beijing");
    expect(batched).toBe(false);
    const answers = answersOf(ws!);
    const started = Date.now();
    for (let n = 1; n <= 3; n++) ws!.send(await sealFrame(key!, "push", n, pushOf(room, n, `each-${n}-${stamp}`, { createdBy: people.liwei.id, stamp })));
    await eventually("three answers", async () => answers.length === 3, DELAY_MS);
    expect(Date.now() - started).toBeLessThan(DELAY_MS / 2);
    expect(answers.map(([n]) => n)).toEqual([1, 2, 3]);
    expect(JSON.parse(answers[2][1])).toEqual({ a: { version: 3, lastSeq: 3, membersRev: 0 } });
    ws!.close();
  }, 60_000);
});
