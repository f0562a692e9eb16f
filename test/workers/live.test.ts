/**
 * Live chat across rooms, in workerd: unread and mention counts, read
 * positions and receipts, typing, notifications, the device socket (resume,
 * bad frames, presence) and revocation of one device.
 *
 * Inbox activity is coalesced (about once a second per room; the first after
 * a quiet spell goes at once), so tests wait for a condition with a timeout
 * rather than sleeping a fixed time.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { storedUser } from "../../durable-objects/shared/objects";
import type { InboxRoom, Notification, Presence } from "../../protocol/device";
import type { Message } from "../../protocol/models";
import { api, connect, connectDevice, eventually, expectFrame, isReplyTo, newRoom, newSession, newUser, openDeviceSocket, postMessage, sleep, unusedRoomId, type RoomSocket } from "./helpers";

type User = Awaited<ReturnType<typeof newUser>>;

async function myRooms(token: string): Promise<InboxRoom[]> {
  const r = await api("GET", "/api/v1/me/rooms", { token });
  expect(r.status).toBe(200);
  return r.body.rooms;
}

/** The inbox entry for `roomId` once it satisfies `pred` (fails with the last one seen after `ms`). */
async function inboxWhen(token: string, roomId: string, pred: (r: InboxRoom) => boolean, ms = 3000): Promise<InboxRoom> {
  let last: InboxRoom | undefined;
  const ok = await eventually(async () => {
    last = (await myRooms(token)).find((r) => r.roomId === roomId);
    return last !== undefined && pred(last);
  }, ms);
  if (!ok || !last) throw new Error(`inbox entry for ${roomId} never matched; last: ${JSON.stringify(last)}`);
  return last;
}

async function notificationsOf(token: string, query = ""): Promise<{ notifications: Notification[]; unread: number }> {
  const r = await api("GET", `/api/v1/me/notifications${query}`, { token });
  expect(r.status).toBe(200);
  return r.body;
}

async function recall(token: string, roomId: string, id: string) {
  const r = await api("DELETE", `/api/v1/rooms/${roomId}/messages/${id}`, { token });
  expect(r.status).toBe(200);
  return r.body;
}

async function group(n: number, visibility: "public" | "private" = "private") {
  const users: User[] = [];
  for (let i = 0; i < n; i++) users.push(await newUser("live"));
  const room = await newRoom(users[0].token, "live", visibility, users.slice(1).map((u) => u.id));
  return { users, room };
}

/** Send a marker message and wait until `socket` has it: every frame the room sent before it has arrived too. */
async function barrier(sender: User, roomId: string, socket: RoomSocket): Promise<void> {
  const m = await postMessage(sender.token, roomId, `barrier ${Math.random()}`);
  await socket.next("msg.new", (f) => f.message.id === m.id);
}

describe("unread and mention counts", () => {
  it("count others' messages only, and drop recalled ones", async () => {
    const { users: [a, b], room } = await group(2);
    const m1 = await postMessage(a.token, room.id, "one");
    const m2 = await postMessage(a.token, room.id, "two");
    await postMessage(b.token, room.id, "mine");
    await postMessage(a.token, room.id, "three");
    const atB = await inboxWhen(b.token, room.id, (r) => r.lastSeq === 4);
    expect(atB).toMatchObject({ unread: 3, mentions: 0, lastReadSeq: 0 });
    const atA = await inboxWhen(a.token, room.id, (r) => r.lastSeq === 4);
    expect(atA).toMatchObject({ unread: 1, mentions: 0 });

    await recall(a.token, room.id, m2.id);
    await inboxWhen(b.token, room.id, (r) => r.unread === 2);
    await recall(a.token, room.id, m1.id);
    const after = await inboxWhen(b.token, room.id, (r) => r.unread === 1);
    expect(after.lastSeq).toBe(4);
    // a's count never included its own messages, recalled or not
    expect((await inboxWhen(a.token, room.id, () => true)).unread).toBe(1);
  });

  it("a recalled last message leaves an empty, deleted preview", async () => {
    const { users: [a, b], room } = await group(2);
    await postMessage(a.token, room.id, "kept");
    const last = await postMessage(a.token, room.id, "secret text");
    await inboxWhen(b.token, room.id, (r) => r.lastMessage?.id === last.id && r.lastMessage.preview === "secret text");
    await recall(a.token, room.id, last.id);
    const r = await inboxWhen(b.token, room.id, (x) => x.lastMessage?.deleted === true);
    expect(r.lastMessage).toMatchObject({ id: last.id, preview: "", deleted: true });
    expect(r.unread).toBe(1);
  });

  it("mentions count @username and @all from others, not plain text or strangers", async () => {
    const { users: [a, b, c], room } = await group(3);
    const stranger = await newUser("livestranger");
    await postMessage(a.token, room.id, `hello @${b.username}`); // b
    await postMessage(a.token, room.id, "hello @all"); // b, c
    await postMessage(a.token, room.id, `mail${b.username}@example.com and @${stranger.username}`); // nobody
    await postMessage(b.token, room.id, `@${b.username} talking to myself, and @all`); // a, c (not b: own)
    await postMessage(c.token, room.id, `@${b.username.toUpperCase()} shouting`); // b (case-insensitive)
    const atB = await inboxWhen(b.token, room.id, (r) => r.lastSeq === 5);
    expect(atB).toMatchObject({ unread: 4, mentions: 3 });
    const atC = await inboxWhen(c.token, room.id, (r) => r.lastSeq === 5);
    expect(atC).toMatchObject({ unread: 4, mentions: 2 });
    const atA = await inboxWhen(a.token, room.id, (r) => r.lastSeq === 5);
    expect(atA).toMatchObject({ unread: 2, mentions: 1 });
  });

  it("an edit that adds a mention counts it; reading clears both counts", async () => {
    const { users: [a, b], room } = await group(2);
    const m = await postMessage(a.token, room.id, "no mention yet");
    await inboxWhen(b.token, room.id, (r) => r.unread === 1 && r.mentions === 0);
    const e = await api("PATCH", `/api/v1/rooms/${room.id}/messages/${m.id}`, { token: a.token, body: { text: `now @${b.username}` } });
    expect(e.status).toBe(200);
    await inboxWhen(b.token, room.id, (r) => r.unread === 1 && r.mentions === 1);
    await api("POST", `/api/v1/rooms/${room.id}/read`, { token: b.token, body: { seq: 1 } });
    await inboxWhen(b.token, room.id, (r) => r.unread === 0 && r.mentions === 0 && r.lastReadSeq === 1);
  });
});

describe("read positions", () => {
  it("clamp to the room's last seq and never move backwards", async () => {
    const { users: [a, b], room } = await group(2);
    for (const t of ["1", "2", "3"]) await postMessage(a.token, room.id, t);
    const read = (seq: number) => api("POST", `/api/v1/rooms/${room.id}/read`, { token: b.token, body: { seq } });
    let r = await read(99);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ lastReadSeq: 3 });
    r = await read(1);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ lastReadSeq: 3 });
    r = await read(0);
    expect(r.body).toEqual({ lastReadSeq: 3 });
    const entry = await inboxWhen(b.token, room.id, (x) => x.lastSeq === 3);
    expect(entry).toMatchObject({ lastReadSeq: 3, unread: 0 });
    // a message after the read is unread again
    await postMessage(a.token, room.id, "4");
    await inboxWhen(b.token, room.id, (x) => x.lastSeq === 4 && x.unread === 1 && x.lastReadSeq === 3);
  });

  it("rejects malformed read bodies", async () => {
    const { users: [, b], room } = await group(2);
    for (const body of [{ seq: -1 }, { seq: "3" }, { seq: 1.5 }, {}, { seq: 1, extra: true }]) {
      const r = await api("POST", `/api/v1/rooms/${room.id}/read`, { token: b.token, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe("invalid_request");
    }
  });

  it("reads on one device clear the badge on the other", async () => {
    const { users: [a, b], room } = await group(2);
    const d1 = await connectDevice(b.token);
    const b2 = await newSession(b);
    const d2 = await connectDevice(b2);
    await postMessage(a.token, room.id, "ping");
    await d1.socket.next("inbox.room", (f) => f.room.roomId === room.id && f.room.unread === 1);
    await d2.socket.next("inbox.room", (f) => f.room.roomId === room.id && f.room.unread === 1);
    d1.socket.send({ type: "read", roomId: room.id, seq: 1, reqId: "rd1" });
    await d1.socket.next("ok", (f) => f.replyTo === "rd1");
    const cleared = await d2.socket.next("inbox.room", (f) => f.room.roomId === room.id && f.room.unread === 0);
    expect(cleared.room.lastReadSeq).toBe(1);
    d1.socket.close();
    d2.socket.close();
  });

  it("a read of a room you are not in is not_found (REST and device socket), and changes nothing", async () => {
    const { users: [a, b], room } = await group(2);
    const outsider = await newUser("liveout");
    await postMessage(a.token, room.id, "x");
    for (const id of [room.id, unusedRoomId()]) {
      const r = await api("POST", `/api/v1/rooms/${id}/read`, { token: outsider.token, body: { seq: 1 } });
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe("not_found");
    }
    const d = await connectDevice(outsider.token);
    d.socket.send({ type: "read", roomId: room.id, seq: 1, reqId: "nr1" });
    const err = await d.socket.next(isReplyTo("nr1"));
    expect(err).toMatchObject({ type: "error", code: "not_found", replyTo: "nr1" });
    d.socket.send({ type: "read", roomId: "not-a-room-id", seq: 1, reqId: "nr2" });
    expect(await d.socket.next(isReplyTo("nr2"))).toMatchObject({ type: "error", code: "invalid_request" });
    // nothing about the room reached the outsider, and its receipts are unchanged
    expect(d.socket.log.filter((f) => JSON.stringify(f).includes(room.id))).toEqual([]);
    expect((await myRooms(outsider.token)).find((r) => r.roomId === room.id)).toBeUndefined();
    const receipts = await api("GET", `/api/v1/rooms/${room.id}/receipts`, { token: a.token });
    expect(receipts.body.receipts.find((x: { userId: string }) => x.userId === outsider.id)).toBeUndefined();
    expect(receipts.body.receipts.find((x: { userId: string }) => x.userId === b.id)).toEqual({ userId: b.id, seq: 0 });
    d.socket.close();
  });
});

describe("receipts", () => {
  it("a read broadcasts a receipt and shows in GET receipts; non-members get 404", async () => {
    const { users: [a, b], room } = await group(2);
    const outsider = await newUser("liveout");
    await postMessage(a.token, room.id, "1");
    await postMessage(a.token, room.id, "2");
    const sa = await connect(room.id, a.token);
    await api("POST", `/api/v1/rooms/${room.id}/read`, { token: b.token, body: { seq: 2 } });
    expect(await sa.next((f) => f.type === "receipt")).toEqual({ type: "receipt", userId: b.id, seq: 2 });
    const r = await api("GET", `/api/v1/rooms/${room.id}/receipts`, { token: a.token });
    expect(r.status).toBe(200);
    expect(r.body.receipts).toContainEqual({ userId: b.id, seq: 2 });
    // a read that does not move the position sends no receipt
    await api("POST", `/api/v1/rooms/${room.id}/read`, { token: b.token, body: { seq: 1 } });
    await barrier(a, room.id, sa);
    expect(sa.frames.filter((f) => f.type === "receipt")).toEqual([]);
    const denied = await api("GET", `/api/v1/rooms/${room.id}/receipts`, { token: outsider.token });
    expect(denied.status).toBe(404);
    expect(denied.body.error.code).toBe("not_found");
    sa.close();
  });

  it("sendReceipts:false hides you from GET receipts at once", async () => {
    const { users: [a, b, c], room } = await group(3);
    await postMessage(a.token, room.id, "1");
    await api("POST", `/api/v1/rooms/${room.id}/read`, { token: c.token, body: { seq: 1 } });
    const before = await api("GET", `/api/v1/rooms/${room.id}/receipts`, { token: a.token });
    expect(before.body.receipts).toContainEqual({ userId: c.id, seq: 1 });
    const s = await api("PATCH", "/api/v1/me/settings", { token: c.token, body: { sendReceipts: false } });
    expect(s.status).toBe(200);
    expect(s.body).toEqual({ sendReceipts: false, language: null });
    expect((await api("GET", "/api/v1/me/settings", { token: c.token })).body).toEqual({ sendReceipts: false, language: null });
    const after = await api("GET", `/api/v1/rooms/${room.id}/receipts`, { token: a.token });
    const ids = after.body.receipts.map((x: { userId: string }) => x.userId);
    expect(ids).toContain(b.id);
    expect(ids).not.toContain(c.id);
  });

  it("reads close together go out together: the first at once, the rest as one receipt with the newest position", async () => {
    const { users: [a, b, c], room } = await group(3);
    for (let i = 1; i <= 6; i++) await postMessage(a.token, room.id, `m${i}`);
    const sa = await connect(room.id, a.token);
    const sb = await connect(room.id, b.token);
    const sc = await connect(room.id, c.token);
    // b reads every message as it "arrives", c twice: like people watching a busy room.
    for (let seq = 1; seq <= 6; seq++) sb.send({ type: "read", seq, reqId: `b${seq}` });
    sc.send({ type: "read", seq: 2, reqId: "c2" });
    sc.send({ type: "read", seq: 5, reqId: "c5" });
    for (let seq = 1; seq <= 6; seq++) await sb.next("ok", (f) => f.replyTo === `b${seq}`);
    await sc.next("ok", (f) => f.replyTo === "c5");
    // The positions hold at once (the room answers from memory)...
    const now = await api("GET", `/api/v1/rooms/${room.id}/receipts`, { token: a.token });
    expect(now.body.receipts).toEqual(expect.arrayContaining([{ userId: b.id, seq: 6 }, { userId: c.id, seq: 5 }]));
    // ...and within about a second a sees the newest of each, each reader's inbox has it, and not one receipt per read.
    const bFinal = await sa.next("receipt", (f) => f.userId === b.id && f.seq === 6, 4000);
    expect(bFinal).toEqual({ type: "receipt", userId: b.id, seq: 6 });
    await sa.next("receipt", (f) => f.userId === c.id && f.seq === 5, 4000);
    expect((await inboxWhen(b.token, room.id, (r) => r.lastReadSeq === 6)).unread).toBe(0);
    expect((await inboxWhen(c.token, room.id, (r) => r.lastReadSeq === 5)).unread).toBe(1);
    const receiptsForB = [...sa.log].filter((f) => f.type === "receipt").filter((f) => f.userId === b.id).map((f) => f.seq);
    expect(receiptsForB.length).toBeLessThanOrEqual(2); // the first read at once (if the room was quiet), then the newest
    expect(receiptsForB.at(-1)).toBe(6);
    sa.close();
    sb.close();
    sc.close();
  });

  it("sendReceipts:false stops receipt frames for REST reads", async () => {
    const { users: [a, , c], room } = await group(3);
    await postMessage(a.token, room.id, "1");
    await api("PATCH", "/api/v1/me/settings", { token: c.token, body: { sendReceipts: false } });
    const sa = await connect(room.id, a.token);
    const r = await api("POST", `/api/v1/rooms/${room.id}/read`, { token: c.token, body: { seq: 1 } });
    expect(r.body).toEqual({ lastReadSeq: 1 });
    await barrier(a, room.id, sa);
    expect(sa.log.filter((f) => f.type === "receipt" && f.userId === c.id)).toEqual([]);
    const list = await api("GET", `/api/v1/rooms/${room.id}/receipts`, { token: a.token });
    expect(list.body.receipts.map((x: { userId: string }) => x.userId)).not.toContain(c.id);
    // turning them back on shows the position again after the next read
    await api("PATCH", "/api/v1/me/settings", { token: c.token, body: { sendReceipts: true } });
    await postMessage(a.token, room.id, "2");
    await api("POST", `/api/v1/rooms/${room.id}/read`, { token: c.token, body: { seq: 3 } });
    expect(await sa.next("receipt", (f) => f.userId === c.id)).toMatchObject({ seq: 3 });
    sa.close();
  });

  it("sendReceipts:false stops receipt frames for reads on a room socket opened before the change", async () => {
    const { users: [a, , c], room } = await group(3);
    await postMessage(a.token, room.id, "1");
    const sa = await connect(room.id, a.token);
    const sc = await connect(room.id, c.token);
    await api("PATCH", "/api/v1/me/settings", { token: c.token, body: { sendReceipts: false } });
    sc.send({ type: "read", seq: 1, reqId: "r1" });
    await sc.next("ok", (f) => f.replyTo === "r1");
    await barrier(a, room.id, sa);
    expect(sa.log.filter((f) => f.type === "receipt" && f.userId === c.id)).toEqual([]);
    const list = await api("GET", `/api/v1/rooms/${room.id}/receipts`, { token: a.token });
    expect(list.body.receipts.map((x: { userId: string }) => x.userId)).not.toContain(c.id);
    sa.close();
    sc.close();
  });

  it("rejects unknown settings", async () => {
    const u = await newUser("live");
    for (const body of [{ sendReceipts: "no" }, { other: true }]) {
      const r = await api("PATCH", "/api/v1/me/settings", { token: u.token, body });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("invalid_request");
    }
  });
});

describe("typing", () => {
  it("reaches other members' sockets, not the typist's own, and floods are clamped to one per 2 s", async () => {
    const { users: [a, b, c], room } = await group(3);
    const sa1 = await connect(room.id, a.token);
    const a2 = await newSession(a);
    const sa2 = await connect(room.id, a2);
    const sb = await connect(room.id, b.token);
    const sc = await connect(room.id, c.token);
    for (let i = 0; i < 5; i++) sa1.send({ type: "typing" });
    // A barrier sent on the same socket: everything the flood caused is in before it.
    sa1.send({ type: "msg.send", clientId: "after-flood", text: "done typing" });
    for (const s of [sa1, sa2, sb, sc]) await s.next("msg.new", (f) => f.message.clientId === "after-flood");
    const typingFrom = (s: RoomSocket, userId: string) => s.log.filter((f) => f.type === "typing" && f.userId === userId);
    expect(typingFrom(sb, a.id)).toEqual([{ type: "typing", userId: a.id, expiresInMs: 6000 }]);
    expect(typingFrom(sc, a.id)).toHaveLength(1);
    expect(typingFrom(sa1, a.id)).toEqual([]);
    expect(typingFrom(sa2, a.id)).toEqual([]);
    // nothing is stored
    const h = await api("GET", `/api/v1/rooms/${room.id}/messages`, { token: b.token });
    expect(h.body.messages.map((m: Message) => m.text)).toEqual(["done typing"]);

    // another user's typing is not held back by a's clamp
    sb.send({ type: "typing" });
    expect(await sa1.next((f) => f.type === "typing")).toMatchObject({ userId: b.id });
    expect(await sa2.next((f) => f.type === "typing")).toMatchObject({ userId: b.id });

    // after the interval a's typing passes again
    await sleep(2100);
    sa2.send({ type: "typing" });
    sa2.send({ type: "typing" });
    sa2.send({ type: "msg.send", clientId: "after-pause", text: "typing again" });
    await sb.next("msg.new", (f) => f.message.clientId === "after-pause");
    // Frames sent back to back on one socket may be taken by the runtime in another order
    // (RUNTIME-NOTES): the typing frame can trail the message that was meant as a barrier.
    await eventually(async () => typingFrom(sb, a.id).length >= 2, 2000);
    expect(typingFrom(sb, a.id)).toHaveLength(2);
    expect(typingFrom(sa1, a.id)).toEqual([]);
    for (const s of [sa1, sa2, sb, sc]) s.close();
  }, 20_000);
});

describe("notifications", () => {
  it("a DM creates a dm notification for the other person, a mention a mention; the sender gets none", async () => {
    const a = await newUser("live");
    const b = await newUser("live");
    const c = await newUser("live");
    const d = await connectDevice(b.token);
    const dm = await api("POST", "/api/v1/dms", { token: a.token, body: { userId: b.id } });
    expect(dm.status).toBe(201);
    const dmMsg = await postMessage(a.token, dm.body.id, "psst");
    const n1 = await d.socket.next((f) => f.type === "notification.new");
    expect(n1.notification).toMatchObject({ kind: "dm", roomId: dm.body.id, messageId: dmMsg.id, seq: 1, senderId: a.id, preview: "psst" });

    const room = await newRoom(a.token, "notes", "private", [b.id, c.id]);
    await postMessage(a.token, room.id, "no mention here");
    const mention = await postMessage(a.token, room.id, `look @${b.username}`);
    const n2 = await d.socket.next("notification.new", (f) => f.notification.roomId === room.id);
    expect(n2.notification).toMatchObject({ kind: "mention", messageId: mention.id, senderId: a.id });

    const listB = await eventually(async () => {
      const l = await notificationsOf(b.token);
      return l.notifications.length >= 2 ? l : null;
    });
    expect(listB!.notifications.map((n: Notification) => [n.kind, n.messageId])).toEqual([
      ["mention", mention.id],
      ["dm", dmMsg.id],
    ]);
    expect(listB!.unread).toBe(2);
    // c was not mentioned, a was the sender: neither has anything
    await inboxWhen(c.token, room.id, (r) => r.lastSeq === 2);
    expect((await notificationsOf(c.token)).notifications).toEqual([]);
    expect((await notificationsOf(a.token)).notifications).toEqual([]);
    // reading the DM lowers the unread notification count
    await api("POST", `/api/v1/rooms/${dm.body.id}/read`, { token: b.token, body: { seq: 1 } });
    expect((await notificationsOf(b.token)).unread).toBe(1);
    d.socket.close();
  });

  it("pages with before/limit, newest first; bad params are 400", async () => {
    const { users: [a, b], room } = await group(2);
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) sent.push((await postMessage(a.token, room.id, `@${b.username} #${i}`)).id);
    const all = await eventually(async () => {
      const l = await notificationsOf(b.token);
      return l.notifications.length === 5 ? l.notifications : null;
    });
    expect(all!.map((n: Notification) => n.messageId)).toEqual([...sent].reverse());
    const ids = all!.map((n: Notification) => n.id);
    expect([...ids].sort((x, y) => y - x)).toEqual(ids);

    const p1 = await notificationsOf(b.token, "?limit=2");
    expect(p1.notifications.map((n: Notification) => n.id)).toEqual(ids.slice(0, 2));
    const p2 = await notificationsOf(b.token, `?limit=2&before=${ids[1]}`);
    expect(p2.notifications.map((n: Notification) => n.id)).toEqual(ids.slice(2, 4));
    const p3 = await notificationsOf(b.token, `?limit=2&before=${ids[3]}`);
    expect(p3.notifications.map((n: Notification) => n.id)).toEqual(ids.slice(4));
    const p4 = await notificationsOf(b.token, `?before=${ids[4]}`);
    expect(p4.notifications).toEqual([]);

    for (const q of ["?before=abc", "?limit=-1", "?limit=1.5", "?limit=1000", "?before=-3", "?limit="]) {
      const r = await api("GET", `/api/v1/me/notifications${q}`, { token: b.token });
      expect(r.status, q).toBe(400);
      expect(r.body.error.code).toBe("invalid_request");
    }
    const unauth = await api("GET", "/api/v1/me/notifications");
    expect(unauth.status).toBe(401);
  });

  it("leaving a room drops its notifications", async () => {
    const { users: [a, b], room } = await group(2);
    await postMessage(a.token, room.id, `@${b.username} hi`);
    await eventually(async () => (await notificationsOf(b.token)).notifications.length === 1);
    expect((await api("POST", `/api/v1/rooms/${room.id}/leave`, { token: b.token })).status).toBe(200);
    expect(await notificationsOf(b.token)).toEqual({ notifications: [], unread: 0 });
  });
});

describe("device socket resume", () => {
  it("a position a device was shown before the inbox crashed is never handed out again, so ?pos= after the crash misses nothing", async () => {
    const { users: [a, b], room } = await group(2);
    const d = await connectDevice(b.token);
    // A plain summary (no mention): the inbox keeps it in memory for a few seconds before
    // writing it, and shows the device its new position at once.
    await postMessage(a.token, room.id, "one");
    const shown = (await d.socket.next("inbox.room", (f) => f.room.roomId === room.id && f.room.lastSeq === 1)).room.pos;
    // The inbox crashes before that write: what it held in memory is gone, the position was seen.
    await runInDurableObject(storedUser(env, b.id), (_o, state) => state.abort("crash")).catch(() => {});
    await d.socket.closed().catch(() => {});
    await postMessage(a.token, room.id, "two");
    await inboxWhen(b.token, room.id, (r) => r.lastSeq === 2, 5000);
    // The device resumes from the last position it was shown: the room's news must be in it.
    const again = await connectDevice(b.token, `?pos=${shown}`);
    expectFrame(again.first, "inbox.sync");
    expect(again.first.rooms.map((r) => [r.roomId, r.lastSeq])).toEqual([[room.id, 2]]);
    expect(again.first.pos).toBeGreaterThan(shown);
    again.socket.close();
  });

  it("nobody looking: summaries may wait, but a device socket or a room-list read sees every message, and mentions arrive at once", async () => {
    const { users: [a, b], room } = await group(2);
    // b has no device socket and has not read the room list: nobody is looking at b's inbox.
    await postMessage(a.token, room.id, "one");
    await sleep(300); // the room's first summary reaches b's inbox (which answers: nobody looking)
    for (const text of ["two", "three", "four"]) await postMessage(a.token, room.id, text);
    const m = await postMessage(a.token, room.id, `five, @${b.username}`);
    // The mention is a notification: it does not wait for anyone to look.
    const notes = await eventually(async () => ((await notificationsOf(b.token)).notifications.find((n: Notification) => n.messageId === m.id) ? true : false), 4000);
    expect(notes).toBe(true);
    await postMessage(a.token, room.id, "six");
    // A device socket opening now gets everything in its first frame (the inbox asks its rooms first).
    const d = await connectDevice(b.token);
    expect(d.first.type).toBe("inbox.hello");
    expect(d.first.rooms.find((r: InboxRoom) => r.roomId === room.id)).toMatchObject({ lastSeq: 6, unread: 6, mentions: 1 });
    d.socket.close();
    // Same for a room-list read over REST after the socket is gone and more was said.
    await sleep(100);
    await postMessage(a.token, room.id, "seven"); // reaches the inbox, which answers: nobody looking
    await sleep(300);
    await postMessage(a.token, room.id, "eight"); // may wait
    const listed = (await myRooms(b.token)).find((r) => r.roomId === room.id);
    expect(listed).toMatchObject({ lastSeq: 8, unread: 8 });
  });

  it("?pos= gives inbox.sync with only the rooms changed since, and the rooms removed since", async () => {
    const a = await newUser("live");
    const b = await newUser("live");
    const quiet = await newRoom(a.token, "quiet", "private", [b.id]);
    const busy = await newRoom(a.token, "busy", "private", [b.id]);
    const gone = await newRoom(a.token, "gone", "private", [b.id]);
    const first = await connectDevice(b.token);
    expect(first.first.type).toBe("inbox.hello");
    const pos = first.first.pos;
    expect(first.first.rooms.map((r: InboxRoom) => r.roomId)).toEqual(expect.arrayContaining([quiet.id, busy.id, gone.id]));
    first.socket.close();

    const m = await postMessage(a.token, busy.id, "while away");
    await inboxWhen(b.token, busy.id, (r) => r.lastSeq === 1);
    expect((await api("DELETE", `/api/v1/rooms/${gone.id}/members/${b.id}`, { token: a.token })).status).toBe(200);
    const joined = await newRoom(a.token, "new", "private", [b.id]);

    const again = await connectDevice(b.token, `?pos=${pos}`);
    const sync = again.first;
    expectFrame(sync, "inbox.sync");
    expect(sync.pos).toBeGreaterThan(pos);
    expect(sync.rooms.map((r: InboxRoom) => r.roomId).sort()).toEqual([busy.id, joined.id].sort());
    expect(sync.rooms.find((r: InboxRoom) => r.roomId === busy.id)).toMatchObject({ lastSeq: 1, unread: 1, lastMessage: { id: m.id } });
    expect(sync.removed).toEqual([gone.id]);

    // the same over an open socket, with a reply id; nothing changed since → empty
    again.socket.send({ type: "sync", pos: sync.pos, reqId: "s1" });
    expect(await again.socket.next(isReplyTo("s1"))).toEqual({ type: "inbox.sync", pos: sync.pos, rooms: [], removed: [], replyTo: "s1" });
    again.socket.send({ type: "sync", pos, reqId: "s2" });
    const s2 = await again.socket.next(isReplyTo("s2"));
    expectFrame(s2, "inbox.sync");
    expect(s2.removed).toEqual([gone.id]);
    expect(s2.rooms.map((r: InboxRoom) => r.roomId).sort()).toEqual([busy.id, joined.id].sort());
    again.socket.close();
  });

  it("a garbage or future position gives a full inbox.hello", async () => {
    const a = await newUser("live");
    const room = await newRoom(a.token, "r");
    const base = await connectDevice(a.token);
    const pos = base.first.pos;
    base.socket.close();
    for (const q of ["?pos=abc", `?pos=${pos + 1000}`, "?pos=-1", "?pos=1e3", "?pos=", `?pos=${"9".repeat(40)}`]) {
      const d = await connectDevice(a.token, q);
      expect(d.first.type, q).toBe("inbox.hello");
      expect(d.first.pos).toBe(pos);
      expect(d.first.rooms.map((r: InboxRoom) => r.roomId)).toContain(room.id);
      d.socket.close();
    }
    const d = await connectDevice(a.token);
    d.socket.send({ type: "sync", pos: pos + 5, reqId: "f1" });
    const hello = await d.socket.next((f) => f.type === "inbox.hello");
    expect(hello.rooms.map((r: InboxRoom) => r.roomId)).toContain(room.id);
    d.socket.send({ type: "sync", pos: -1, reqId: "f2" });
    expect(await d.socket.next(isReplyTo("f2"))).toMatchObject({ type: "error", code: "invalid_request" });
    d.socket.close();
  });
});

describe("device socket input", () => {
  it("answers bad frames with clear errors and stays open", async () => {
    const u = await newUser("live");
    const { socket } = await connectDevice(u.token);
    socket.send("{not json");
    expect(await socket.next((f) => f.type === "error")).toMatchObject({ code: "bad_json" });
    socket.send({ type: "nope", reqId: "u1" });
    const unknown = await socket.next((f) => f.type === "error");
    expect(unknown).toMatchObject({ code: "invalid_request", replyTo: "u1" });
    expect(unknown.message.length).toBeGreaterThan(0);
    socket.send({ type: "read", roomId: 5, seq: "x", reqId: "u2" });
    const wrong = await socket.next((f) => f.type === "error");
    expect(wrong).toMatchObject({ code: "invalid_request", replyTo: "u2" });
    expect(wrong.message).toMatch(/roomId|seq/);
    socket.send({ type: "ping", reqId: "u3", extra: 1 });
    expect(await socket.next((f) => f.type === "error")).toMatchObject({ code: "invalid_request", replyTo: "u3" });
    socket.send({ type: "presence.watch", userIds: Array.from({ length: 201 }, (_, i) => `u_${i}@local`), reqId: "u4" });
    expect(await socket.next((f) => f.type === "error")).toMatchObject({ code: "invalid_request", replyTo: "u4" });
    socket.send("[1,2]");
    expect(await socket.next((f) => f.type === "error")).toMatchObject({ code: "invalid_request" });
    socket.send({ type: "ping", reqId: "alive" });
    expect(await socket.next((f) => f.type === "pong")).toEqual({ type: "pong" });
    expect(socket.isClosed()).toBe(false);
    socket.close();
  });

  it("closes with 1009 on a frame over 65536 bytes", async () => {
    const u = await newUser("live");
    const { socket } = await connectDevice(u.token);
    socket.send(JSON.stringify({ type: "ping", reqId: "x".repeat(65536) }));
    const closed = await socket.closed();
    expect(closed.code).toBe(1009);
    expect(socket.log.filter((f) => f.type !== "inbox.hello")).toEqual([]);
  });

  it("refuses a device socket without credentials or without Upgrade", async () => {
    const noAuth = await openDeviceSocket(null);
    expect(noAuth.status).toBe(401);
    const u = await newUser("live");
    const plain = await api("GET", "/api/v1/socket", { token: u.token });
    expect(plain.status).toBe(400);
    expect(plain.body.error.code).toBe("invalid_request");
  });
});

describe("presence", () => {
  it("watching a user gives their current presence, then their changes", async () => {
    const a = await newUser("live");
    const b = await newUser("live");
    const never = await newUser("live");
    const stranger = await newUser("live");
    // Presence is for the people one shares rooms with.
    await newRoom(b.token, "presence", "private", [a.id, never.id]);
    const da = await connectDevice(a.token);
    const db = await connectDevice(b.token);
    const ds = await connectDevice(stranger.token);
    ds.socket.send({ type: "presence.watch", userIds: [a.id], reqId: "s1" });
    await ds.socket.next("ok", (f) => f.replyTo === "s1");
    expect(ds.socket.frames.some((f) => f.type === "presence")).toBe(false);
    expect((await api("GET", `/api/v1/presence?ids=${a.id}`, { token: stranger.token })).body).toEqual({ presence: [] });
    db.socket.send({ type: "presence.watch", userIds: [a.id, never.id], reqId: "w1" });
    const p1 = await db.socket.next("presence", (f) => f.presence.userId === a.id);
    expect(p1.presence.status).toBe("online");
    expect(typeof p1.presence.lastSeen).toBe("number");
    const p2 = await db.socket.next("presence", (f) => f.presence.userId === never.id);
    expect(p2.presence).toEqual({ userId: never.id, status: "offline", lastSeen: null });
    await db.socket.next("ok", (f) => f.replyTo === "w1");

    da.socket.send({ type: "presence.set", status: "away", reqId: "aw" });
    await da.socket.next(isReplyTo("aw"));
    expect((await db.socket.next("presence", (f) => f.presence.userId === a.id)).presence.status).toBe("away");
    da.socket.close();
    const off = await db.socket.next("presence", (f) => f.presence.userId === a.id);
    expect(off.presence.status).toBe("offline");
    expect(typeof off.presence.lastSeen).toBe("number");
    db.socket.close();
  });

  it("two devices: online while either is active, away only when all are idle", async () => {
    const a = await newUser("live");
    const watcher = await newUser("live");
    await newRoom(watcher.token, "presence2", "private", [a.id]);
    const d1 = await connectDevice(a.token);
    const d2 = await connectDevice(await newSession(a));
    const status = async () => (await api("GET", `/api/v1/presence?ids=${a.id}`, { token: watcher.token })).body.presence[0].status;
    expect(await status()).toBe("online");
    d1.socket.send({ type: "presence.set", status: "away", reqId: "a1" });
    await d1.socket.next(isReplyTo("a1"));
    expect(await status()).toBe("online");
    d2.socket.send({ type: "presence.set", status: "away", reqId: "a2" });
    await d2.socket.next(isReplyTo("a2"));
    expect(await status()).toBe("away");
    d1.socket.close();
    d2.socket.close();
    expect(await eventually(async () => (await status()) === "offline")).toBe(true);
  });

  it("GET /api/v1/presence?ids= lists known users and rejects more than 200 ids", async () => {
    const a = await newUser("live");
    const b = await newUser("live");
    await newRoom(b.token, "presence3", "private", [a.id]);
    const d = await connectDevice(a.token);
    const r = await api("GET", `/api/v1/presence?ids=${a.id},${b.id},u_0000000000000000@local,u_x@othernode`, { token: b.token });
    expect(r.status).toBe(200);
    const byId = Object.fromEntries(r.body.presence.map((p: Presence) => [p.userId, p]));
    expect(Object.keys(byId).sort()).toEqual([a.id, b.id].sort());
    expect(byId[a.id].status).toBe("online");
    expect(byId[b.id]).toEqual({ userId: b.id, status: "offline", lastSeen: null });
    expect((await api("GET", "/api/v1/presence?ids=", { token: b.token })).body).toEqual({ presence: [] });
    const many = Array.from({ length: 201 }, (_, i) => `u_${i}@local`).join(",");
    const tooMany = await api("GET", `/api/v1/presence?ids=${many}`, { token: b.token });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.code).toBe("invalid_request");
    expect((await api("GET", `/api/v1/presence?ids=${a.id}`)).status).toBe(401);
    d.socket.close();
  });
});

describe("multi-device revocation", () => {
  it("a revoked session's device socket closes with 1008; the other session's stays open and live", async () => {
    const a = await newUser("live");
    const u = await newUser("live");
    const room = await newRoom(a.token, "rev", "private", [u.id]);
    const t2 = await newSession(u);
    const d1 = await connectDevice(u.token);
    const d2 = await connectDevice(t2);
    expect(d1.first.sessionId).not.toBe(d2.first.sessionId);
    const r = await api("DELETE", `/api/v1/me/sessions/${d1.first.sessionId}`, { token: t2 });
    expect(r.status).toBe(200);
    expect((await d1.socket.closed()).code).toBe(1008);
    expect(d2.socket.isClosed()).toBe(false);
    d2.socket.send({ type: "ping", reqId: "still" });
    await d2.socket.next((f) => f.type === "pong");
    await postMessage(a.token, room.id, "after revocation");
    await d2.socket.next("inbox.room", (f) => f.room.roomId === room.id && f.room.lastSeq === 1);
    // the revoked token opens nothing any more
    expect((await openDeviceSocket(u.token)).status).toBe(401);
    expect((await api("GET", "/api/v1/me/rooms", { token: u.token })).status).toBe(401);
    d2.socket.close();
  });
});
