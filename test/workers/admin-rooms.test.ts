/**
 * The administrators' list of the node's rooms (GET /api/v1/admin/rooms),
 * inside workerd: a private room the admin is not in and a DM are listed (the
 * DM named by its two people), names are searched in any script and case,
 * pages follow their cursor (group rooms by name, then DMs) without a room
 * twice, other nodes' DMs mirrored here are left out, and nothing is created
 * by asking. Others get 403, bad query values 400.
 */
import { env, listDurableObjectIds } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { admin, api, eventually, newRoom, newUser, unusedRoomId, type Res } from "./helpers";
import type { AdminRoom, AdminRoomPage } from "../../protocol/admin-rooms";

const dirStub = () => env.DIRECTORY.get(env.DIRECTORY.idFromName("directory"));
const enc = encodeURIComponent;
/** A tag no other room's name has, so a search finds exactly this test's rooms. */
const tag = () => `t${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

async function list(query: string, token?: string): Promise<Res<AdminRoomPage>> {
  return api<AdminRoomPage>("GET", `/api/v1/admin/rooms${query ? "?" + query : ""}`, { token: token ?? (await admin()) });
}

/** The same, for answers that are errors. */
async function refused(query: string, token?: string) {
  return api("GET", `/api/v1/admin/rooms${query ? "?" + query : ""}`, { token: token ?? (await admin()) });
}

/** Every room a query finds, following `nextCursor` to the end; also the page sizes seen. */
async function all(query: string, limit: number): Promise<{ rooms: AdminRoom[]; pages: number[] }> {
  const rooms: AdminRoom[] = [];
  const pages: number[] = [];
  for (let cursor: string | null = null, i = 0; i < 200; i++) {
    const r = await list(`${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.rooms.length).toBeLessThanOrEqual(limit);
    rooms.push(...r.body.rooms);
    pages.push(r.body.rooms.length);
    cursor = r.body.nextCursor;
    if (!cursor) return { rooms, pages };
  }
  throw new Error("no last page");
}

async function openDm(token: string, userId: string): Promise<string> {
  const r = await api<{ id: string }>("POST", "/api/v1/dms", { token, body: { userId } });
  expect(r.status).toBe(201);
  return r.body.id;
}

const objectCounts = async () => ({ rooms: (await listDurableObjectIds(env.ROOMS)).length, users: (await listDurableObjectIds(env.USERS)).length, mirrors: (await listDurableObjectIds(env.MIRRORS)).length });

describe("GET /api/v1/admin/rooms", () => {
  it("lists a private room the admin is not in, and a DM named by its two people", async () => {
    const token = await admin();
    const k = tag();
    const owner = await newUser("arown");
    const room = await newRoom(owner.token, `董事会 Board ${k}`);
    // The admin is not a member: the room is no part of their own list.
    expect((await api("GET", `/api/v1/rooms/${enc(room.id)}`, { token })).status).toBe(404);

    const found = await list(`q=${enc(k)}`);
    expect(found.status).toBe(200);
    expect(found.body).toEqual({ rooms: [expect.objectContaining({ id: room.id, name: `董事会 Board ${k}`, kind: "group", visibility: "private", createdBy: owner.id })], nextCursor: null });
    expect(typeof found.body.rooms[0].createdAt).toBe("number");
    // Its member count, as the room reports it to the directory after its creation.
    expect(await eventually(async () => (await list(`q=${enc(k)}`)).body.rooms[0].memberCount)).toBe(1);

    const a = await newUser("ardma");
    const b = await newUser("ardmb");
    const dm = await openDm(a.token, b.id);
    const dmName = [a.username.toUpperCase(), b.username.toUpperCase()].sort().join(" & ");
    // Found by either person's name, by the whole "A & B", and by its id.
    for (const q of [a.username.toUpperCase(), b.username, dmName, dm]) {
      const r = await list(`q=${enc(q)}`);
      expect(r.status).toBe(200);
      expect(r.body.rooms.filter((x) => x.id === dm), q).toEqual([expect.objectContaining({ id: dm, name: dmName, kind: "dm", visibility: "private", createdBy: a.id })]);
    }
    // Both are in the whole list, the group room before the DM.
    const { rooms } = await all("", 100);
    const ids = rooms.map((x) => x.id);
    expect(ids).toContain(room.id);
    expect(ids.indexOf(dm)).toBeGreaterThan(ids.indexOf(room.id));
  });

  it("searches names in any script and case, and a room's whole id", async () => {
    const owner = await newUser("arsrch");
    const k = tag();
    const shanghai = await newRoom(owner.token, `上海分行 ${k}`, "public");
    const aerzte = await newRoom(owner.token, `Ärzte ${k}`);
    const names = async (q: string) => (await list(`q=${enc(q)}`)).body.rooms.filter((r) => r.name.includes(k)).map((r) => r.name);
    expect(await names("上海")).toEqual([`上海分行 ${k}`]);
    expect(await names(`海分行 ${k}`)).toEqual([`上海分行 ${k}`]);
    expect(await names("ärzte")).toEqual([`Ärzte ${k}`]);
    expect(await names(`ÄRZTE ${k.toUpperCase()}`)).toEqual([`Ärzte ${k}`]);
    expect(await names(`  ${k}  `)).toEqual([`Ärzte ${k}`, `上海分行 ${k}`]);
    expect((await list(`q=${enc(shanghai.id)}`)).body).toEqual({ rooms: [expect.objectContaining({ id: shanghai.id, visibility: "public" })], nextCursor: null });
    expect((await list(`q=${enc(aerzte.id)}`)).body.rooms.map((r) => r.id)).toEqual([aerzte.id]);
    expect((await list(`q=${enc("没有这个房间 " + k)}`)).body).toEqual({ rooms: [], nextCursor: null });
  });

  it("pages with its cursor: group rooms by name, then DMs, each room once", async () => {
    const owner = await newUser("arpage");
    const k = tag();
    const made = [];
    for (const n of ["c", "a", "b"]) made.push(await newRoom(owner.token, `${k} ${n}`));
    const byName = await all(`q=${enc(k)}`, 2);
    expect(byName.pages).toEqual([2, 1]);
    expect(byName.rooms.map((r) => r.name)).toEqual([`${k} a`, `${k} b`, `${k} c`]);

    // Three DMs of one person, found by their name, two to a page.
    const p = await newUser("arpp");
    const dms = [];
    for (let i = 0; i < 3; i++) dms.push(await openDm(p.token, (await newUser("arpq")).id));
    const byPerson = await all(`q=${enc(p.username)}`, 2);
    expect(byPerson.rooms.map((r) => r.id).sort()).toEqual([...dms].sort());
    expect(byPerson.rooms.every((r) => r.kind === "dm" && r.name.includes(p.username.toUpperCase()))).toBe(true);
    expect(byPerson.pages).toEqual([2, 1]);

    // The whole list, three to a page: every room once, no DM before a group room.
    const whole = await all("", 3);
    const ids = whole.rooms.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of [...made.map((r) => r.id), ...dms]) expect(ids).toContain(id);
    const firstDm = whole.rooms.findIndex((r) => r.kind === "dm");
    expect(whole.rooms.slice(firstDm).every((r) => r.kind === "dm")).toBe(true);
    const groups = whole.rooms.slice(0, firstDm).map((r) => r.name);
    expect(groups).toEqual([...groups].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
  });

  it("leaves out the DMs of other nodes mirrored here, and creates nothing for an id it does not know", async () => {
    const a = await newUser("armir");
    const foreign = unusedRoomId("peer");
    // What another node's first push of a DM with `a` leaves in this directory (rooms-directory.ts registerMirror).
    await dirStub().registerMirror(foreign, { members: [a.id, "u_0000000000000000@peer"], createdBy: a.id, createdAt: Date.now() });
    const before = await objectCounts();
    expect((await list(`q=${enc(a.username)}`)).body.rooms.map((r) => r.id)).not.toContain(foreign);
    expect((await list(`q=${enc(foreign)}`)).body).toEqual({ rooms: [], nextCursor: null });
    expect((await list(`q=${enc(unusedRoomId())}`)).body).toEqual({ rooms: [], nextCursor: null });
    expect((await all("", 100)).rooms.map((r) => r.id)).not.toContain(foreign);
    expect(await objectCounts()).toEqual(before);
  });

  it("is for administrators only: 403 forbidden for anyone else, whatever the query", async () => {
    const someone = await newUser("arnon");
    await newRoom(someone.token, "Not for them");
    for (const query of ["", "q=Not", "limit=0"]) {
      const r = await refused(query, someone.token);
      expect(r.status, query).toBe(403);
      expect(r.body.error.code).toBe("forbidden");
    }
  });

  it("answers 400 invalid_request for a bad limit, query or cursor", async () => {
    const notOurs = btoa(JSON.stringify(["g", "x", "not an id"])).replace(/=+$/, "");
    for (const query of ["limit=0", "limit=101", "limit=ten", "limit=2.5", `q=${"x".repeat(121)}`, "cursor=!!", "cursor=abc", `cursor=${notOurs}`, `cursor=${btoa('["d",1]').replace(/=+$/, "")}`, "colour=red"]) {
      const r = await refused(query);
      expect(r.status, query).toBe(400);
      expect(r.body.error.code, query).toBe("invalid_request");
    }
  });
});
