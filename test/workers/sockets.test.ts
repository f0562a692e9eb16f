/**
 * The room socket: hello, send/ack/new, idempotent retries, updates with `ok`
 * replies, bad frames, keep-alives, resume (`?afterSeq=` and `sync` frames),
 * and the sockets that must close: a removed member's, a revoked session's.
 */
import { describe, expect, it } from "vitest";
import { api, connect, expectFrame, fence, newRoom, newSession, newUser, openRoomSocket, postMessage, type RoomSocket, type RoomSocketFrame } from "./helpers";
import type { FrameOf } from "../frame-types";
import type { Message } from "../../protocol/models";

async function pair() {
  const a = await newUser("sock");
  const b = await newUser("sock");
  const room = await newRoom(a.token, "live", "private", [b.id]);
  return { a, b, room };
}

/** Frames of `type` received so far that match `pred`, without consuming them. */
const seen = <K extends RoomSocketFrame["type"]>(s: RoomSocket, type: K, pred: (f: FrameOf<RoomSocketFrame, K>) => boolean = () => true) =>
  s.frames.filter((f): f is FrameOf<RoomSocketFrame, K> => f.type === type).filter(pred);

describe("connecting", () => {
  it("the first frame is hello with the room, the user, lastSeq and version", async () => {
    const { a, room } = await pair();
    await postMessage(a.token, room.id, "before");
    await postMessage(a.token, room.id, "connect");
    const r = await openRoomSocket(room.id, a.token);
    expect(r.status).toBe(101);
    const first = await r.socket!.next(() => true);
    expectFrame(first, "hello");
    expect(first).toMatchObject({ userId: a.id, lastSeq: 2, version: 2 });
    expect(first.room).toMatchObject({ id: room.id, name: "live", role: "owner", lastSeq: 2 });
    r.socket!.close();
  });

  it("refuses an upgrade without credentials (401) and from a non-member (404)", async () => {
    const { room } = await pair();
    const stranger = await newUser("sockstranger");
    const noAuth = await openRoomSocket(room.id, null);
    expect(noAuth.status).toBe(401);
    expect(noAuth.body.error.code).toBe("unauthorized");
    const outsider = await openRoomSocket(room.id, stranger.token);
    expect(outsider.status).toBe(404);
    expect(outsider.body.error.code).toBe("not_found");
  });

  it("ignores identity headers sent by the client", async () => {
    const { a, b, room } = await pair();
    const r = await openRoomSocket(room.id, b.token, "", { "x-outpost-user": a.id, "x-outpost-session": "forged" });
    expect(r.status).toBe(101);
    const hello = await r.socket!.next((f) => f.type === "hello");
    expect(hello.userId).toBe(b.id);
    expect(hello.room.role).toBe("member");
    r.socket!.close();
  });
});

describe("messages over the socket", () => {
  it("msg.send: msg.ack to the sender, msg.new to every member", async () => {
    const { a, b, room } = await pair();
    const sa = await connect(room.id, a.token);
    const sb = await connect(room.id, b.token);
    sa.send({ type: "msg.send", clientId: "s-1", text: "hello there" });
    const ack = await sa.next((f) => f.type === "msg.ack");
    expect(ack).toMatchObject({ clientId: "s-1", seq: 1, duplicate: false });
    expect(ack.id).toMatch(/^m_[a-z0-9]{16}$/);
    const atB = await sb.next((f) => f.type === "msg.new");
    expect(atB.message).toMatchObject({ id: ack.id, seq: 1, senderId: a.id, text: "hello there", clientId: "s-1" });
    const echo = await sa.next((f) => f.type === "msg.new");
    expect(echo.message.id).toBe(ack.id);
    const h = await api("GET", `/api/v1/rooms/${room.id}/messages`, { token: b.token });
    expect(h.body.messages).toEqual([atB.message]);
    sa.close();
    sb.close();
  });

  it("a duplicate clientId is acked as duplicate and not broadcast again", async () => {
    const { a, b, room } = await pair();
    const sa = await connect(room.id, a.token);
    const sb = await connect(room.id, b.token);
    sa.send({ type: "msg.send", clientId: "dup-1", text: "once" });
    const first = await sa.next((f) => f.type === "msg.ack");
    await sb.next((f) => f.type === "msg.new");
    sa.send({ type: "msg.send", clientId: "dup-1", text: "twice?" });
    const second = await sa.next((f) => f.type === "msg.ack");
    expect(second).toEqual({ type: "msg.ack", clientId: "dup-1", id: first.id, seq: first.seq, duplicate: true });
    // A REST retry from the same session is the same message too.
    const rest = await api("POST", `/api/v1/rooms/${room.id}/messages`, { token: a.token, body: { text: "third", clientId: "dup-1" } });
    expect(rest.status).toBe(200);
    expect(rest.body.id).toBe(first.id);
    // The room broadcasts a new message before it answers the send: past the fence, a
    // broadcast of the duplicate would be in sb's frames.
    await fence(sb);
    expect(seen(sb, "msg.new")).toEqual([]);
    expect((await api("GET", `/api/v1/rooms/${room.id}/messages`, { token: a.token })).body.messages).toHaveLength(1);
    // A retry of a message with a mention (its insert writes more than one row) is a duplicate too.
    sa.send({ type: "msg.send", clientId: "dup-2", text: `hi @${b.username}` });
    const third = await sa.next("msg.ack", (f) => f.clientId === "dup-2");
    sa.send({ type: "msg.send", clientId: "dup-2", text: `hi @${b.username}` });
    const fourth = await sa.next("msg.ack", (f) => f.clientId === "dup-2" && f.duplicate);
    expect(fourth).toEqual({ type: "msg.ack", clientId: "dup-2", id: third.id, seq: third.seq, duplicate: true });
    expect((await api("GET", `/api/v1/rooms/${room.id}/messages`, { token: a.token })).body.messages).toHaveLength(2);
    sa.close();
    sb.close();
  });

  it("msg.edit, msg.react and msg.delete send msg.updated to everyone and ok to the requester", async () => {
    const { a, b, room } = await pair();
    const m = await postMessage(a.token, room.id, "draft");
    const sa = await connect(room.id, a.token);
    const sb = await connect(room.id, b.token);

    sa.send({ type: "msg.edit", id: m.id, text: "final", reqId: "e1" });
    expect(await sa.next((f) => f.type === "ok")).toEqual({ type: "ok", replyTo: "e1" });
    const edited = await sb.next((f) => f.type === "msg.updated");
    expect(edited.message).toMatchObject({ id: m.id, text: "final" });
    expect(edited.message.editedAt).not.toBeNull();
    await sa.next((f) => f.type === "msg.updated");

    sb.send({ type: "msg.react", id: m.id, emoji: "🔥", reqId: "r1" });
    expect(await sb.next((f) => f.type === "ok")).toEqual({ type: "ok", replyTo: "r1" });
    const reacted = await sa.next((f) => f.type === "msg.updated");
    expect(reacted.message.reactions).toEqual([{ emoji: "🔥", users: [b.id] }]);
    expect(reacted.message.version).toBeGreaterThan(edited.message.version);
    await sb.next((f) => f.type === "msg.updated");

    sa.send({ type: "msg.delete", id: m.id, reqId: "d1" });
    expect(await sa.next((f) => f.type === "ok")).toEqual({ type: "ok", replyTo: "d1" });
    const deleted = await sb.next((f) => f.type === "msg.updated");
    expect(deleted.message).toMatchObject({ id: m.id, text: "", reactions: [] });
    expect(deleted.message.deletedAt).not.toBeNull();
    sa.close();
    sb.close();
  });

  it("a refused operation answers error with replyTo and broadcasts nothing", async () => {
    const { a, b, room } = await pair();
    const m = await postMessage(a.token, room.id, "a's words");
    const sa = await connect(room.id, a.token);
    const sb = await connect(room.id, b.token);
    sb.send({ type: "msg.edit", id: m.id, text: "b's words", reqId: "steal" });
    const err = await sb.next((f) => f.type === "error");
    expect(err).toMatchObject({ code: "forbidden", replyTo: "steal" });
    sb.send({ type: "msg.send", clientId: "big", text: "x".repeat(16385) });
    expect(await sb.next((f) => f.type === "error")).toMatchObject({ code: "too_large", replyTo: "big" });
    // Whatever b's frames made the room broadcast went out before it answered them.
    await fence(sa);
    expect(seen(sa, "msg.updated")).toEqual([]);
    expect(seen(sa, "msg.new")).toEqual([]);
    sa.close();
    sb.close();
  });

  it("a REST send is broadcast to the room's sockets", async () => {
    const { a, b, room } = await pair();
    const sb = await connect(room.id, b.token);
    const m = await postMessage(a.token, room.id, "via REST");
    const got = await sb.next((f) => f.type === "msg.new");
    expect(got.message).toEqual(m);
    sb.close();
  });
});

describe("bad frames", () => {
  it("non-JSON, unknown types, wrong field types and unknown fields are errors; the socket stays open", async () => {
    const { a, room } = await pair();
    const s = await connect(room.id, a.token);

    s.send("this is not json");
    expect(await s.next((f) => f.type === "error")).toMatchObject({ code: "bad_json" });

    s.send({ type: "msg.shout", text: "hi" });
    const unknown = await s.next((f) => f.type === "error");
    expect(unknown.code).toBe("invalid_request");
    expect(unknown.replyTo).toBeUndefined();

    s.send({ type: "msg.send", clientId: "typed-1", text: 42 });
    expect(await s.next((f) => f.type === "error")).toMatchObject({ code: "invalid_request", replyTo: "typed-1" });

    s.send({ type: "msg.edit", id: 7, text: "x", reqId: "typed-2" });
    expect(await s.next((f) => f.type === "error")).toMatchObject({ code: "invalid_request", replyTo: "typed-2" });

    s.send({ type: "msg.send", clientId: "extra-1", text: "hi", sender: "someone else" });
    expect(await s.next((f) => f.type === "error")).toMatchObject({ code: "invalid_request", replyTo: "extra-1" });

    s.send([1, 2, 3]);
    expect(await s.next((f) => f.type === "error")).toMatchObject({ code: "invalid_request" });

    // Still usable, and nothing was stored.
    s.send({ type: "msg.send", clientId: "ok-1", text: "fine" });
    expect(await s.next((f) => f.type === "msg.ack")).toMatchObject({ clientId: "ok-1", seq: 1 });
    s.close();
  });

  it("a frame over 65536 bytes closes the socket with 1009", async () => {
    const { a, b, room } = await pair();
    const s = await connect(room.id, a.token);
    const other = await connect(room.id, b.token);
    s.send({ type: "msg.send", clientId: "huge", text: "y".repeat(70_000) });
    const closed = await s.closed();
    expect(closed.code).toBe(1009);
    // The room closed the socket while handling the frame: anything it broadcast came before.
    await fence(other);
    expect(seen(other, "msg.new")).toEqual([]);
    expect((await api("GET", `/api/v1/rooms/${room.id}/messages`, { token: a.token })).body.messages).toEqual([]);
    other.close();
  });

  it("ping is answered with pong, with or without a reqId", async () => {
    const { a, room } = await pair();
    const s = await connect(room.id, a.token);
    s.send('{"type":"ping"}');
    expect(await s.next((f) => f.type === "pong")).toEqual({ type: "pong" });
    s.send({ type: "ping", reqId: "p1" });
    expect(await s.next((f) => f.type === "pong")).toEqual({ type: "pong" });
    s.close();
  });
});

describe("resume", () => {
  it("?afterSeq=N delivers exactly the missed messages, in order, after hello", async () => {
    const { a, b, room } = await pair();
    for (let i = 1; i <= 5; i++) await postMessage(i % 2 ? a.token : b.token, room.id, `n${i}`);
    const r = await openRoomSocket(room.id, b.token, "?afterSeq=2");
    expect(r.status).toBe(101);
    const s = r.socket!;
    expect((await s.next(() => true)).type).toBe("hello");
    const sync = await s.next(() => true);
    expectFrame(sync, "sync");
    expect(sync.messages.map((m) => [m.seq, m.text])).toEqual([[3, "n3"], [4, "n4"], [5, "n5"]]);
    expect(sync).toMatchObject({ lastSeq: 5, tooFarBehind: false });
    s.close();

    const upToDate = await openRoomSocket(room.id, b.token, "?afterSeq=5");
    await upToDate.socket!.next((f) => f.type === "hello");
    expect((await upToDate.socket!.next((f) => f.type === "sync")).messages).toEqual([]);
    upToDate.socket!.close();
  });

  it("a sync frame with afterVersion also returns older messages changed since", async () => {
    const { a, b, room } = await pair();
    const m1 = await postMessage(a.token, room.id, "first");
    await postMessage(a.token, room.id, "second");
    const s = await connect(room.id, b.token);
    s.send({ type: "sync", afterSeq: 2, reqId: "s0" });
    const nothing = await s.next((f) => f.type === "sync");
    expect(nothing).toMatchObject({ messages: [], lastSeq: 2, version: 2, replyTo: "s0" });
    s.close();

    // While b is away: m1 is edited, a new message arrives.
    await api("PATCH", `/api/v1/rooms/${room.id}/messages/${m1.id}`, { token: a.token, body: { text: "first, edited" } });
    await postMessage(a.token, room.id, "third");

    const back = await connect(room.id, b.token);
    back.send({ type: "sync", afterSeq: 2, afterVersion: 2, reqId: "s1" });
    const sync = await back.next((f) => f.type === "sync");
    expect(sync.replyTo).toBe("s1");
    expect(sync.messages.map((m) => [m.seq, m.text])).toEqual([[1, "first, edited"], [3, "third"]]);
    expect(sync.version).toBe(4);

    back.send({ type: "sync", afterSeq: 2, reqId: "s2" });
    const plain = await back.next((f) => f.type === "sync");
    expect(plain.messages.map((m) => m.seq)).toEqual([3]);
    back.close();
  });

  it("resuming reproduces the state a connected client saw (Zulip-style check)", async () => {
    const { a, b, room } = await pair();
    const m1 = await postMessage(a.token, room.id, "base");
    const watcher = await connect(room.id, b.token);
    const hello = await (async () => {
      const s = await openRoomSocket(room.id, b.token);
      const h = await s.socket!.next((f) => f.type === "hello");
      s.socket!.close();
      return h;
    })();
    // Changes while one client watches live.
    await api("PATCH", `/api/v1/rooms/${room.id}/messages/${m1.id}`, { token: a.token, body: { text: "base v2" } });
    const m2 = await postMessage(b.token, room.id, "reply");
    await api("POST", `/api/v1/rooms/${room.id}/messages/${m2.id}/reactions`, { token: a.token, body: { emoji: "✅" } });
    const lastEvent = await watcher.next("msg.updated", (f) => f.message.reactions.length === 1);
    // Apply the live events to the state before, as a client would.
    const live = new Map<string, Message>([[m1.id, m1]]);
    for (const f of [...watcher.frames, lastEvent]) if (f.type === "msg.new" || f.type === "msg.updated") {
      const cur = live.get(f.message.id);
      if (!cur || cur.version < f.message.version) live.set(f.message.id, f.message);
    }
    // A client that was away resumes from the hello position.
    const resumed = await connect(room.id, b.token);
    resumed.send({ type: "sync", afterSeq: hello.lastSeq, afterVersion: hello.version });
    const sync = await resumed.next((f) => f.type === "sync");
    const after = new Map<string, Message>([[m1.id, m1]]);
    for (const m of sync.messages) after.set(m.id, m);
    const fresh = (await api("GET", `/api/v1/rooms/${room.id}/messages`, { token: b.token })).body.messages;
    expect([...live.values()].sort((x, y) => x.seq - y.seq)).toEqual(fresh);
    expect([...after.values()].sort((x, y) => x.seq - y.seq)).toEqual(fresh);
    watcher.close();
    resumed.close();
  });
});

describe("sockets that must close", () => {
  it("removal closes the member's socket with 1008 and no msg.new reaches it afterwards", async () => {
    const owner = await newUser("rmsock");
    const m = await newUser("rmsock");
    const room = await newRoom(owner.token, "kick", "private", [m.id]);
    const sm = await connect(room.id, m.token);
    const so = await connect(room.id, owner.token);
    const del = await api("DELETE", `/api/v1/rooms/${room.id}/members/${m.id}`, { token: owner.token });
    expect(del.status).toBe(200);
    const closed = await sm.closed();
    expect(closed.code).toBe(1008);
    expect(await so.next((f) => f.type === "member.left")).toMatchObject({ userId: m.id, removedBy: owner.id });
    await postMessage(owner.token, room.id, "after the removal");
    await so.next((f) => f.type === "msg.new");
    // sm closed (awaited above): no frame arrives after a socket's close, so what it holds is final.
    expect(seen(sm, "msg.new")).toEqual([]);
    expect(seen(sm, "member.left")).toEqual([]);
    // And it cannot come back.
    expect((await openRoomSocket(room.id, m.token)).status).toBe(404);
    so.close();
  });

  it("leaving closes one's own sockets with 1008", async () => {
    const { b, room } = await pair();
    const sb = await connect(room.id, b.token);
    await api("POST", `/api/v1/rooms/${room.id}/leave`, { token: b.token });
    expect((await sb.closed()).code).toBe(1008);
  });

  it("logout closes that session's sockets (1008) but not the same user's other session", async () => {
    const { a, b, room } = await pair();
    const second = await newSession(b);
    const s1 = await connect(room.id, b.token);
    const s2 = await connect(room.id, second);
    expect((await api("POST", "/api/v1/auth/logout", { token: b.token })).status).toBe(200);
    expect((await s1.closed()).code).toBe(1008);
    s2.send({ type: "ping", reqId: "alive" });
    expect(await s2.next((f) => f.type === "pong")).toEqual({ type: "pong" });
    await postMessage(a.token, room.id, "still here?");
    expect((await s2.next((f) => f.type === "msg.new")).message.text).toBe("still here?");
    s2.close();
  });

  it("revoking a session from the sessions list closes its socket; a password change closes the others", async () => {
    const { b, room } = await pair();
    const second = await newSession(b);
    const third = await newSession(b);
    const s2 = await connect(room.id, second);
    const s3 = await connect(room.id, third);
    const s1 = await connect(room.id, b.token);
    const list = (await api("GET", "/api/v1/me/sessions", { token: b.token })).body.sessions;
    type Session = { id: string; current: boolean; createdAt: number }; // the fields of GET /me/sessions read here
    const current = list.find((x: Session) => x.current);
    const others = list.filter((x: Session) => !x.current);
    expect(others).toHaveLength(2);
    // Revoke the newest other session (third login).
    const target = others.sort((x: Session, y: Session) => y.createdAt - x.createdAt)[0];
    expect((await api("DELETE", `/api/v1/me/sessions/${target.id}`, { token: b.token })).status).toBe(200);
    expect((await s3.closed()).code).toBe(1008);
    await api("POST", "/api/v1/me/password", { token: b.token, body: { currentPassword: b.password, newPassword: "rotated password 1" } });
    expect((await s2.closed()).code).toBe(1008);
    s1.send({ type: "ping", reqId: "x" });
    await s1.next((f) => f.type === "pong");
    expect(current.id).not.toBe(target.id);
    s1.close();
  });
});
