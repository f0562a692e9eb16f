/**
 * Room settings and a person's own settings (issue 15, items 3–4): the room's
 * topic (any member, live to the room's sockets), per-room mute in the inbox
 * (no notifications from a muted room), and the interface language kept with
 * the account so it follows the person to another browser.
 */
import { describe, expect, it } from "vitest";
import { api, connect, connectDevice, newRoom, newUser, sendMessage } from "./helpers";
import type { InboxRoom } from "../../protocol/device";

const patchRoom = (token: string, roomId: string, body: unknown) => api("PATCH", `/api/v1/rooms/${roomId}`, { token, body });

describe("room topic", () => {
  it("any member sets the topic; the others see room.updated; names stay admins'", async () => {
    const owner = await newUser("tpo");
    const m = await newUser("tpm");
    const room = await newRoom(owner.token, "Topics", "public", [m.id]);
    expect(room.topic).toBe("");
    const socket = await connect(room.id, owner.token);
    const set = await patchRoom(m.token, room.id, { topic: "  Q3 报表 this week " });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ name: "Topics", topic: "Q3 报表 this week", role: "member" });
    const live = await socket.next("room.updated");
    expect(live.room).toMatchObject({ topic: "Q3 报表 this week", role: "owner" });
    // A member may not rename, and a refused rename leaves the topic as it was (all or nothing).
    const both = await patchRoom(m.token, room.id, { name: "Mine", topic: "changed" });
    expect(both.status).toBe(403);
    const info = await api("GET", `/api/v1/rooms/${room.id}`, { token: owner.token });
    expect(info.body.room).toMatchObject({ name: "Topics", topic: "Q3 报表 this week" });
    // "" clears it.
    expect((await patchRoom(owner.token, room.id, { topic: "" })).body.topic).toBe("");
    socket.close();
  });

  it("refuses bad topics and empty bodies with a field-named invalid_request", async () => {
    const owner = await newUser("tpb");
    const room = await newRoom(owner.token, "Bad topics");
    const long = await patchRoom(owner.token, room.id, { topic: "长".repeat(251) });
    expect(long.status).toBe(400);
    expect(long.body.error.message).toContain("topic");
    const hidden = await patchRoom(owner.token, room.id, { topic: "a\u202eb" });
    expect(hidden.status).toBe(400);
    expect((await patchRoom(owner.token, room.id, {})).status).toBe(400);
    expect((await patchRoom(owner.token, room.id, { topic: "长".repeat(250) })).status).toBe(200);
  });
});

describe("muting a room", () => {
  it("a muted room still counts unread but makes no notifications; unmuting brings them back", async () => {
    const a = await newUser("mua");
    const b = await newUser("mub");
    const room = await newRoom(a.token, "Muted", "private", [b.id]);
    const { socket: d } = await connectDevice(b.token);
    const muted = await api("PATCH", `/api/v1/me/rooms/${room.id}`, { token: b.token, body: { muted: true } });
    expect(muted.status).toBe(200);
    expect(muted.body).toMatchObject({ roomId: room.id, muted: true });
    await d.next("inbox.room", (f) => f.room.roomId === room.id && f.room.muted);

    await sendMessage(a.token, room.id, `hey @${b.username}`);
    const counted = await d.next("inbox.room", (f) => f.room.roomId === room.id && f.room.unread === 1);
    expect(counted.room).toMatchObject({ mentions: 1, muted: true });
    const notes = await api("GET", "/api/v1/me/notifications", { token: b.token });
    expect(notes.body.notifications).toEqual([]);

    await api("PATCH", `/api/v1/me/rooms/${room.id}`, { token: b.token, body: { muted: false } });
    await sendMessage(a.token, room.id, `again @${b.username}`);
    const note = await d.next("notification.new");
    expect(note.notification.roomId).toBe(room.id);
    const listed = (await api("GET", "/api/v1/me/rooms", { token: b.token })).body.rooms.find((r: InboxRoom) => r.roomId === room.id);
    expect(listed.muted).toBe(false);
    d.close();
  });

  it("refuses rooms the caller is not in, and bad bodies", async () => {
    const a = await newUser("mux");
    const b = await newUser("muy");
    const room = await newRoom(a.token, "Not b's");
    expect((await api("PATCH", `/api/v1/me/rooms/${room.id}`, { token: b.token, body: { muted: true } })).status).toBe(404);
    expect((await api("PATCH", `/api/v1/me/rooms/not-a-room`, { token: a.token, body: { muted: true } })).status).toBe(404);
    expect((await api("PATCH", `/api/v1/me/rooms/${room.id}`, { token: a.token, body: { muted: "yes" } })).status).toBe(400);
  });
});

describe("personal settings", () => {
  it("keeps the interface language with the account; null gives it back to each browser", async () => {
    const a = await newUser("lang");
    expect((await api("GET", "/api/v1/me/settings", { token: a.token })).body).toEqual({ sendReceipts: true, language: null });
    const set = await api("PATCH", "/api/v1/me/settings", { token: a.token, body: { language: "zh" } });
    expect(set.body).toEqual({ sendReceipts: true, language: "zh" });
    // Another setting leaves it alone.
    expect((await api("PATCH", "/api/v1/me/settings", { token: a.token, body: { sendReceipts: false } })).body).toEqual({ sendReceipts: false, language: "zh" });
    expect((await api("PATCH", "/api/v1/me/settings", { token: a.token, body: { language: "fr" } })).status).toBe(400);
    expect((await api("PATCH", "/api/v1/me/settings", { token: a.token, body: { language: null } })).body.language).toBe(null);
  });
});
