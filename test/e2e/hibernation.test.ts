/**
 * Hibernation against a real `workerd serve`: workerd evicts an idle Durable
 * Object after ~10 s while its hibernatable WebSockets stay connected, and
 * rebuilds it (constructor, SQLite, socket attachments and tags) on the next
 * event. Everything the product does with sockets must still work on a
 * rebuilt object: broadcast, inbox updates, closing a removed member's
 * sockets, closing a revoked session's sockets.
 *
 * Each check below wakes different objects (disjoint rooms and users), so each
 * one meets an object that was evicted, not one an earlier check woke up.
 * The sockets send nothing while idle (the `ws` client sends no pings unless
 * asked, and the server sends none), so nothing keeps the objects in memory.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OutpostNode } from "../harness";
import { api, deviceSocket, deviceWs, expectValidFrames, ok, roomSocket, roomWs, sleep, type DeviceWs, type RoomWs, type TestUser } from "./client";
import { withNode } from "../fixtures";
import type { InboxRoom } from "../../protocol/device";

/** workerd evicts after ~10 s idle; stay idle comfortably longer. */
const IDLE_MS = 15000;

let node: OutpostNode;
let ann: TestUser; // owner of every room
let bea: TestUser; // gets the message, has a device socket
let cal: TestUser; // removed from his room after hibernation
let dev: TestUser; // signs out after hibernation

let chat: string; // ann + bea
let removal: string; // ann + cal
let revoke: string; // ann + dev

const s = {} as Record<"annChat" | "beaChat" | "annRemoval" | "calRemoval" | "annRevoke" | "devRevoke", RoomWs> & Record<"beaDevice" | "devDevice", DeviceWs>;
let beaHello: Awaited<ReturnType<typeof deviceSocket>>["first"];
let devHello: Awaited<ReturnType<typeof deviceSocket>>["first"];

beforeAll(async () => {
  const t = await withNode();
  node = t.node;
  ann = await t.user("ann");
  bea = await t.user("bea");
  cal = await t.user("cal");
  dev = await t.user("dev");
  chat = (await t.room(ann.token, "chat", [bea.id])).id;
  removal = (await t.room(ann.token, "removal", [cal.id])).id;
  revoke = (await t.room(ann.token, "revoke", [dev.id])).id;

  s.annChat = (await roomSocket(node.wsUrl, ann.token, chat)).ws;
  s.beaChat = (await roomSocket(node.wsUrl, bea.token, chat)).ws;
  const beaDevice = await deviceSocket(node.wsUrl, bea.token);
  s.beaDevice = beaDevice.ws;
  beaHello = beaDevice.first;
  s.annRemoval = (await roomSocket(node.wsUrl, ann.token, removal)).ws;
  s.calRemoval = (await roomSocket(node.wsUrl, cal.token, removal)).ws;
  s.annRevoke = (await roomSocket(node.wsUrl, ann.token, revoke)).ws;
  s.devRevoke = (await roomSocket(node.wsUrl, dev.token, revoke)).ws;
  const devDevice = await deviceSocket(node.wsUrl, dev.token);
  s.devDevice = devDevice.ws;
  devHello = devDevice.first;

  // One wait, with every socket open and silent.
  await sleep(IDLE_MS);
}, 90000);

afterAll(async () => {
  for (const ws of Object.values(s)) ws.ws.terminate();
  await node?.stop();
});

describe(`after ~${IDLE_MS / 1000} s idle (objects evicted, sockets kept)`, () => {
  it("every socket is still open", () => {
    expect(beaHello).toMatchObject({ type: "inbox.hello", userId: bea.id });
    expect(beaHello.rooms.find((r: InboxRoom) => r.roomId === chat)).toMatchObject({ unread: 0, lastSeq: 0 });
    for (const [name, ws] of Object.entries(s)) expect(ws.ws.readyState, name).toBe(ws.ws.OPEN);
  });

  it("a message from one socket reaches the other (msg.new) and the sender gets its ack", async () => {
    s.annChat.send({ type: "msg.send", clientId: "after-sleep-1", text: "still there?" });
    const ack = await s.annChat.next("msg.ack", 15000);
    expect(ack).toMatchObject({ clientId: "after-sleep-1", seq: 1, duplicate: false });
    const got = await s.beaChat.next("msg.new", 15000);
    expect(got.message).toMatchObject({ id: ack.id, seq: 1, senderId: ann.id, text: "still there?" });
    // and back the other way
    s.beaChat.send({ type: "msg.send", clientId: "reply-1", text: "yes" });
    expect((await s.annChat.next("msg.new", (f) => f.message.senderId === bea.id, 15000)).message.seq).toBe(2);
  });

  it("the device socket gets inbox.room with unread 1", async () => {
    const update = await s.beaDevice.next("inbox.room", (f) => f.room.roomId === chat, 15000);
    // Summaries are coalesced: the first one may already include Bea's own reply (seq 2),
    // which does not count as unread for her.
    expect(update.room).toMatchObject({ roomId: chat, unread: 1, lastReadSeq: 0 });
    expect([1, 2]).toContain(update.room.lastSeq);
    if (update.room.lastSeq === 1) expect(update.room.lastMessage).toMatchObject({ seq: 1, senderId: ann.id, preview: "still there?" });
    else expect(update.room.lastMessage).toMatchObject({ seq: 2, senderId: bea.id, preview: "yes" });
    expect(update.room.pos).toBeGreaterThan(beaHello.pos);
  });

  it("removing a member closes that member's room socket with 1008; the others stay", async () => {
    expect(await ok(200, node.url, "DELETE", `/api/v1/rooms/${removal}/members/${encodeURIComponent(cal.id)}`, { token: ann.token })).toEqual({ ok: true });
    const closed = await Promise.race([s.calRemoval.closeFrame, sleep(15000).then(() => null)]);
    expect(closed).toMatchObject({ code: 1008 });
    expect(await s.annRemoval.next("member.left", 15000)).toMatchObject({ userId: cal.id, removedBy: ann.id });
    // The removed socket got nothing after the removal.
    expect(s.calRemoval.frames.filter((f) => f.type === "member.left")).toEqual([]);
    expect((await api(node.url, "GET", `/api/v1/rooms/${removal}/messages`, { token: cal.token })).status).toBe(404);
    expect(s.annRemoval.ws.readyState).toBe(s.annRemoval.ws.OPEN);
  });

  it("a session signed out after hibernation has its sockets closed with 1008, and its token is refused", async () => {
    expect(devHello).toMatchObject({ type: "inbox.hello", userId: dev.id });
    expect(await ok(200, node.url, "POST", "/api/v1/auth/logout", { token: dev.token })).toEqual({ ok: true });
    const timeout = sleep(15000).then(() => null);
    expect(await Promise.race([s.devRevoke.closeFrame, timeout])).toMatchObject({ code: 1008 });
    expect(await Promise.race([s.devDevice.closeFrame, timeout])).toMatchObject({ code: 1008 });

    const me = await api(node.url, "GET", "/api/v1/me", { token: dev.token });
    expect(me.status).toBe(401);
    expect(me.body.error.code).toBe("unauthorized");
    await expect(deviceWs(`${node.wsUrl}/api/v1/socket`, dev.token)).rejects.toMatchObject({ status: 401 });
    await expect(roomWs(`${node.wsUrl}/api/v1/rooms/${revoke}/socket`, dev.token)).rejects.toMatchObject({ status: 401 });

    // The other member's socket in that room is untouched and still works.
    s.annRevoke.send({ type: "msg.send", clientId: "still-here", text: "dev signed out" });
    expect(await s.annRevoke.next("msg.ack", 15000)).toMatchObject({ clientId: "still-here", seq: 1 });
    expect(s.devRevoke.frames.some((f) => f.type === "msg.new")).toBe(false);
  });

  it("every frame matched the protocol's strict schemas", () => {
    for (const name of ["annChat", "beaChat", "annRemoval", "calRemoval", "annRevoke", "devRevoke"] as const) expectValidFrames(s[name], "room");
    expectValidFrames(s.beaDevice, "device");
    expectValidFrames(s.devDevice, "device");
  });
});
