/**
 * Names on the admin screens, inside workerd: an administrator who is not a
 * member of a private room sees its name (a DM: its two people's names) in the
 * legal holds list and in the audit page's `names`, people by their display
 * names; others get 403; and an id the node does not know is named null (or
 * left out) without any object being created for it.
 */
import { env, listDurableObjectIds, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { admin, api, newRoom, newUser, sleep, unusedRoomId } from "./helpers";
import type { AuditPage } from "../../protocol/audit";
import type { LegalHold } from "../../protocol/models";
import type { Env } from "../../durable-objects/shared/env";
import { namesFor } from "../../worker/admin-names";

const dirStub = () => env.DIRECTORY.get(env.DIRECTORY.idFromName("directory"));
const enc = encodeURIComponent;

/** The audit page for `query`, once it holds `n` records (rooms ship theirs after the commit). */
async function auditPage(query: string, n = 1, ms = 10_000): Promise<AuditPage> {
  const until = Date.now() + ms;
  for (;;) {
    const r = await api<AuditPage>("GET", `/api/v1/admin/audit?${query}`, { token: await admin() });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    if (r.body.records.length >= n || Date.now() > until) return r.body;
    await sleep(50);
  }
}

const objectCounts = async () => ({ rooms: (await listDurableObjectIds(env.ROOMS)).length, users: (await listDurableObjectIds(env.USERS)).length, mirrors: (await listDurableObjectIds(env.MIRRORS)).length });

describe("names on the admin screens", () => {
  it("an admin who is not in a private room sees its name in the holds list and in the audit page", async () => {
    const token = await admin();
    const owner = await newUser("nmown");
    const room = await newRoom(owner.token, "董事会 Board minutes");
    // The admin is not a member: the room is no part of their own list.
    expect((await api("GET", `/api/v1/rooms/${enc(room.id)}`, { token })).status).toBe(404);

    const onRoom = await api<LegalHold>("POST", "/api/v1/admin/holds", { token, body: { roomId: room.id, reason: "case N-1" } });
    const onUser = await api<LegalHold>("POST", "/api/v1/admin/holds", { token, body: { userId: owner.id, reason: "case N-2" } });
    expect([onRoom.status, onUser.status]).toEqual([201, 201]);
    expect(onRoom.body.targetName).toBe("董事会 Board minutes");
    expect(onUser.body.targetName).toBe(owner.username.toUpperCase());

    const holds = (await api<{ holds: LegalHold[] }>("GET", "/api/v1/admin/holds", { token })).body.holds;
    expect(holds.find((h) => h.id === onRoom.body.id)?.targetName).toBe("董事会 Board minutes");
    expect(holds.find((h) => h.id === onUser.body.id)?.targetName).toBe(owner.username.toUpperCase());

    // A rename shows at the next look: the name is read when listed, not stored with the hold.
    expect((await api("PATCH", `/api/v1/rooms/${enc(room.id)}`, { token: owner.token, body: { name: "Board minutes 2026" } })).status).toBe(200);
    const renamed = (await api<{ holds: LegalHold[] }>("GET", "/api/v1/admin/holds", { token })).body.holds;
    expect(renamed.find((h) => h.id === onRoom.body.id)?.targetName).toBe("Board minutes 2026");

    // The audit page names the room (room.created, recorded by the room itself) and its creator.
    const page = await auditPage(`room=${enc(room.id)}&action=room.created`);
    expect(page.records[0]).toMatchObject({ roomId: room.id, actor: owner.id });
    expect(new Map(page.names?.map((n) => [n.id, n.name]))).toEqual(new Map([[room.id, "Board minutes 2026"], [owner.id, owner.username.toUpperCase()]]));

    const released = await api<LegalHold>("DELETE", `/api/v1/admin/holds/${onRoom.body.id}`, { token });
    expect(released.body.targetName).toBe("Board minutes 2026");
    expect((await api("DELETE", `/api/v1/admin/holds/${onUser.body.id}`, { token })).status).toBe(200);
  });

  it("a DM is named by its two people", async () => {
    const a = await newUser("nmdma");
    const b = await newUser("nmdmb");
    const dm = await api<{ id: string }>("POST", "/api/v1/dms", { token: a.token, body: { userId: b.id } });
    expect(dm.status).toBe(201);
    const token = await admin();
    const hold = await api<LegalHold>("POST", "/api/v1/admin/holds", { token, body: { roomId: dm.body.id, reason: "case N-3" } });
    expect(hold.status).toBe(201);
    expect(hold.body.targetName).toBe(`${a.username.toUpperCase()} & ${b.username.toUpperCase()}`);
    const page = await auditPage(`room=${enc(dm.body.id)}&action=hold.placed`);
    expect(page.names?.find((n) => n.id === dm.body.id)?.name).toBe(`${a.username.toUpperCase()} & ${b.username.toUpperCase()}`);
    expect((await api("DELETE", `/api/v1/admin/holds/${hold.body.id}`, { token })).status).toBe(200);
  });

  it("someone who is not an administrator gets 403, names or not", async () => {
    const owner = await newUser("nmnon");
    await newRoom(owner.token, "Not for them");
    for (const path of ["/api/v1/admin/holds", "/api/v1/admin/audit"]) {
      const r = await api("GET", path, { token: owner.token });
      expect(r.status, path).toBe(403);
      expect(r.body.error.code).toBe("forbidden");
    }
  });

  it("an id the node does not know: no hold on it, a hold on a room gone from the directory is named null, and nothing is created", async () => {
    const token = await admin();
    const before = await objectCounts();
    const ghost = unusedRoomId();
    // A hold is placed only on a known target.
    expect((await api("POST", "/api/v1/admin/holds", { token, body: { roomId: ghost, reason: "case N-4" } })).status).toBe(404);
    // A hold whose room the directory no longer knows (as after restoring an older directory): written as the directory stores holds.
    const hold = { id: "h_ghostnames0000001", kind: "room", targetId: ghost, reason: "case N-5", createdBy: "system", createdAt: Date.now() };
    await runInDurableObject(dirStub(), async (_d, state) => void state.storage.sql.exec("INSERT INTO settings (key, value) VALUES (?, ?)", `hold:${hold.id}`, JSON.stringify(hold)));
    try {
      const holds = (await api<{ holds: LegalHold[] }>("GET", "/api/v1/admin/holds", { token })).body.holds;
      expect(holds.find((h) => h.id === hold.id)).toEqual({ ...hold, targetName: null });
      // The audit page asked about it: no record, no name.
      const page = await auditPage(`room=${enc(ghost)}`, 1, 200);
      expect(page).toEqual({ records: [], nextCursor: null, names: [] });
      expect(await objectCounts()).toEqual(before);
    } finally {
      await runInDurableObject(dirStub(), async (_d, state) => void state.storage.sql.exec("DELETE FROM settings WHERE key = ?", `hold:${hold.id}`));
    }
  });

  it("a room of another node is named by this node's mirror of it; one with no mirror here is left out, and no mirror is made for it", async () => {
    const mirrored = unusedRoomId("peer");
    const unmirrored = unusedRoomId("peer");
    const owner = await newUser("nmmir");
    // What the home's first push leaves here (durable-objects/mirror): the mirror's file and the directory's row.
    await env.MIRRORS.get(env.MIRRORS.idFromName(mirrored)).applyPush({
      room: { id: mirrored, name: "上海 Shanghai ops", topic: "", kind: "group", visibility: "private", createdAt: Date.now(), createdBy: owner.id, residency: "everywhere" },
      members: [],
      membersRev: 1,
      lastSeq: 0,
      version: 0,
      after: 0,
      messages: [],
      reads: [],
    });
    await dirStub().registerMirror(mirrored, null);
    const before = await objectCounts();
    const names = await namesFor(env as unknown as Env, [mirrored, unmirrored, owner.id, "system"]);
    expect(names).toEqual({ [mirrored]: "上海 Shanghai ops", [owner.id]: owner.username.toUpperCase() });
    expect(await objectCounts()).toEqual(before);
  });
});
