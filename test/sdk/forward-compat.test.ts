/**
 * A newer node talks to this SDK: it adds a field to `Message` (and to the
 * other objects it sends) and sends a frame type this SDK has never heard of.
 * The SDK must keep working — deliver the `msg.new`, keep the inbox — drop
 * the unknown frame and count it (`ignoredFrames`), on the room socket, on the
 * device socket and in REST answers. (With strict client-side parsing one new
 * field made every `msg.new` vanish without a trace.)
 */
import { afterEach, describe, expect, it } from "vitest";
import { DeviceSocket } from "../../sdk/device-socket";
import { OutpostClient } from "../../sdk/rest";
import { RoomSocket } from "../../sdk/room-socket";
import type { WebSocketConstructor } from "../../sdk/socket";
import type { Message, ServerRoomFrame } from "../../sdk/index";
import { MessageSchema } from "../../protocol/models";
import { FakeSocket } from "./fake-socket";

const WS = FakeSocket as unknown as WebSocketConstructor;
const ROOM = "r_aaaaaaaaaaaaaaaa@local";

/** A message as a newer node sends it: a field at the top and one inside a nested object. */
function newerMessage(seq: number) {
  return {
    id: `m_${String(seq).padStart(16, "0")}`,
    roomId: ROOM,
    seq,
    clientId: `c${seq}`,
    senderId: "u_x",
    text: `t${seq}`,
    replyTo: null,
    mentions: { users: [], all: false, groups: ["ops"] },
    reactions: [],
    attachments: [],
    createdAt: seq,
    editedAt: null,
    deletedAt: null,
    version: seq,
    threadId: "t_1",
  };
}
const room = { id: ROOM, name: "r", kind: "group", visibility: "private", createdAt: 1, createdBy: "u_x", lastSeq: 0, memberCount: 1, role: "member", topic: "", pinnedMessageId: "m_1" };
const future = { type: "thread.updated", threadId: "t_1", replies: 3 };

afterEach(() => {
  FakeSocket.all = [];
});

describe("an SDK meets a newer node", () => {
  it("room socket: delivers msg.new with an added field (dropped), ignores and counts an unknown frame type", () => {
    const rs = new RoomSocket(new OutpostClient({ baseUrl: "http://node.test" }), ROOM, { WebSocket: WS }).start();
    const got: ServerRoomFrame[] = [];
    rs.onFrame((f) => got.push(f));
    const ws = FakeSocket.all[0];
    ws.open();
    ws.deliver({ type: "hello", room, userId: "u_x", lastSeq: 0, version: 0, node: "newer" });
    ws.deliver(future);
    ws.deliver({ type: "msg.new", message: newerMessage(1) });
    // The same under load, batched.
    ws.deliver({ type: "batch", frames: [future, { type: "msg.new", message: newerMessage(2) }] });

    expect(got.map((f) => f.type)).toEqual(["hello", "msg.new", "msg.new"]);
    const messages = got.filter((f) => f.type === "msg.new").map((f) => (f as { message: Message }).message);
    expect(messages.map((m) => m.seq)).toEqual([1, 2]);
    // What the app gets is exactly a Message of this SDK's version: the new fields are dropped.
    for (const m of messages) expect(MessageSchema.parse(m)).toEqual(m);
    expect(rs.lastSeq).toBe(2);
    expect(rs.ignoredFrames).toBe(2);
    rs.close();
  });

  it("device socket: keeps the inbox from frames with added fields, ignores and counts an unknown frame type", () => {
    const d = new DeviceSocket(new OutpostClient({ baseUrl: "http://node.test" }), { WebSocket: WS }).start();
    const s = FakeSocket.all[0];
    s.open();
    const inboxRoom = { roomId: ROOM, name: "r", kind: "group", visibility: "private", role: "member", joinedAt: 1, peerId: null, lastSeq: 1, lastReadSeq: 0, unread: 1, mentions: 0, lastMessage: { id: "m_0000000000000001", seq: 1, senderId: "u_y", preview: "hi", createdAt: 1, deleted: false, threadId: "t_1" }, pos: 1, muted: false, archived: false };
    s.deliver({ type: "inbox.hello", userId: "u_x", sessionId: "s", pos: 1, rooms: [inboxRoom], unreadNotifications: 0, serverTime: 5 });
    s.deliver({ type: "inbox.thread", threadId: "t_1" });
    s.deliver({ type: "inbox.room", room: { ...inboxRoom, unread: 2, pos: 2 } });
    expect(d.ready).toBe(true);
    expect(d.rooms.get(ROOM)).toMatchObject({ unread: 2, pos: 2 });
    expect(d.rooms.get(ROOM)).not.toHaveProperty("archived");
    expect(d.ignoredFrames).toBe(1);
    d.close();
  });

  it("REST: answers with added fields parse, the added fields dropped", async () => {
    const answers: Record<string, unknown> = {
      "POST /api/v1/rooms/r_aaaaaaaaaaaaaaaa%40local/messages": newerMessage(3),
      "GET /api/v1/rooms/r_aaaaaaaaaaaaaaaa%40local/messages?limit=50": { messages: [newerMessage(1), newerMessage(2)], hasMore: false, lastSeq: 2, cursor: "x" },
      "GET /api/v1/rooms/r_aaaaaaaaaaaaaaaa%40local": { room, members: [{ userId: "u_x", username: "x", displayName: "X", role: "owner", joinedAt: 1, title: "CTO" }] },
    };
    const api = new OutpostClient({
      baseUrl: "http://node.test",
      fetch: async (input, init) => {
        const key = `${init?.method ?? "GET"} ${new URL(String(input)).pathname}${new URL(String(input)).search}`;
        if (!(key in answers)) return new Response(JSON.stringify({ error: { code: "not_found", message: key } }), { status: 404 });
        return new Response(JSON.stringify(answers[key]), { status: 200, headers: { "content-type": "application/json" } });
      },
    });
    const sent = await api.send(ROOM, { text: "t3", clientId: "c3" });
    const { threadId: _, ...known } = newerMessage(3);
    expect(sent).toEqual(MessageSchema.parse({ ...known, mentions: { users: [], all: false } }));
    const page = await api.history(ROOM, { limit: 50 });
    expect(page.messages.map((m) => m.seq)).toEqual([1, 2]);
    expect(page).not.toHaveProperty("cursor");
    const info = await api.room(ROOM);
    expect(info.room).not.toHaveProperty("pinnedMessageId");
    expect(info.members[0]).not.toHaveProperty("title");
  });
});
