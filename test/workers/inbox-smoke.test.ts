import { describe, expect, it } from "vitest";
import { SELF } from "cloudflare:test";
import { api, BASE, newUser, newRoom } from "./helpers";

async function device(token: string, query = "") {
  const res = await SELF.fetch(`${BASE}/api/v1/socket${query}`, { headers: { upgrade: "websocket", authorization: `Bearer ${token}` } });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const frames: any[] = [];
  ws.addEventListener("message", (e) => {
    frames.push(JSON.parse(e.data as string));
  });
  const next = async (pred: (f: any) => boolean, ms = 5000) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const i = frames.findIndex(pred);
      if (i >= 0) return frames.splice(i, 1)[0];
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error("timeout; frames: " + JSON.stringify(frames));
  };
  return { ws, frames, next };
}

describe("inbox smoke", () => {
  it("device socket sees unread and mentions, read syncs", async () => {
    const a = await newUser("ia");
    const b = await newUser("ib");
    const room = await newRoom(a.token, "Inbox", "private", [b.id]);
    const d = await device(b.token);
    const hello = await d.next((f) => f.type === "inbox.hello");
    expect(hello.rooms.map((r: any) => r.roomId)).toContain(room.id);
    await api("POST", `/api/v1/rooms/${room.id}/messages`, { token: a.token, body: { text: `hi @${b.username}`, clientId: "x1" } });
    const act = await d.next((f) => f.type === "inbox.room" && f.room.unread === 1);
    expect(act.room.mentions).toBe(1);
    const note = await d.next((f) => f.type === "notification.new");
    expect(note.notification.kind).toBe("mention");
    const r = await api("POST", `/api/v1/rooms/${room.id}/read`, { token: b.token, body: { seq: 99 } });
    expect(r.body.lastReadSeq).toBe(1);
    const cleared = await d.next((f) => f.type === "inbox.room" && f.room.unread === 0);
    expect(cleared.room.lastReadSeq).toBe(1);
    const mine = await api("GET", "/api/v1/me/rooms", { token: b.token });
    expect(mine.body.rooms.find((x: any) => x.roomId === room.id).unread).toBe(0);
    // removal
    await api("DELETE", `/api/v1/rooms/${room.id}/members/${b.id}`, { token: a.token });
    const rem = await d.next((f) => f.type === "inbox.removed");
    expect(rem.roomId).toBe(room.id);
  });
});
