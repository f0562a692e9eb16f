/**
 * The per-device connection (`/api/v1/socket`) against a real `workerd serve`:
 * one person (alice) on two devices — two sign-ins, two sessions, two device
 * sockets — and a colleague (bob). Unread counts follow her across devices,
 * mentions notify, typing and receipts reach the room, presence follows her
 * devices, revoking one device ends only that device, and a device that was
 * away while the node crashed catches up from its last inbox position.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs, type FrameOf, type OutpostNode } from "../harness";
import { api, deviceSocket, expectFrame, expectNoFrame, expectValidFrames, isReplyTo, ok, roomSocket, sleep, type DeviceWs, type RoomSocketFrame, type RoomWs, type TestUser } from "./client";
import { withNode } from "../fixtures";
import type { InboxRoom, ServerDeviceFrame } from "../../protocol/device";

let node: OutpostNode;
let alice: TestUser; // alice.token = session 1 (device 1)
let alice2: string; // session 2 (device 2)
let bob: TestUser;
let room: string; // alice + bob: where everything happens
let quiet: string; // alice + bob: never changes after setup
let dm: string;

let d1: DeviceWs; // alice, device 1
let d2: DeviceWs; // alice, device 2
let bDev: DeviceWs; // bob's device
let aRoom: RoomWs; // alice's room socket (session 1)
let bRoom: RoomWs; // bob's room socket
let d1Hello: FrameOf<ServerDeviceFrame, "inbox.hello">;
let d2Hello: FrameOf<ServerDeviceFrame, "inbox.hello">;
const all: ({ ws: RoomWs; kind: "room" } | { ws: DeviceWs; kind: "device" })[] = [];

/** bob posts into a room over REST (as a bridge would); returns the stored message */
let counter = 0;
const bobSays = (roomId: string, text: string) =>
  ok(201, node.url, "POST", `/api/v1/rooms/${roomId}/messages`, { token: bob.token, body: { text, clientId: `bob-${++counter}` } });

/** the next inbox.room frame on a device about `roomId` that satisfies `pred` */
const inboxRoom = (ws: DeviceWs, roomId: string, pred: (r: InboxRoom) => boolean = () => true) =>
  ws.next("inbox.room", (f) => f.room.roomId === roomId && pred(f.room), 10000).then((f) => f.room);

/** the highest inbox position a device has been shown */
const lastPos = (ws: DeviceWs) => Math.max(...ws.frames.map((f) => ("pos" in f ? f.pos : f.type === "inbox.room" ? f.room.pos : 0)));

beforeAll(async () => {
  const t = await withNode();
  node = t.node;
  alice = await t.user("alice");
  bob = await t.user("bob");
  alice2 = await loginAs(node.url, "alice", alice.password);
  room = (await t.room(bob.token, "launch", [alice.id])).id;
  quiet = (await t.room(bob.token, "quiet", [alice.id])).id;
  dm = (await ok(201, node.url, "POST", "/api/v1/dms", { token: bob.token, body: { userId: alice.id } })).id;

  ({ ws: d1, first: d1Hello } = await deviceSocket(node.wsUrl, alice.token));
  ({ ws: d2, first: d2Hello } = await deviceSocket(node.wsUrl, alice2));
  ({ ws: bDev } = await deviceSocket(node.wsUrl, bob.token));
  ({ ws: aRoom } = await roomSocket(node.wsUrl, alice.token, room));
  ({ ws: bRoom } = await roomSocket(node.wsUrl, bob.token, room));
  all.push({ ws: d1, kind: "device" }, { ws: d2, kind: "device" }, { ws: bDev, kind: "device" }, { ws: aRoom, kind: "room" }, { ws: bRoom, kind: "room" });
}, 90000);

afterAll(async () => {
  for (const { ws } of all) ws.ws.terminate();
  await node?.stop();
});

describe("one person, two devices", () => {
  it("each device gets inbox.hello with its own session and every room", () => {
    expect(d1Hello).toMatchObject({ type: "inbox.hello", userId: alice.id, unreadNotifications: 0 });
    expect(d2Hello).toMatchObject({ type: "inbox.hello", userId: alice.id });
    expect(d1Hello.sessionId).not.toBe(d2Hello.sessionId);
    for (const hello of [d1Hello, d2Hello]) {
      expect(hello.rooms.map((r) => r.roomId).sort()).toEqual([room, quiet, dm].sort());
      expect(hello.rooms.find((r) => r.roomId === room)).toMatchObject({ unread: 0, mentions: 0, lastSeq: 0, role: "member" });
    }
  });

  it("bob posts: both of alice's devices get inbox.room with unread 1", async () => {
    const m = await bobSays(room, "first light");
    for (const d of [d1, d2]) {
      const r = await inboxRoom(d, room, (r) => r.lastSeq === 1);
      expect(r).toMatchObject({ unread: 1, mentions: 0, lastReadSeq: 0, lastMessage: { id: m.id, seq: 1, senderId: bob.id, preview: "first light" } });
    }
  });

  it("alice reads on device 1: device 2 gets unread 0, bob's room socket gets a receipt", async () => {
    d1.send({ type: "read", roomId: room, seq: 1, reqId: "read-1" });
    expect(await d1.next("ok", (f) => f.replyTo === "read-1", 10000)).toBeTruthy();
    expect(await inboxRoom(d2, room, (r) => r.lastReadSeq === 1)).toMatchObject({ unread: 0, mentions: 0, lastSeq: 1 });
    expect(await bRoom.next("receipt", 10000)).toEqual({ type: "receipt", userId: alice.id, seq: 1 });
    expect(await ok(200, node.url, "GET", `/api/v1/rooms/${room}/receipts`, { token: bob.token })).toMatchObject({
      receipts: expect.arrayContaining([{ userId: alice.id, seq: 1 }]),
    });
  });

  it("@alice counts as a mention and sends notification.new; GET /api/v1/me/notifications lists it", async () => {
    const m = await bobSays(room, "@alice can you check the numbers?");
    for (const d of [d1, d2]) {
      expect(await inboxRoom(d, room, (r) => r.lastSeq === 2)).toMatchObject({ unread: 1, mentions: 1 });
      const n = await d.next("notification.new", 10000);
      expect(n.notification).toMatchObject({ kind: "mention", roomId: room, messageId: m.id, seq: 2, senderId: bob.id, preview: "@alice can you check the numbers?" });
    }
    const list = await ok(200, node.url, "GET", "/api/v1/me/notifications", { token: alice2 });
    expect(list.unread).toBe(1);
    expect(list.notifications).toHaveLength(1);
    expect(list.notifications[0]).toMatchObject({ kind: "mention", messageId: m.id, seq: 2 });
    // Bob's own inbox holds no notification for his own message.
    expect((await ok(200, node.url, "GET", "/api/v1/me/notifications", { token: bob.token })).notifications).toEqual([]);
  });

  let typedAt = 0;
  it("typing on a room socket reaches bob's room socket with alice's userId (not alice's own)", async () => {
    aRoom.send({ type: "typing" });
    typedAt = Date.now();
    expect(await bRoom.next("typing", 10000)).toEqual({ type: "typing", userId: alice.id, expiresInMs: expect.any(Number) });
    expect(aRoom.frames.some((f) => f.type === "typing")).toBe(false);
  });

  it("a flood of 20 typing frames yields at most 2 typing frames at bob within 1 s", async () => {
    // The node passes on at most one typing frame per person every 2 s: start the flood outside the last window.
    await sleep(Math.max(0, typedAt + 2100 - Date.now()));
    const before = bRoom.frames.filter((f) => f.type === "typing").length;
    const start = Date.now();
    for (let i = 0; i < 20; i++) aRoom.send({ type: "typing" });
    expect(await bRoom.next("typing", 5000)).toMatchObject({ userId: alice.id }); // the first one does pass
    await sleep(Math.max(0, start + 1000 - Date.now()));
    const during = bRoom.frames.filter((f) => f.type === "typing").length - before;
    expect(during).toBeGreaterThanOrEqual(1);
    expect(during).toBeLessThanOrEqual(2);
  });

  const aliceReceipt = (f: RoomSocketFrame) => f.type === "receipt" && f.userId === alice.id;

  it("with sendReceipts off, reading more (device frame, REST) sends bob no receipt", async () => {
    expect(await ok(200, node.url, "PATCH", "/api/v1/me/settings", { token: alice.token, body: { sendReceipts: false } })).toEqual({ sendReceipts: false, language: null });
    expect(await ok(200, node.url, "GET", "/api/v1/me/settings", { token: alice2 })).toEqual({ sendReceipts: false, language: null });

    // the device frame
    await bobSays(room, "three");
    await inboxRoom(d2, room, (r) => r.lastSeq === 3);
    d1.send({ type: "read", roomId: room, seq: 3, reqId: "read-3" });
    await d1.next(isReplyTo("read-3"), 10000);
    expect(await inboxRoom(d2, room, (r) => r.lastReadSeq === 3)).toMatchObject({ unread: 0, mentions: 0 });

    // REST
    await bobSays(room, "four");
    expect(await ok(200, node.url, "POST", `/api/v1/rooms/${room}/read`, { token: alice2, body: { seq: 4 } })).toEqual({ lastReadSeq: 4 });
    expect(await inboxRoom(d1, room, (r) => r.lastReadSeq === 4)).toMatchObject({ unread: 0 });

    // A bounded wait, not a fence: the room announces reads that come within READ_FLUSH_MS
    // (1 s) of another from a timer, so a receipt could follow anything a fence could order.
    await expectNoFrame(bRoom, aliceReceipt, 1500);
    const receipts = (await ok(200, node.url, "GET", `/api/v1/rooms/${room}/receipts`, { token: bob.token })).receipts;
    expect(receipts.find((r: { userId: string }) => r.userId === alice.id)).toBeUndefined();
  });

  it("with sendReceipts off, a read frame on a room socket opened earlier sends bob no receipt either", async () => {
    // aRoom was opened while receipts were on; the setting applies to it all the same.
    await bobSays(room, "five");
    await aRoom.next("msg.new", (f) => f.message.seq === 5, 10000);
    aRoom.send({ type: "read", seq: 5, reqId: "read-5" });
    await aRoom.next(isReplyTo("read-5"), 10000);
    expect(await inboxRoom(d2, room, (r) => r.lastReadSeq === 5)).toMatchObject({ unread: 0 });

    // Bounded, as above: a batched read is announced by the room's timer.
    await expectNoFrame(bRoom, aliceReceipt, 1500);
    const receipts = (await ok(200, node.url, "GET", `/api/v1/rooms/${room}/receipts`, { token: bob.token })).receipts;
    expect(receipts.find((r: { userId: string }) => r.userId === alice.id)).toBeUndefined();
  });

  it("revoking one device's session closes only that device (1008); the other keeps receiving", async () => {
    const token3 = await loginAs(node.url, "alice", alice.password);
    const { ws: d3, first: d3Hello } = await deviceSocket(node.wsUrl, token3);
    all.push({ ws: d3, kind: "device" });
    const { sessions } = await ok(200, node.url, "GET", "/api/v1/me/sessions", { token: alice.token });
    type Session = { id: string; current: boolean }; // the fields of GET /me/sessions read here
    expect(sessions.map((x: Session) => x.id).sort()).toEqual([d1Hello.sessionId, d2Hello.sessionId, d3Hello.sessionId].sort());
    expect(sessions.find((x: Session) => x.current).id).toBe(d1Hello.sessionId);

    expect(await ok(200, node.url, "DELETE", `/api/v1/me/sessions/${d3Hello.sessionId}`, { token: alice.token })).toEqual({ ok: true });
    expect(await Promise.race([d3.closeFrame, sleep(10000).then(() => null)])).toMatchObject({ code: 1008 });
    expect((await api(node.url, "GET", "/api/v1/me", { token: token3 })).status).toBe(401);

    const m = await bobSays(room, "six");
    for (const d of [d1, d2]) expect(await inboxRoom(d, room, (r) => r.lastSeq === 6)).toMatchObject({ unread: 1, lastMessage: { id: m.id } });
    expect(d3.frames.some((f) => f.type === "inbox.room" && f.room.lastSeq === 6)).toBe(false);
    expect(d1.ws.readyState).toBe(d1.ws.OPEN);
    expect(d2.ws.readyState).toBe(d2.ws.OPEN);
  });

  it("presence: online while a device is connected, away when all devices are away, offline when all are closed", async () => {
    bDev.send({ type: "presence.watch", userIds: [alice.id], reqId: "watch" });
    expect((await bDev.next("presence", 10000)).presence).toMatchObject({ userId: alice.id, status: "online" });
    await bDev.next(isReplyTo("watch"), 10000);

    // One device away, the other still active: still online, no frame.
    d1.send({ type: "presence.set", status: "away", reqId: "away-1" });
    await d1.next(isReplyTo("away-1"), 10000);
    // A bounded wait, not a fence: bob's presence frames come from alice's user object through
    // bob's, so nothing on bob's socket is ordered with them.
    await expectNoFrame(bDev, (f) => f.type === "presence", 700);

    d2.send({ type: "presence.set", status: "away", reqId: "away-2" });
    expect((await bDev.next("presence", 10000)).presence).toMatchObject({ userId: alice.id, status: "away" });
    expect((await ok(200, node.url, "GET", `/api/v1/presence?ids=${encodeURIComponent(alice.id)}`, { token: bob.token })).presence).toMatchObject([{ userId: alice.id, status: "away" }]);

    // Closing one of two away devices changes nothing; closing the last makes her offline.
    await d1.close();
    await expectNoFrame(bDev, (f) => f.type === "presence", 700); // bounded: from another object, as above
    d2Pos = lastPos(d2);
    d2Room = d2.frames.filter((f) => f.type === "inbox.room").filter((f) => f.room.roomId === room).pop()!.room;
    await d2.close();
    const offline = (await bDev.next("presence", 10000)).presence;
    expect(offline).toMatchObject({ userId: alice.id, status: "offline" });
    expect(offline.lastSeen).toEqual(expect.any(Number));
  });

  let d2Pos = 0;
  let d2Room: InboxRoom;
  it("resume across kill -9: device 2 reconnects with ?pos= and gets inbox.sync with only the changed room", async () => {
    expect(d2Pos).toBeGreaterThan(0);
    expect(d2Room).toMatchObject({ lastSeq: 6, unread: 1 });
    await node.kill9();
    await node.restart();

    // Bob posts after the restart (his session survived it).
    await bobSays(room, "after the crash, one");
    const last = await bobSays(room, "after the crash, two");
    expect(last.seq).toBe(8);
    // Wait until the room's (coalesced) activity has reached alice's inbox.
    const until = Date.now() + 15000;
    for (;;) {
      const { rooms } = await ok(200, node.url, "GET", "/api/v1/me/rooms", { token: alice2 });
      if (rooms.find((r: InboxRoom) => r.roomId === room)?.lastSeq === 8) break;
      if (Date.now() > until) throw new Error(`alice's inbox never saw seq 8: ${JSON.stringify(rooms)}`);
      await sleep(100);
    }

    const { ws: again, first } = await deviceSocket(node.wsUrl, alice2, `?pos=${d2Pos}`);
    all.push({ ws: again, kind: "device" });
    expectFrame(first, "inbox.sync");
    expect(first.pos).toBeGreaterThan(d2Pos);
    expect(first.removed).toEqual([]);
    expect(first.rooms.map((r) => r.roomId)).toEqual([room]); // not `quiet`, not the DM
    expect(first.rooms[0]).toMatchObject({ lastSeq: 8, lastReadSeq: d2Room.lastReadSeq, unread: d2Room.unread + 2, mentions: 0, lastMessage: { id: last.id, seq: 8 } });
    expect(first.rooms[0].pos).toBeGreaterThan(d2Pos);

    // A device that gives no position gets the full snapshot instead.
    const { ws: fresh, first: snapshot } = await deviceSocket(node.wsUrl, alice2);
    all.push({ ws: fresh, kind: "device" });
    expect(snapshot.type).toBe("inbox.hello");
    expect(snapshot.rooms).toHaveLength(3);
  });

  it("every frame on every socket matched the protocol's strict schemas", () => {
    for (const { ws, kind } of all) expectValidFrames(ws, kind);
  });
});
