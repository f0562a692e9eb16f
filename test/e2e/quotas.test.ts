/**
 * Per-user quotas on real `workerd serve` nodes, configured as an operator
 * would (`limits` in the node description):
 *   - one message budget per user across all their rooms and both paths: the
 *     budget lives in module state shared by every room object, which holds
 *     only because self-hosted workerd runs all objects in one isolate — this
 *     file is where that is checked;
 *   - the sustained rate, REST 429s, the SDK's send queue waiting as told;
 *   - the room quota (group rooms, not DMs; admins exempt);
 *   - 0 turns every quota off.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { loginAs, startNode, type FrameOf, type OutpostNode } from "../harness";
import { api, expectValidFrames, fullHistory, makeRoom, makeUser, roomSocket, sleep, type RoomSocketFrame, type RoomWs, type TestUser } from "./client";
import { OutpostClient } from "../../sdk/rest";
import { RoomSocket } from "../../sdk/room-socket";
import { SendQueue } from "../../sdk/send-queue";
import { socketOrRestTransport } from "../../sdk/transport";
import type { WebSocketConstructor } from "../../sdk/socket";
import type { InboxRoom } from "../../protocol/device";
import type { PublicRoom } from "../../protocol/rest";

const PASSWORD = "quota operator passphrase";
const RATE = 10;
const BURST = 20;
const ROOMS_PER_DAY = 3;

let limited: OutpostNode;
let unlimited: OutpostNode;
let admin: string;
let users = 0;

beforeAll(async () => {
  [limited, unlimited] = await Promise.all([
    startNode({ adminPassword: PASSWORD, limits: { messagesPerSecondPerUser: RATE, messageBurstPerUser: BURST, roomsPerUserPerDay: ROOMS_PER_DAY } }),
    startNode({ adminPassword: PASSWORD, limits: { messagesPerSecondPerUser: 0, messageBurstPerUser: 0, roomsPerUserPerDay: 0 } }),
  ]);
  admin = await loginAs(limited.url, "admin", PASSWORD);
}, 120_000);

afterAll(async () => {
  await Promise.all([limited?.stop(), unlimited?.stop()]);
});

const person = (node = limited, token = admin) => makeUser(node.url, token, `q${Date.now().toString(36)}${users++}`);

/** Send every clientId as msg.send at once; each one's answer (msg.ack or error), by clientId. */
type Answer = FrameOf<RoomSocketFrame, "msg.ack" | "error">;
async function flood(ws: RoomWs, ids: string[], text = "flood") {
  for (const clientId of ids) ws.send({ type: "msg.send", clientId, text: `${text} ${clientId}` });
  const answers = new Map<string, Answer>();
  for (const clientId of ids) {
    answers.set(clientId, await ws.next((f): f is Answer => (f.type === "msg.ack" && f.clientId === clientId) || (f.type === "error" && f.replyTo === clientId), 20_000));
  }
  return answers;
}

const acked = (answers: Map<string, Answer>) => [...answers].filter(([, f]) => f.type === "msg.ack").map(([id]) => id);
const refused = (answers: Map<string, Answer>) => [...answers].flatMap(([id, f]) => (f.type === "error" ? [{ id, f }] : []));

describe("the message budget on a node", () => {
  it("is one budget per user across all their rooms and both paths (all room objects share the isolate)", async () => {
    const u = await person();
    const v = await person();
    // Rooms made by the admin, so the room quota plays no part.
    const one = await makeRoom(limited.url, admin, "one", [u.id, v.id]);
    const two = await makeRoom(limited.url, admin, "two", [u.id, v.id]);
    const s1 = (await roomSocket(limited.wsUrl, u.token, one.id)).ws;
    const s2 = (await roomSocket(limited.wsUrl, u.token, two.id)).ws;
    // The whole burst in room one…
    const first = await flood(s1, Array.from({ length: BURST }, (_, i) => `one-${i}`));
    expect(acked(first)).toHaveLength(BURST);
    // …leaves (almost) nothing for room two: a separate room object, the same budget.
    const second = await flood(s2, Array.from({ length: 6 }, (_, i) => `two-${i}`));
    expect(refused(second).length).toBeGreaterThanOrEqual(4);
    for (const { id, f } of refused(second)) {
      expect(f).toMatchObject({ code: "rate_limited", replyTo: id });
      expect(f.retryAfterMs).toBeGreaterThan(0);
      expect(f.retryAfterMs).toBeLessThanOrEqual(1000 / RATE);
    }
    // REST into room two draws on it too.
    const rest = await Promise.all(
      Array.from({ length: 4 }, (_, i) => api(limited.url, "POST", `/api/v1/rooms/${encodeURIComponent(two.id)}/messages`, { token: u.token, body: { text: "rest", clientId: `rest-${i}` } })),
    );
    expect(rest.some((r) => r.status === 429)).toBe(true);
    // Another person in the same room has a budget of their own.
    const sv = (await roomSocket(limited.wsUrl, v.token, two.id)).ws;
    expect(acked(await flood(sv, Array.from({ length: 10 }, (_, i) => `v-${i}`)))).toHaveLength(10);
    // Room two holds exactly what was acknowledged, seqs without gaps.
    const stored = await fullHistory(limited.url, u.token, two.id);
    const storedU = stored.filter((m) => m.senderId === u.id).map((m) => m.clientId).sort();
    expect(storedU).toEqual([...acked(second), ...rest.filter((r) => r.status === 201).map((r) => r.body.clientId)].sort());
    expect(stored.map((m) => m.seq)).toEqual(stored.map((_, i) => i + 1));
    for (const ws of [s1, s2, sv]) {
      expectValidFrames(ws, "room");
      await ws.close();
    }
  });

  it("lets a user through at the configured rate once the burst is spent", async () => {
    const u = await person();
    const room = await makeRoom(limited.url, admin, "steady", [u.id]);
    const { ws } = await roomSocket(limited.wsUrl, u.token, room.id);
    await flood(ws, Array.from({ length: BURST + 5 }, (_, i) => `b-${i}`));
    // Four times the allowed rate for 4 seconds.
    const SECONDS = 4;
    const ids: string[] = [];
    const started = Date.now();
    for (let i = 0; Date.now() - started < SECONDS * 1000; i++) {
      ids.push(`s-${i}`);
      ws.send({ type: "msg.send", clientId: `s-${i}`, text: `steady ${i}` });
      await sleep(1000 / (RATE * 4));
    }
    const answers = new Map<string, any>();
    for (const id of ids) answers.set(id, await ws.next((f) => (f.type === "msg.ack" && f.clientId === id) || (f.type === "error" && f.replyTo === id), 10_000));
    const elapsed = (Date.now() - started) / 1000;
    const stored = acked(answers).length;
    console.log(`sustained: ${stored} of ${ids.length} sends stored in ${elapsed.toFixed(2)} s at a limit of ${RATE}/s`);
    expect(ids.length).toBeGreaterThan(RATE * SECONDS * 2);
    expect(stored).toBeGreaterThanOrEqual(Math.floor(RATE * SECONDS * 0.85));
    expect(stored).toBeLessThanOrEqual(Math.ceil(RATE * elapsed * 1.15) + 1);
    expect(refused(answers).every(({ f }) => f.code === "rate_limited")).toBe(true);
    await ws.close();
  });

  it("answers a REST flood with 429 rate_limited and Retry-After, storing only what it accepted", async () => {
    const u = await person();
    const room = await makeRoom(limited.url, admin, "rest flood", [u.id]);
    const results = await Promise.all(
      Array.from({ length: 80 }, (_, i) => api(limited.url, "POST", `/api/v1/rooms/${encodeURIComponent(room.id)}/messages`, { token: u.token, body: { text: `r${i}`, clientId: `r-${i}` } })),
    );
    const created = results.filter((r) => r.status === 201);
    const tooFast = results.filter((r) => r.status === 429);
    expect(created.length + tooFast.length).toBe(results.length);
    expect(created.length).toBeGreaterThanOrEqual(BURST);
    expect(tooFast.length).toBeGreaterThan(0);
    for (const r of tooFast) {
      expect(r.headers.get("retry-after")).toBe("1");
      expect(r.body.error.code).toBe("rate_limited");
      expect(r.body.error.retryAfterMs).toBeGreaterThan(0);
      expect(r.body.error.retryAfterMs).toBeLessThanOrEqual(1000 / RATE);
    }
    const stored = await fullHistory(limited.url, u.token, room.id);
    expect(stored.map((m) => m.clientId).sort()).toEqual(created.map((r) => r.body.clientId).sort());
    expect(stored.map((m) => m.seq)).toEqual(stored.map((_, i) => i + 1));
  });

  it("the SDK's send queue waits as told and delivers everything once, in order", async () => {
    const u = await person();
    const room = await makeRoom(limited.url, admin, "sdk", [u.id]);
    const client = new OutpostClient({ baseUrl: limited.url, token: u.token });
    const socket = new RoomSocket(client, room.id, { WebSocket: WebSocket as unknown as WebSocketConstructor, token: u.token }).start();
    const opened = new Promise<void>((resolve) => socket.onState((s) => s === "open" && resolve()));
    await opened;
    // A long backoff: only the node's retryAfterMs can keep this test short.
    const queue = new SendQueue({ storage: null, backoff: { baseMs: 60_000, maxMs: 60_000 }, transport: socketOrRestTransport(client, () => socket) });
    const COUNT = BURST + 25;
    const started = Date.now();
    const sent = Array.from({ length: COUNT }, (_, i) => queue.enqueue(room.id, `queued ${i}`));
    await Promise.all(sent.map((s) => s.done));
    const seconds = (Date.now() - started) / 1000;
    console.log(`SDK queue: ${COUNT} messages in ${seconds.toFixed(2)} s (burst ${BURST}, then ${RATE}/s)`);
    expect(seconds).toBeGreaterThanOrEqual((COUNT - BURST) / RATE - 0.5);
    expect(seconds).toBeLessThan((COUNT - BURST) / RATE + 10);
    const stored = await fullHistory(limited.url, u.token, room.id);
    expect(stored.map((m) => m.text)).toEqual(sent.map((s) => s.message.text));
    expect(stored.map((m) => m.clientId)).toEqual(sent.map((s) => s.message.clientId));
    socket.close();
  });
});

describe("the room quota", () => {
  it(`allows ${ROOMS_PER_DAY} group rooms a day per person, then 429 until the oldest is a day old; DMs do not count, admins are exempt`, async () => {
    const u = await person();
    const peer = await person();
    const tag = `quota${Date.now().toString(36)}`;
    for (let i = 0; i < ROOMS_PER_DAY; i++) await makeRoom(limited.url, u.token, `${tag} ${i}`, [], i % 2 ? "private" : "public");
    const over = await api(limited.url, "POST", "/api/v1/rooms", { token: u.token, body: { name: `${tag} over`, visibility: "public" } });
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe("rate_limited");
    const day = 24 * 3600;
    const retryAfter = Number(over.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(day - 120);
    expect(retryAfter).toBeLessThanOrEqual(day);
    expect(over.body.error.retryAfterMs).toBeGreaterThan((day - 120) * 1000);
    expect(over.body.error.retryAfterMs).toBeLessThanOrEqual(day * 1000);
    // Nothing half-made: the refused room is in no directory.
    const listed = await api(limited.url, "GET", `/api/v1/rooms/public?q=${tag}`, { token: u.token });
    expect(listed.body.rooms.map((r: PublicRoom) => r.name).sort()).toEqual([`${tag} 0`, `${tag} 2`]);
    const mine = await api(limited.url, "GET", "/api/v1/me/rooms", { token: u.token });
    expect(mine.body.rooms.filter((r: InboxRoom) => r.name.startsWith(tag))).toHaveLength(ROOMS_PER_DAY);
    // A direct message is not a group room.
    expect((await api(limited.url, "POST", "/api/v1/dms", { token: u.token, body: { userId: peer.id } })).status).toBe(201);
    // The admin scripts rooms past any quota.
    for (let i = 0; i < ROOMS_PER_DAY + 2; i++) await makeRoom(limited.url, admin, `${tag} admin ${i}`, []);
  });
});

describe("limits of 0", () => {
  it("turn the message budget and the room quota off", async () => {
    const adminUnlimited = await loginAs(unlimited.url, "admin", PASSWORD);
    const u: TestUser = await person(unlimited, adminUnlimited);
    for (let i = 0; i < 8; i++) await makeRoom(unlimited.url, u.token, `free ${i}`, []);
    const room = await makeRoom(unlimited.url, u.token, "free flood", []);
    const { ws } = await roomSocket(unlimited.wsUrl, u.token, room.id);
    const answers = await flood(ws, Array.from({ length: 400 }, (_, i) => `u-${i}`));
    expect(acked(answers)).toHaveLength(400);
    const rest = await Promise.all(
      Array.from({ length: 50 }, (_, i) => api(unlimited.url, "POST", `/api/v1/rooms/${encodeURIComponent(room.id)}/messages`, { token: u.token, body: { text: "x", clientId: `ur-${i}` } })),
    );
    expect(rest.map((r) => r.status)).toEqual(rest.map(() => 201));
    await ws.close();
  });
});
