/**
 * Rooms and DMs over REST: creation, listing, the public directory, joining,
 * invitations, removal, leaving and ownership hand-over, roles, renaming, and
 * the rule that a room the caller may not see looks exactly like no room.
 */
import { describe, expect, it } from "vitest";
import { api, newRoom, newUser, openRoomSocket, sendMessage, sleep, unusedRoomId } from "./helpers";
import type { InboxRoom } from "../../protocol/device";
import type { Member } from "../../protocol/models";
import type { PublicRoom } from "../../protocol/rest";

const ROOM_ID = /^r_[a-z0-9]{16}@local$/;

const info = (token: string, roomId: string) => api("GET", `/api/v1/rooms/${encodeURIComponent(roomId)}`, { token });
const myRoomIds = async (token: string) => (await api("GET", "/api/v1/me/rooms", { token })).body.rooms.map((r: InboxRoom) => r.roomId) as string[];
const invite = (token: string, roomId: string, userId: string) => api("POST", `/api/v1/rooms/${roomId}/members`, { token, body: { userId } });
const setRole = (token: string, roomId: string, userId: string, role: string) => api("PATCH", `/api/v1/rooms/${roomId}/members/${userId}`, { token, body: { role } });
const roleOf = async (token: string, roomId: string, userId: string) => (await info(token, roomId)).body.members.find((m: Member) => m.userId === userId)?.role;

describe("creating and listing rooms", () => {
  it("creates public and private rooms with ids r_<16>@local", async () => {
    const a = await newUser("creator");
    for (const visibility of ["public", "private"] as const) {
      const r = await api("POST", "/api/v1/rooms", { token: a.token, body: { name: `My ${visibility}`, visibility } });
      expect(r.status).toBe(201);
      expect(r.body.id).toMatch(ROOM_ID);
      expect(r.body).toMatchObject({ name: `My ${visibility}`, kind: "group", visibility, createdBy: a.id, lastSeq: 0, memberCount: 1, role: "owner" });
    }
  });

  it("creates a room with initial members who see it at once", async () => {
    const a = await newUser("withm");
    const b = await newUser("withm");
    const room = await newRoom(a.token, "Team", "private", [b.id]);
    const i = await info(b.token, room.id);
    expect(i.status).toBe(200);
    expect(i.body.members.map((m: Member) => m.userId).sort()).toEqual([a.id, b.id].sort());
    expect(await roleOf(a.token, room.id, b.id)).toBe("member");
    expect(await myRoomIds(b.token)).toContain(room.id);
  });

  it("refuses unknown members and bad bodies without creating anything", async () => {
    const a = await newUser("badcreate");
    const ghost = await api("POST", "/api/v1/rooms", { token: a.token, body: { name: "x", visibility: "private", members: ["u_0000000000000000@local"] } });
    expect(ghost.status).toBe(400);
    const badVis = await api("POST", "/api/v1/rooms", { token: a.token, body: { name: "x", visibility: "secret" } });
    expect(badVis.status).toBe(400);
    const blank = await api("POST", "/api/v1/rooms", { token: a.token, body: { name: "   ", visibility: "public" } });
    expect(blank.status).toBe(400);
    expect(await myRoomIds(a.token)).toEqual([]);
  });

  it("lists the caller's rooms", async () => {
    const a = await newUser("lister");
    const b = await newUser("lister");
    const r1 = await newRoom(a.token, "one");
    const r2 = await newRoom(a.token, "two", "public");
    await newRoom(b.token, "not mine");
    const list = await api("GET", "/api/v1/me/rooms", { token: a.token });
    expect(list.status).toBe(200);
    expect(list.body.rooms.map((r: InboxRoom) => r.roomId).sort()).toEqual([r1.id, r2.id].sort());
    expect(list.body.rooms.find((r: InboxRoom) => r.roomId === r1.id)).toMatchObject({ name: "one", kind: "group", visibility: "private", role: "owner" });
  });

  it("the public directory lists public rooms only", async () => {
    const a = await newUser("dir");
    const pub = await newRoom(a.token, "Open Plaza", "public");
    const priv = await newRoom(a.token, "Back Office", "private");
    const b = await newUser("dirreader");
    const list = await api("GET", "/api/v1/rooms/public", { token: b.token });
    expect(list.status).toBe(200);
    const ids = list.body.rooms.map((r: PublicRoom) => r.id);
    expect(ids).toContain(pub.id);
    expect(ids).not.toContain(priv.id);
    expect(list.body.rooms.find((r: PublicRoom) => r.id === pub.id).name).toBe("Open Plaza");
  });
});

describe("joining and visibility", () => {
  it("anyone may join a public room", async () => {
    const a = await newUser("pubowner");
    const b = await newUser("joiner");
    const room = await newRoom(a.token, "lobby", "public");
    expect((await info(b.token, room.id)).status).toBe(404);
    const j = await api("POST", `/api/v1/rooms/${room.id}/join`, { token: b.token });
    expect(j.status).toBe(200);
    expect(j.body).toMatchObject({ id: room.id, role: "member", memberCount: 2 });
    expect((await info(b.token, room.id)).status).toBe(200);
    expect(await myRoomIds(b.token)).toContain(room.id);
    // Joining again changes nothing.
    expect((await api("POST", `/api/v1/rooms/${room.id}/join`, { token: b.token })).body.memberCount).toBe(2);
  });

  it("joining a private room answers exactly like a room that does not exist", async () => {
    const a = await newUser("privowner");
    const b = await newUser("prober");
    const room = await newRoom(a.token, "secret", "private");
    const priv = await api("POST", `/api/v1/rooms/${room.id}/join`, { token: b.token });
    const none = await api("POST", `/api/v1/rooms/${unusedRoomId()}/join`, { token: b.token });
    expect(priv.status).toBe(404);
    expect(priv.body.error.code).toBe("not_found");
    expect(none.status).toBe(404);
    expect(priv.body).toEqual(none.body);
    expect((await info(a.token, room.id)).body.members).toHaveLength(1);
  });

  it("a non-member gets 404 for info, members, history, send and socket", async () => {
    const a = await newUser("guarded");
    const b = await newUser("outsider");
    const room = await newRoom(a.token, "guarded", "public");
    const missing = await info(b.token, unusedRoomId());
    const checks = [
      await info(b.token, room.id),
      await api("GET", `/api/v1/rooms/${room.id}/members`, { token: b.token }),
      await api("GET", `/api/v1/rooms/${room.id}/messages`, { token: b.token }),
      await sendMessage(b.token, room.id, "let me in"),
      await api("PATCH", `/api/v1/rooms/${room.id}`, { token: b.token, body: { name: "pwned" } }),
      await invite(b.token, room.id, b.id),
    ];
    for (const r of checks) {
      expect(r.status).toBe(404);
      expect(r.body).toEqual(missing.body);
    }
    const ws = await openRoomSocket(room.id, b.token);
    expect(ws.status).toBe(404);
    expect(ws.body.error.code).toBe("not_found");
    // Nothing was written.
    const hist = await api("GET", `/api/v1/rooms/${room.id}/messages`, { token: a.token });
    expect(hist.body.messages).toEqual([]);
    expect((await info(a.token, room.id)).body.room.name).toBe("guarded");
  });

  it("malformed room ids and ids of other nodes are 404", async () => {
    const a = await newUser("ids");
    const bad = ["r_short@local", "room1", "r_0123456789abcdef", "R_0123456789ABCDEF@local", unusedRoomId("elsewhere"), "r_0123456789abcdef@Local"];
    for (const id of bad) {
      for (const r of [await info(a.token, id), await sendMessage(a.token, id, "hi"), await api("POST", `/api/v1/rooms/${encodeURIComponent(id)}/join`, { token: a.token })]) {
        expect(r.status, id).toBe(404);
        expect(r.body.error.code, id).toBe("not_found");
      }
      expect((await openRoomSocket(id, a.token)).status, id).toBe(404);
    }
  });
});

describe("members", () => {
  it("any member of a group room can invite", async () => {
    const a = await newUser("inv");
    const b = await newUser("inv");
    const c = await newUser("inv");
    const room = await newRoom(a.token, "invites", "private", [b.id]);
    const r = await invite(b.token, room.id, c.id);
    expect(r.status).toBe(200);
    expect((await info(c.token, room.id)).status).toBe(200);
    expect(await roleOf(a.token, room.id, c.id)).toBe("member");
    expect(await myRoomIds(c.token)).toContain(room.id);
    // Unknown users cannot be invited.
    expect((await invite(a.token, room.id, "u_0000000000000000@local")).status).toBe(400);
  });

  it("owner and admins remove members; members cannot remove anyone", async () => {
    const owner = await newUser("rmo");
    const adm = await newUser("rma");
    const m1 = await newUser("rm1");
    const m2 = await newUser("rm2");
    const room = await newRoom(owner.token, "removals", "private", [adm.id, m1.id, m2.id]);
    expect((await setRole(owner.token, room.id, adm.id, "admin")).status).toBe(200);

    const byMember = await api("DELETE", `/api/v1/rooms/${room.id}/members/${m2.id}`, { token: m1.token });
    expect(byMember.status).toBe(403);
    expect(byMember.body.error.code).toBe("forbidden");
    expect((await info(m2.token, room.id)).status).toBe(200);

    // An admin cannot remove the owner.
    expect((await api("DELETE", `/api/v1/rooms/${room.id}/members/${owner.id}`, { token: adm.token })).status).toBe(403);

    expect((await api("DELETE", `/api/v1/rooms/${room.id}/members/${m1.id}`, { token: adm.token })).status).toBe(200);
    expect((await info(m1.token, room.id)).status).toBe(404);
    expect(await myRoomIds(m1.token)).not.toContain(room.id);

    expect((await api("DELETE", `/api/v1/rooms/${room.id}/members/${adm.id}`, { token: owner.token })).status).toBe(200);
    expect((await info(adm.token, room.id)).status).toBe(404);
    expect((await info(owner.token, room.id)).body.members.map((m: Member) => m.userId).sort()).toEqual([owner.id, m2.id].sort());
  });

  it("a member can leave", async () => {
    const a = await newUser("leaveo");
    const b = await newUser("leaver");
    const room = await newRoom(a.token, "leaving", "public", [b.id]);
    const r = await api("POST", `/api/v1/rooms/${room.id}/leave`, { token: b.token });
    expect(r.status).toBe(200);
    expect((await info(b.token, room.id)).status).toBe(404);
    expect(await myRoomIds(b.token)).not.toContain(room.id);
    expect((await info(a.token, room.id)).body.members).toHaveLength(1);
    // Leaving twice: no longer a member.
    expect((await api("POST", `/api/v1/rooms/${room.id}/leave`, { token: b.token })).status).toBe(404);
  });

  it("an owner who leaves hands the room to an admin before older members", async () => {
    const owner = await newUser("ho");
    const oldMember = await newUser("hm");
    const room = await newRoom(owner.token, "handover", "private", [oldMember.id]);
    await sleep(5); // a later joinedAt (milliseconds) for whoever joins next: the heir is picked by it
    const adm = await newUser("ha");
    await invite(owner.token, room.id, adm.id);
    await setRole(owner.token, room.id, adm.id, "admin");
    expect((await api("POST", `/api/v1/rooms/${room.id}/leave`, { token: owner.token })).status).toBe(200);
    expect(await roleOf(adm.token, room.id, adm.id)).toBe("owner");
    expect(await roleOf(adm.token, room.id, oldMember.id)).toBe("member");
    const inbox = (await api("GET", "/api/v1/me/rooms", { token: adm.token })).body.rooms.find((r: InboxRoom) => r.roomId === room.id);
    expect(inbox.role).toBe("owner");
  });

  it("an owner who leaves a room without admins hands it to the oldest member", async () => {
    const owner = await newUser("ho2");
    const first = await newUser("first");
    const room = await newRoom(owner.token, "handover2", "private");
    await invite(owner.token, room.id, first.id);
    await sleep(5); // a later joinedAt (milliseconds) for whoever joins next: the heir is picked by it
    const second = await newUser("second");
    await invite(owner.token, room.id, second.id);
    expect((await api("POST", `/api/v1/rooms/${room.id}/leave`, { token: owner.token })).status).toBe(200);
    expect(await roleOf(first.token, room.id, first.id)).toBe("owner");
    expect(await roleOf(first.token, room.id, second.id)).toBe("member");
  });

  it("only the owner changes roles", async () => {
    const owner = await newUser("ro");
    const adm = await newUser("ra");
    const m = await newUser("rm");
    const room = await newRoom(owner.token, "roles", "private", [adm.id, m.id]);
    const promoted = await setRole(owner.token, room.id, adm.id, "admin");
    expect(promoted.status).toBe(200);
    expect(promoted.body).toMatchObject({ userId: adm.id, role: "admin" });

    const byAdmin = await setRole(adm.token, room.id, m.id, "admin");
    expect(byAdmin.status).toBe(403);
    expect(byAdmin.body.error.code).toBe("forbidden");
    const byMember = await setRole(m.token, room.id, m.id, "admin");
    expect(byMember.status).toBe(403);
    expect(await roleOf(owner.token, room.id, m.id)).toBe("member");

    // "owner" cannot be given with this endpoint, nor the owner's own role changed.
    expect((await setRole(owner.token, room.id, m.id, "owner")).status).toBe(400);
    expect((await setRole(owner.token, room.id, owner.id, "member")).status).toBe(400);

    expect((await setRole(owner.token, room.id, adm.id, "member")).status).toBe(200);
    expect(await roleOf(owner.token, room.id, adm.id)).toBe("member");
  });

  it("room admins rename; members cannot", async () => {
    const owner = await newUser("rno");
    const adm = await newUser("rna");
    const m = await newUser("rnm");
    const room = await newRoom(owner.token, "Before", "public", [adm.id, m.id]);
    await setRole(owner.token, room.id, adm.id, "admin");
    const byMember = await api("PATCH", `/api/v1/rooms/${room.id}`, { token: m.token, body: { name: "Member's" } });
    expect(byMember.status).toBe(403);
    const r = await api("PATCH", `/api/v1/rooms/${room.id}`, { token: adm.token, body: { name: "After" } });
    expect(r.status).toBe(200);
    expect(r.body.name).toBe("After");
    expect((await info(m.token, room.id)).body.room.name).toBe("After");
    const dir = (await api("GET", "/api/v1/rooms/public", { token: m.token })).body.rooms.find((x: PublicRoom) => x.id === room.id);
    expect(dir.name).toBe("After");
    const inbox = (await api("GET", "/api/v1/me/rooms", { token: m.token })).body.rooms.find((x: InboxRoom) => x.roomId === room.id);
    expect(inbox.name).toBe("After");
  });
});

describe("direct messages", () => {
  it("one DM per pair: 201, then 200 with the same room, from either side", async () => {
    const a = await newUser("dma");
    const b = await newUser("dmb");
    const first = await api("POST", "/api/v1/dms", { token: a.token, body: { userId: b.id } });
    expect(first.status).toBe(201);
    expect(first.body.id).toMatch(ROOM_ID);
    expect(first.body).toMatchObject({ kind: "dm", visibility: "private", memberCount: 2 });
    const again = await api("POST", "/api/v1/dms", { token: a.token, body: { userId: b.id } });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const other = await api("POST", "/api/v1/dms", { token: b.token, body: { userId: a.id } });
    expect(other.status).toBe(200);
    expect(other.body.id).toBe(first.body.id);
    expect(await myRoomIds(b.token)).toContain(first.body.id);
  });

  it("a DM cannot gain members, be left, renamed or get roles", async () => {
    const a = await newUser("dmx");
    const b = await newUser("dmy");
    const c = await newUser("dmz");
    const dm = (await api("POST", "/api/v1/dms", { token: a.token, body: { userId: b.id } })).body;
    const add = await invite(a.token, dm.id, c.id);
    expect(add.status).toBe(400);
    expect(add.body.error.code).toBe("invalid_request");
    const leave = await api("POST", `/api/v1/rooms/${dm.id}/leave`, { token: b.token });
    expect(leave.status).toBe(400);
    expect(leave.body.error.code).toBe("invalid_request");
    expect((await api("PATCH", `/api/v1/rooms/${dm.id}`, { token: a.token, body: { name: "ours" } })).status).toBe(400);
    expect((await setRole(a.token, dm.id, b.id, "admin")).status).toBe(400);
    expect((await info(c.token, dm.id)).status).toBe(404);
    expect((await info(b.token, dm.id)).body.members).toHaveLength(2);
  });

  it("a DM needs another, existing person", async () => {
    const a = await newUser("dmself");
    expect((await api("POST", "/api/v1/dms", { token: a.token, body: { userId: a.id } })).status).toBe(400);
    expect((await api("POST", "/api/v1/dms", { token: a.token, body: { userId: "u_0000000000000000@local" } })).status).toBe(400);
    expect((await api("POST", "/api/v1/dms", { token: a.token, body: { userId: "someone" } })).status).toBe(400);
    expect(await myRoomIds(a.token)).toEqual([]);
  });

  it("a DM is not in the public directory and cannot be joined", async () => {
    const a = await newUser("dmpa");
    const b = await newUser("dmpb");
    const c = await newUser("dmpc");
    const dm = (await api("POST", "/api/v1/dms", { token: a.token, body: { userId: b.id } })).body;
    expect((await api("GET", "/api/v1/rooms/public", { token: c.token })).body.rooms.map((r: PublicRoom) => r.id)).not.toContain(dm.id);
    const j = await api("POST", `/api/v1/rooms/${dm.id}/join`, { token: c.token });
    expect(j.status).toBe(404);
    expect(j.body).toEqual((await api("POST", `/api/v1/rooms/${unusedRoomId()}/join`, { token: c.token })).body);
  });
});
