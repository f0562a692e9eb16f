import { afterEach, describe, expect, it, vi } from "vitest";
import { ClientRoomFrame, ServerRoomFrame } from "../../protocol/frames";
import { DeviceSocket } from "../../sdk/device-socket";
import { OutpostClient } from "../../sdk/rest";
import { RoomSocket } from "../../sdk/room-socket";
import { OutpostApiError } from "../../sdk/errors";
import { PermanentSendError, RateLimitedError, SendQueue } from "../../sdk/send-queue";
import { parseFrame, parseFrames, ReconnectingSocket, type WebSocketConstructor } from "../../sdk/socket";
import { FakeSocket } from "./fake-socket";

const WS = FakeSocket as unknown as WebSocketConstructor;
const api = new OutpostClient({ baseUrl: "http://node.test" });
const ROOM = "r_aaaaaaaaaaaaaaaa@local";

function message(seq: number, extra: Record<string, unknown> = {}) {
  return { id: `m_${String(seq).padStart(16, "0")}`, roomId: ROOM, seq, clientId: `c${seq}`, senderId: "u_x", text: `t${seq}`, replyTo: null, mentions: { users: [], all: false }, reactions: [], attachments: [], createdAt: seq, editedAt: null, deletedAt: null, version: seq, ...extra };
}
const room = { id: ROOM, name: "r", kind: "group", visibility: "private", createdAt: 1, createdBy: "u_x", lastSeq: 0, memberCount: 1, role: "member" };

afterEach(() => {
  FakeSocket.all = [];
});

describe("parseFrame", () => {
  it("accepts known frames and ignores unknown types, bad JSON, binary and extra fields", () => {
    expect(parseFrame(ServerRoomFrame, JSON.stringify({ type: "pong" }))).toEqual({ type: "pong" });
    expect(parseFrame(ServerRoomFrame, JSON.stringify({ type: "msg.new", message: message(1) }))?.type).toBe("msg.new");
    expect(parseFrame(ServerRoomFrame, JSON.stringify({ type: "future.event", x: 1 }))).toBeNull();
    expect(parseFrame(ServerRoomFrame, "{not json")).toBeNull();
    expect(parseFrame(ServerRoomFrame, new ArrayBuffer(4))).toBeNull();
    expect(parseFrame(ServerRoomFrame, JSON.stringify({ type: "pong", leaked: "secret" }))).toBeNull();
    expect(parseFrame(ServerRoomFrame, JSON.stringify({ type: "msg.new", message: { ...message(1), seq: "1" } }))).toBeNull();
  });
});

describe("ReconnectingSocket", () => {
  it("reconnects after a drop and delivers only parsed frames", async () => {
    const got: string[] = [];
    const states: string[] = [];
    const s = new ReconnectingSocket(() => "ws://x/socket", ServerRoomFrame, { WebSocket: WS, backoff: { baseMs: 5, maxMs: 10 } }).start();
    s.onFrame((f) => got.push(f.type));
    s.onState((st) => states.push(st));
    FakeSocket.all[0].open();
    FakeSocket.all[0].deliver({ type: "pong" });
    FakeSocket.all[0].deliver({ type: "nope" });
    FakeSocket.all[0].drop();
    await new Promise((r) => setTimeout(r, 40));
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.all[1].open();
    FakeSocket.all[1].deliver({ type: "pong" });
    expect(got).toEqual(["pong", "pong"]);
    expect(states).toEqual(["open", "reconnecting", "open"]);
    s.close();
  });

  it("stops after a policy close (removed, revoked)", async () => {
    const s = new ReconnectingSocket(() => "ws://x", ServerRoomFrame, { WebSocket: WS, backoff: { baseMs: 5, maxMs: 10 } }).start();
    FakeSocket.all[0].open();
    FakeSocket.all[0].drop(1008);
    await new Promise((r) => setTimeout(r, 40));
    expect(FakeSocket.all).toHaveLength(1);
    expect(s.state).toBe("closed");
  });

  it("sends the bearer token as a header when one is given", () => {
    new ReconnectingSocket(() => "ws://x", ServerRoomFrame, { WebSocket: WS, token: "tok" }).start().close();
    expect(FakeSocket.all[0].options).toEqual({ headers: { authorization: "Bearer tok" } });
  });
});

describe("RoomSocket resume", () => {
  it("reconnects with ?afterSeq= of the last message and asks for changes since its version", async () => {
    const rs = new RoomSocket(api, ROOM, { WebSocket: WS, backoff: { baseMs: 5, maxMs: 10 } }).start();
    expect(FakeSocket.all[0].url).toBe(`ws://node.test/api/v1/rooms/${encodeURIComponent(ROOM)}/socket?batch=1`);
    const first = FakeSocket.all[0];
    first.open();
    first.deliver({ type: "hello", room, userId: "u_x", lastSeq: 2, version: 2 });
    first.deliver({ type: "msg.new", message: message(3) });
    first.drop();
    await new Promise((r) => setTimeout(r, 40));
    const second = FakeSocket.all[1];
    expect(second.url).toMatch(/[?&]afterSeq=3$/);
    second.open();
    second.deliver({ type: "hello", room, userId: "u_x", lastSeq: 4, version: 6 });
    expect(second.sent).toContainEqual({ type: "sync", afterSeq: 3, afterVersion: 3 });
    second.deliver({ type: "sync", messages: [message(4)], lastSeq: 4, version: 6, tooFarBehind: false });
    expect(rs.lastSeq).toBe(4);
    expect(rs.version).toBe(6);
    rs.close();
  });

  it("settles a send with its ack, and rejects it when the socket drops first", async () => {
    const rs = new RoomSocket(api, ROOM, { WebSocket: WS, backoff: { baseMs: 1000, maxMs: 1000 } }).start();
    FakeSocket.all[0].open();
    const m = { clientId: "c-1", roomId: ROOM, text: "hi", queuedAt: 0 };
    const acked = rs.sendMessage(m);
    expect(FakeSocket.all[0].sent).toContainEqual({ type: "msg.send", clientId: "c-1", text: "hi" });
    FakeSocket.all[0].deliver({ type: "msg.ack", clientId: "c-1", id: "m_1", seq: 9, duplicate: false });
    await expect(acked).resolves.toEqual({ id: "m_1", seq: 9 });
    const lost = rs.sendMessage({ ...m, clientId: "c-2" });
    FakeSocket.all[0].drop();
    await expect(lost).rejects.toThrow();
    rs.close();
  });
});

describe("RoomSocket under the node's message budget", () => {
  it("a rate_limited error frame makes the send queue wait retryAfterMs and send the same message again, in order", async () => {
    const rs = new RoomSocket(api, ROOM, { WebSocket: WS, backoff: { baseMs: 1000, maxMs: 1000 } }).start();
    const ws = FakeSocket.all[0];
    ws.open();
    // The node: refuses every clientId's first attempt, acks the second.
    const attempts = new Map<string, number>();
    let seq = 0;
    const order: string[] = [];
    const node = (frame: ClientRoomFrame) => {
      if (frame.type !== "msg.send") return;
      order.push(frame.clientId);
      const n = (attempts.get(frame.clientId) ?? 0) + 1;
      attempts.set(frame.clientId, n);
      if (n === 1) ws.deliver({ type: "error", code: "rate_limited", message: "sending too fast", replyTo: frame.clientId, retryAfterMs: 30 });
      else ws.deliver({ type: "msg.ack", clientId: frame.clientId, id: `m_${String(++seq).padStart(16, "0")}`, seq, duplicate: false });
    };
    const send = ws.send.bind(ws);
    ws.send = (data: string) => {
      send(data);
      queueMicrotask(() => node(ClientRoomFrame.parse(JSON.parse(data)))); // and what the SDK sent is a valid frame
    };
    // A backoff this long would stall the test: only the frame's retryAfterMs can be what it waits.
    const queue = new SendQueue({ storage: null, backoff: { baseMs: 60_000, maxMs: 60_000 }, transport: (m) => rs.sendMessage(m) });
    const started = Date.now();
    const sent = [queue.enqueue(ROOM, "one"), queue.enqueue(ROOM, "two"), queue.enqueue(ROOM, "three")];
    const acks = await Promise.all(sent.map((x) => x.done));
    expect(Date.now() - started).toBeGreaterThanOrEqual(3 * 30 - 5);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(acks.map((a) => a.seq)).toEqual([1, 2, 3]);
    const ids = sent.map((x) => x.message.clientId);
    expect(order).toEqual(ids.flatMap((id) => [id, id]));
    rs.close();
  });

  it("rejects the send with a RateLimitedError carrying retryAfterMs, not a permanent error", async () => {
    const rs = new RoomSocket(api, ROOM, { WebSocket: WS }).start();
    FakeSocket.all[0].open();
    const p = rs.sendMessage({ clientId: "c-9", roomId: ROOM, text: "hi", queuedAt: 0 });
    FakeSocket.all[0].deliver({ type: "error", code: "rate_limited", message: "sending too fast", replyTo: "c-9", retryAfterMs: 120 });
    const err = await p.catch((e) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err).not.toBeInstanceOf(PermanentSendError);
    expect(err.retryAfterMs).toBe(120);
    rs.close();
  });
});

describe("OutpostClient errors", () => {
  it("a 429 carries the node's retryAfterMs", async () => {
    const client = new OutpostClient({
      baseUrl: "http://node.test",
      fetch: async () => new Response(JSON.stringify({ error: { code: "rate_limited", message: "sending too fast", retryAfterMs: 75 } }), { status: 429, headers: { "retry-after": "1" } }),
    });
    const err = await client.send(ROOM, { text: "x", clientId: "c-1" }).catch((e) => e);
    expect(err).toBeInstanceOf(OutpostApiError);
    expect(err).toMatchObject({ status: 429, code: "rate_limited", retryAfterMs: 75, retryable: true });
  });
});

describe("DeviceSocket", () => {
  const inboxRoom = (roomId: string, pos: number, unread: number) => ({ roomId, name: roomId, kind: "group", visibility: "private", role: "member", joinedAt: 1, peerId: null, lastSeq: 1, lastReadSeq: 0, unread, mentions: 0, lastMessage: null, pos });

  it("keeps the inbox from hello, room updates (newest pos wins) and removals; resumes with ?pos=", async () => {
    const d = new DeviceSocket(api, { WebSocket: WS, backoff: { baseMs: 5, maxMs: 10 } }).start();
    const s = FakeSocket.all[0];
    s.open();
    s.deliver({ type: "inbox.hello", userId: "u_x", sessionId: "s", pos: 5, rooms: [inboxRoom("a", 4, 0), inboxRoom("b", 5, 1)], unreadNotifications: 0 });
    s.deliver({ type: "inbox.room", room: inboxRoom("a", 7, 3) });
    s.deliver({ type: "inbox.room", room: inboxRoom("a", 6, 2) }); // late, older copy
    s.deliver({ type: "inbox.removed", roomId: "b", pos: 8 });
    expect([...d.rooms.keys()]).toEqual(["a"]);
    expect(d.rooms.get("a")!.unread).toBe(3);
    s.drop();
    await new Promise((r) => setTimeout(r, 40));
    expect(FakeSocket.all[1].url).toBe("ws://node.test/api/v1/socket?pos=8");
    d.close();
  });
});

describe("batch frames", () => {
  it("unwraps a batch into its frames, in order, dropping only the malformed ones", () => {
    const pong = { type: "pong" };
    const ok = { type: "ok", replyTo: "r1" };
    const raw = JSON.stringify({ type: "batch", frames: [pong, { type: "msg.new" }, ok] });
    expect(parseFrames(ServerRoomFrame, raw)).toEqual([pong, ok]);
    expect(parseFrames(ServerRoomFrame, JSON.stringify(pong))).toEqual([pong]);
    expect(parseFrames(ServerRoomFrame, "{bad")).toEqual([]);
  });
});

describe("RoomSocket.read", () => {
  it("sends at most one read per second, the newest position at the end of the pause, never one already sent", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    try {
      const r = new RoomSocket(api, ROOM, { WebSocket: WS }).start();
      const ws = FakeSocket.all[0];
      expect(r.read(1)).toBe(false); // not open yet: the caller falls back to REST
      ws.open();
      const reads = () => ws.sent.map((f) => ClientRoomFrame.parse(f)).filter((f) => f.type === "read").map((f) => f.seq);
      expect(r.read(1)).toBe(true);
      for (let seq = 2; seq <= 30; seq++) {
        expect(r.read(seq)).toBe(true);
        vi.advanceTimersByTime(50); // a busy room: a message every 50 ms
      }
      expect(reads()).toEqual([1, 21]); // the one waiting went out when the second was over
      expect(r.read(21)).toBe(true);
      vi.advanceTimersByTime(1000);
      expect(reads()).toEqual([1, 21, 30]);
      r.read(30);
      vi.advanceTimersByTime(2000);
      expect(reads()).toEqual([1, 21, 30]); // nothing new: nothing sent
      r.read(31);
      r.read(32); // within the pause after 31
      r.close(); // closing sends the one waiting
      expect(reads()).toEqual([1, 21, 30, 31, 32]);
    } finally {
      vi.useRealTimers();
    }
  });
});
