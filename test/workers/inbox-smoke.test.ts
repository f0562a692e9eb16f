import { describe, expect, it } from "vitest";
import { api, newUser, newRoom, openDeviceSocket } from "./helpers";
import type { InboxRoom } from "../../protocol/device";

async function device(token: string, query = "") {
  const r = await openDeviceSocket(token, query);
  expect(r.status).toBe(101);
  return r.socket!;
}

describe("inbox smoke", () => {
  it("device socket sees unread and mentions, read syncs", async () => {
    const a = await newUser("ia");
    const b = await newUser("ib");
    const room = await newRoom(a.token, "Inbox", "private", [b.id]);
    const d = await device(b.token);
    const hello = await d.next((f) => f.type === "inbox.hello");
    expect(hello.rooms.map((r) => r.roomId)).toContain(room.id);
    await api("POST", `/api/v1/rooms/${room.id}/messages`, { token: a.token, body: { text: `hi @${b.username}`, clientId: "x1" } });
    const act = await d.next("inbox.room", (f) => f.room.unread === 1);
    expect(act.room.mentions).toBe(1);
    const note = await d.next((f) => f.type === "notification.new");
    expect(note.notification.kind).toBe("mention");
    const r = await api("POST", `/api/v1/rooms/${room.id}/read`, { token: b.token, body: { seq: 99 } });
    expect(r.body.lastReadSeq).toBe(1);
    const cleared = await d.next("inbox.room", (f) => f.room.unread === 0);
    expect(cleared.room.lastReadSeq).toBe(1);
    const mine = await api("GET", "/api/v1/me/rooms", { token: b.token });
    expect(mine.body.rooms.find((x: InboxRoom) => x.roomId === room.id).unread).toBe(0);
    // removal
    await api("DELETE", `/api/v1/rooms/${room.id}/members/${b.id}`, { token: a.token });
    const rem = await d.next((f) => f.type === "inbox.removed");
    expect(rem.roomId).toBe(room.id);
  });
});
