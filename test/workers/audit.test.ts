/**
 * The audit trail inside workerd: each action writes its record in its own
 * transaction (the chain in the object's SQLite file links up and hashes
 * right), a record that cannot be written refuses the action with
 * `storage_error` and leaves nothing of it (fail closed: 0 records dropped),
 * and admins read every object's records through GET /api/v1/admin/audit.
 *
 * The storage fault is a real SQLite failure inside the object's transaction
 * (breakAuditWrites in audit-fixture.ts), exactly where a full disk would fail
 * the write.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { admin, api, login, newRoom, newUser, postMessage } from "./helpers";
import { sha256, sha256Hex } from "../../durable-objects/shared/audit-chain.mjs";
import { breakAuditWrites, chain, dirStub, expectIntact, roomStub, sql, userStub } from "./audit-fixture";
import type { AuditPage } from "../../protocol/audit";

async function audit(query: string, token?: string) {
  return api<AuditPage>("GET", `/api/v1/admin/audit${query}`, { token: token ?? (await admin()) });
}

/** The copy in the directory is fed after each commit: wait until `pred` holds. */
async function eventually<T>(fn: () => Promise<T>, pred: (v: T) => boolean, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (pred(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("the chain's hash", () => {
  it("is SHA-256: the synchronous implementation agrees with WebCrypto at every padding boundary", async () => {
    for (const n of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 1000, 5000]) {
      const data = new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff);
      const expected = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
      expect(sha256(data), `length ${n}`).toEqual(expected);
    }
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256Hex("会议记录 ✓")).toBe([...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode("会议记录 ✓")))].map((b) => b.toString(16).padStart(2, "0")).join(""));
  });
});

describe("records are written with their actions", () => {
  it("rooms: created, member added, role changed, renamed, member removed, admin recall; each linked to the one before", async () => {
    const owner = await newUser("aud");
    const other = await newUser("aud");
    const room = await newRoom(owner.token, "audited", "private");
    expect((await api("POST", `/api/v1/rooms/${room.id}/members`, { token: owner.token, body: { userId: other.id } })).status).toBe(200);
    expect((await api("PATCH", `/api/v1/rooms/${room.id}/members/${other.id}`, { token: owner.token, body: { role: "admin" } })).status).toBe(200);
    expect((await api("PATCH", `/api/v1/rooms/${room.id}`, { token: owner.token, body: { name: "audited too" } })).status).toBe(200);
    const sent = await postMessage(other.token, room.id, "secret words");
    expect((await api("DELETE", `/api/v1/rooms/${room.id}/messages/${sent.id}`, { token: owner.token })).status).toBe(200);
    expect((await api("DELETE", `/api/v1/rooms/${room.id}/members/${other.id}`, { token: owner.token })).status).toBe(200);

    const rows = await chain(roomStub(room.id));
    expect(rows.map((r) => r.action)).toEqual(["room.created", "member.added", "member.role_changed", "room.renamed", "message.recalled_by_admin", "member.removed"]);
    expect(rows.every((r) => r.actor === owner.id && r.room_id === room.id)).toBe(true);
    expect(rows[1].user_id).toBe(other.id);
    expect(JSON.parse(rows[2].detail)).toEqual({ from: "member", to: "admin" });
    expect(JSON.parse(rows[3].detail)).toEqual({ from: "audited", to: "audited too" });
    // Never message text in the trail.
    expect(rows.map((r) => r.detail).join("")).not.toContain("secret words");
    expectIntact(rows);
  });

  it("sign-in, sign-out and a failed sign-in; user created by an admin", async () => {
    const u = await newUser("audsign");
    const bad = await login(u.username, "wrong password", "203.0.113.77");
    expect(bad.status).toBe(401);
    const second = await login(u.username, u.password);
    expect((await api("POST", "/api/v1/auth/logout", { token: second.body.token })).status).toBe(200);

    const rows = await chain(userStub(u.id));
    expect(rows.map((r) => r.action)).toEqual(["auth.signin", "auth.signin", "auth.signout"]);
    expect(rows[2].actor).toBe(u.id);
    expectIntact(rows);

    const dir = await chain(dirStub());
    const created = dir.find((r) => r.action === "user.created" && r.user_id === u.id)!;
    const adminId = (await api("GET", "/api/v1/me", { token: await admin() })).body.id;
    expect(created.actor).toBe(adminId);
    const failed = dir.find((r) => r.action === "auth.signin_failed" && r.user_id === u.id)!;
    expect(failed.actor).toBe("anonymous");
    expect(JSON.parse(failed.detail)).toMatchObject({ username: u.username, address: "203.0.113.77" });
    expect(failed.detail).not.toContain("wrong password");
    expectIntact(dir);
  });
});

describe("fail closed", () => {
  it("a room whose audit write fails refuses the rename (503 storage_error) and keeps nothing of it", async () => {
    const owner = await newUser("audfault");
    const room = await newRoom(owner.token, "before", "private");
    const stub = roomStub(room.id);
    const before = await chain(stub);
    const heal = await breakAuditWrites(stub);
    const r = await api("PATCH", `/api/v1/rooms/${room.id}`, { token: owner.token, body: { name: "after" } });
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe("storage_error");
    expect(r.body.error.message).toMatch(/audit record/);
    await heal();
    expect((await api("GET", `/api/v1/rooms/${room.id}`, { token: owner.token })).body.room.name).toBe("before");
    expect(await sql(stub, "SELECT value FROM meta WHERE key = 'name'").catch(() => [])).not.toContainEqual({ value: "after" });
    expect(await chain(stub)).toEqual(before);
    // Healed: the same action goes through and is recorded right after the last record.
    expect((await api("PATCH", `/api/v1/rooms/${room.id}`, { token: owner.token, body: { name: "after" } })).status).toBe(200);
    const rows = await chain(stub);
    expect(rows.map((r) => r.action)).toEqual(["room.created", "room.renamed"]);
    expectIntact(rows);
  });

  it("a user object whose audit write fails refuses the sign-in: no session, no token", async () => {
    const u = await newUser("audfault");
    const stub = userStub(u.id);
    const sessions = await sql(stub, "SELECT id FROM sessions");
    const before = await chain(stub);
    const heal = await breakAuditWrites(stub);
    const r = await login(u.username, u.password);
    await heal();
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe("storage_error");
    expect(r.body.token).toBeUndefined();
    expect(await sql(stub, "SELECT id FROM sessions")).toEqual(sessions);
    expect(await chain(stub)).toEqual(before);
  });

  it("the directory whose audit write fails refuses to create an account: no account", async () => {
    const username = `audnobody${Date.now().toString(36)}`;
    const heal = await breakAuditWrites(dirStub());
    const r = await api("POST", "/api/v1/users", { token: await admin(), body: { username, displayName: "Nobody", password: "correct horse battery" } });
    await heal();
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe("storage_error");
    expect(await sql(dirStub(), "SELECT id FROM users WHERE username = ?", username)).toEqual([]);
    expect(await sql(dirStub(), "SELECT seq FROM audit_copy WHERE detail LIKE ?", `%${username}%`)).toEqual([]);
    expectIntact(await chain(dirStub()));
  });
});

describe("GET /api/v1/admin/audit", () => {
  it("is for admins only", async () => {
    const u = await newUser("audnosy");
    const r = await audit("", u.token);
    expect(r.status).toBe(403);
    expect(r.body as unknown).toMatchObject({ error: { code: "forbidden" } });
  });

  it("lists every object's records, newest first, filtered by room, user and action, in pages", async () => {
    const owner = await newUser("audlist");
    const other = await newUser("audlist");
    const room = await newRoom(owner.token, "listed", "private", [other.id]);
    await api("PATCH", `/api/v1/rooms/${room.id}`, { token: owner.token, body: { name: "listed 2" } });
    await api("PATCH", `/api/v1/rooms/${room.id}`, { token: owner.token, body: { name: "listed 3" } });

    const byRoom = await eventually(() => audit(`?room=${room.id}`), (r) => r.body.records?.length === 3);
    expect(byRoom.status).toBe(200);
    expect(byRoom.body.records.map((r) => r.action)).toEqual(["room.renamed", "room.renamed", "room.created"]);
    expect(JSON.parse(byRoom.body.records[0].detail)).toEqual({ from: "listed 2", to: "listed 3" });
    expect(byRoom.body.records[0].object).toMatch(/^RoomObject:[0-9a-f]{64}$/);

    // By user: the actor or the user acted on, from every object (directory, their own, the room).
    const byUser = await eventually(() => audit(`?user=${other.id}`), (r) => r.body.records?.some((x) => x.action === "auth.signin") ?? false);
    expect(new Set(byUser.body.records.map((r) => r.action))).toEqual(new Set(["user.created", "auth.signin"]));
    const signins = await audit(`?user=${owner.id}&action=auth.signin`);
    expect(signins.body.records.map((r) => r.action)).toEqual(["auth.signin"]);

    const page1 = await audit(`?room=${room.id}&limit=2`);
    expect(page1.body.records).toHaveLength(2);
    const page2 = await audit(`?room=${room.id}&limit=2&cursor=${page1.body.nextCursor}`);
    expect(page2.body.records.map((r) => r.action)).toEqual(["room.created"]);
    expect(page2.body.nextCursor).toBeNull();

    const t = byRoom.body.records[0].at;
    expect((await audit(`?room=${room.id}&from=${t + 1}`)).body.records).toEqual([]);
    expect((await audit(`?room=${room.id}&to=${t + 1}`)).body.records.length).toBe(3);
  });

  it("refuses a bad filter or cursor with invalid_request", async () => {
    for (const q of ["?action=room.exploded", "?cursor=not!a!cursor", "?cursor=bm9wZQ", "?limit=0", "?user=robert'); DROP TABLE"]) {
      const r = await api("GET", `/api/v1/admin/audit${q}`, { token: await admin() });
      expect(r.status, q).toBe(400);
      expect(r.body.error.code, q).toBe("invalid_request");
    }
  });

  it("the directory holds a checkpoint of every chain head it was sent", async () => {
    const owner = await newUser("audhead");
    const room = await newRoom(owner.token, "headed", "private");
    const key = `RoomObject:${env.ROOMS.idFromName(room.id).toString()}`;
    const cp = await eventually(
      () => dirStub().auditCheckpoint(),
      (c) => c?.heads.some((h) => h.object === key) ?? false,
    );
    const rows = await chain(roomStub(room.id));
    expect(cp!.heads.find((h) => h.object === key)).toEqual({ object: key, seq: rows.at(-1)!.seq, hash: rows.at(-1)!.hash });
  });
});
