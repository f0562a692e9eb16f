/**
 * The compliance actions in the audit trail, inside workerd: retention
 * changes (node default and a room's own), each retention purge batch, legal
 * holds placed and released, erasures (the directory's start and each room's
 * part), and exports. Each is done through the admin API, then read back
 * through GET /api/v1/admin/audit with its actor and detail; each chain it
 * wrote to stays intact.
 *
 * Fail closed: a real SQLite failure on the object's next audit write (a
 * trigger aborting every INSERT into `audit_log`: breakAuditWrites in
 * audit-fixture.ts) must refuse the action and leave nothing of it.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { admin, api, newRoom, newUser, postMessage, sleep } from "./helpers";
import { type AuditRow, breakAuditWrites, chain, dirStub, expectIntact, roomStub, sql } from "./audit-fixture";
import type { AuditPage, AuditRecord } from "../../protocol/audit";
import type { RoomObject } from "../../durable-objects/room/room-object";
import type { Retention } from "../../durable-objects/room/retention";

const DAY = 24 * 60 * 60 * 1000;

/** The listing's records for `query` (rooms ship theirs after the commit: waits until `n` are there). */
async function listed(query: string, n = 1, ms = 10_000): Promise<AuditRecord[]> {
  const until = Date.now() + ms;
  for (;;) {
    const r = await api<AuditPage>("GET", `/api/v1/admin/audit?${query}`, { token: await admin() });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    if (r.body.records.length >= n || Date.now() > until) return r.body.records;
    await sleep(50);
  }
}

const detail = (r: AuditRecord | AuditRow) => JSON.parse(r.detail) as Record<string, unknown>;
const adminId = async () => (await api("GET", "/api/v1/me", { token: await admin() })).body.id as string;
const enc = encodeURIComponent;

/** Age a room's messages by `days` (what time would have done), in its own SQLite file. */
const age = (roomId: string, days: number) => sql(roomStub(roomId), "UPDATE messages SET created_at = created_at - ?", days * DAY);
const messageCount = async (roomId: string) => (await sql<{ n: number }>(roomStub(roomId), "SELECT count(*) AS n FROM messages"))[0].n;

describe("retention in the audit trail", () => {
  it("retention.changed: the node default and a room's own policy, with the administrator and the values before and after", async () => {
    const me = await adminId();
    const token = await admin();
    const was = (await api("GET", "/api/v1/admin/retention", { token })).body.defaultDays as number | null;
    expect((await api("PUT", "/api/v1/admin/retention", { token, body: { defaultDays: 3650 } })).status).toBe(200);
    expect((await api("PUT", "/api/v1/admin/retention", { token, body: { defaultDays: was } })).status).toBe(200);
    const node = (await listed("action=retention.changed&limit=500", 2)).filter((r) => detail(r).scope === "node").slice(0, 2);
    expect(node.map((r) => [r.actor, r.roomId, detail(r)])).toEqual([
      [me, null, { scope: "node", before: 3650, after: was }],
      [me, null, { scope: "node", before: was, after: 3650 }],
    ]);
    expect(node[0].object).toMatch(/^DirectoryObject:/);

    const owner = await newUser("rcaud");
    const room = await newRoom(owner.token, "Policy room");
    const put = (days: unknown) => api("PUT", `/api/v1/admin/rooms/${enc(room.id)}/retention`, { token, body: { days } });
    expect((await put(30)).status).toBe(200);
    expect((await put(null)).status).toBe(200);
    expect((await put("default")).status).toBe(200);
    const records = await listed(`action=retention.changed&room=${enc(room.id)}`, 3);
    expect(records.map((r) => [r.actor, r.roomId, detail(r)])).toEqual([
      [me, room.id, { scope: "room", before: null, after: "default" }],
      [me, room.id, { scope: "room", before: 30, after: null }],
      [me, room.id, { scope: "room", before: "default", after: 30 }],
    ]);
    expect(records[0].object).toMatch(/^RoomObject:/);
    expectIntact(await chain(roomStub(room.id)));
    expectIntact(await chain(dirStub()));
  });

  it("retention.purged: one record per purge batch, by the node (`system`), with the count, the cutoff and the last seq", async () => {
    const owner = await newUser("rpaud");
    const room = await newRoom(owner.token, "Purged room");
    const sent = [];
    for (const text of ["one", "two", "three"]) sent.push(await postMessage(owner.token, room.id, text));
    await age(room.id, 5);
    const setAt = Date.now();
    expect((await api("PUT", `/api/v1/admin/rooms/${enc(room.id)}/retention`, { token: await admin(), body: { days: 1 } })).status).toBe(200);
    const [purged] = await listed(`action=retention.purged&room=${enc(room.id)}`);
    expect(purged).toMatchObject({ actor: "system", roomId: room.id, userId: null });
    const d = detail(purged);
    expect(d).toMatchObject({ count: 3, throughSeq: sent[2].seq, copies: 0 });
    expect(d.before as number).toBeGreaterThanOrEqual(setAt - DAY);
    expect(d.before as number).toBeLessThanOrEqual(Date.now() - DAY);
    expect(await messageCount(room.id)).toBe(0);
    // Never the messages' text.
    expect(purged.detail).not.toMatch(/one|two|three/);
    expectIntact(await chain(roomStub(room.id)));
  });

  it("a purge of 1,234 messages writes three records (500, 500, 234), each in its batch's transaction", async () => {
    const owner = await newUser("rp3aud");
    const room = await newRoom(owner.token, "Big purge");
    const old = Date.now() - 400 * DAY;
    await runInDurableObject(roomStub(room.id), async (_r, state) => {
      for (let i = 1; i <= 1234; i++) {
        state.storage.sql.exec(
          "INSERT INTO messages (seq, id, client_key, client_id, sender_id, text, reply_to, mentions, created_at, edited_at, deleted_at, version, attachments) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, NULL, NULL, ?, NULL)",
          i,
          `m_big${String(i).padStart(13, "0")}`,
          `${owner.id}|s|c${i}`,
          `c${i}`,
          owner.id,
          `old ${i}`,
          '{"users":[],"all":false}',
          old + i,
          i,
        );
      }
      state.storage.sql.exec("INSERT INTO meta (key, value) VALUES ('retention_days', '30')");
    });
    for (let i = 0; i < 4; i++) {
      const more = await runInDurableObject(roomStub(room.id), (r: RoomObject) => (r as unknown as { retention: Retention }).retention.runBatch({ defaultDays: null, roomHeld: false, heldUsers: [] }, Date.now()));
      if (!more) break;
    }
    const rows = (await chain(roomStub(room.id))).filter((r) => r.action === "retention.purged");
    expect(rows.map((r) => [detail(r).count, detail(r).throughSeq])).toEqual([
      [500, 500],
      [500, 1000],
      [234, 1234],
    ]);
    expectIntact(await chain(roomStub(room.id)));
  });
});

describe("legal holds in the audit trail", () => {
  it("hold.placed and hold.released: the administrator, the hold, its target and reason", async () => {
    const me = await adminId();
    const token = await admin();
    const owner = await newUser("haud");
    const room = await newRoom(owner.token, "Held");
    const onRoom = await api("POST", "/api/v1/admin/holds", { token, body: { roomId: room.id, reason: "case 2026-41" } });
    const onUser = await api("POST", "/api/v1/admin/holds", { token, body: { userId: owner.id, reason: "ticket LEGAL-7" } });
    expect([onRoom.status, onUser.status]).toEqual([201, 201]);
    expect((await api("DELETE", `/api/v1/admin/holds/${onRoom.body.id}`, { token })).status).toBe(200);

    const [placedRoom] = await listed(`action=hold.placed&room=${enc(room.id)}`);
    expect(placedRoom).toMatchObject({ actor: me, roomId: room.id, userId: null });
    expect(detail(placedRoom)).toEqual({ hold: onRoom.body.id, kind: "room", target: room.id, reason: "case 2026-41" });
    const [placedUser] = await listed(`action=hold.placed&user=${enc(owner.id)}`);
    expect(placedUser).toMatchObject({ actor: me, roomId: null, userId: owner.id });
    expect(detail(placedUser)).toEqual({ hold: onUser.body.id, kind: "user", target: owner.id, reason: "ticket LEGAL-7" });
    const [released] = await listed(`action=hold.released&room=${enc(room.id)}`);
    expect(released).toMatchObject({ actor: me, roomId: room.id });
    expect(detail(released)).toEqual({ hold: onRoom.body.id, kind: "room", target: room.id, reason: "case 2026-41" });
    expect((await api("DELETE", `/api/v1/admin/holds/${onUser.body.id}`, { token })).status).toBe(200);
    expectIntact(await chain(dirStub()));
  });
});

describe("erasure in the audit trail", () => {
  it("erasure.user: the directory when it starts, and each room where something of the person went, never their name", async () => {
    const me = await adminId();
    const gone = await newUser("eaud");
    const stay = await newUser("eaudstay");
    const a = await newRoom(stay.token, "Room A", "private", [gone.id]);
    const b = await newRoom(gone.token, "Room B", "private", [stay.id]);
    const untouched = await newRoom(stay.token, "Never theirs");
    await postMessage(gone.token, a.id, "first words");
    await postMessage(gone.token, a.id, "second words");
    const mine = await postMessage(stay.token, b.id, "a message they react to");
    expect((await api("POST", `/api/v1/rooms/${enc(b.id)}/messages/${mine.id}/reactions`, { token: gone.token, body: { emoji: "👍" } })).status).toBe(200);

    const r = await api("POST", `/api/v1/admin/users/${enc(gone.id)}/erase`, { token: await admin() });
    expect(r.status, JSON.stringify(r.body)).toBe(200);

    const [started] = (await listed(`action=erasure.user&user=${enc(gone.id)}`, 3)).filter((x) => x.object.startsWith("DirectoryObject:"));
    expect(started).toMatchObject({ actor: me, userId: gone.id, roomId: null });
    expect(detail(started)).toEqual({ step: "started", rooms: r.body.roomsTotal });
    const [inA] = await listed(`action=erasure.user&room=${enc(a.id)}`);
    expect(inA).toMatchObject({ actor: me, userId: gone.id, roomId: a.id });
    expect(detail(inA)).toEqual({ step: "room", messages: 2, reactions: 0, uploads: 0, member: true, keptForHold: false });
    const [inB] = await listed(`action=erasure.user&room=${enc(b.id)}`);
    expect(detail(inB)).toEqual({ step: "room", messages: 0, reactions: 1, uploads: 0, member: true, keptForHold: false });
    // A room they were never in gets no record.
    expect(await listed(`action=erasure.user&room=${enc(untouched.id)}`, 1, 300)).toEqual([]);
    const all = await listed(`user=${enc(gone.id)}&action=erasure.user`, 3);
    expect(all.map((x) => x.detail).join("")).not.toContain(gone.username);
    for (const room of [a, b]) expectIntact(await chain(roomStub(room.id)));
    expectIntact(await chain(dirStub()));
  });

  it("a room whose audit write fails keeps the person's words there until it can record; the job then finishes", async () => {
    const gone = await newUser("eaudf");
    const stay = await newUser("eaudfs");
    const room = await newRoom(stay.token, "Faulty", "private", [gone.id]);
    const msg = await postMessage(gone.token, room.id, "words that stay until recorded");
    const heal = await breakAuditWrites(roomStub(room.id));
    const r = await api("POST", `/api/v1/admin/users/${enc(gone.id)}/erase`, { token: await admin() });
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe("storage_error");
    const text = async () => (await sql<{ text: string }>(roomStub(room.id), "SELECT text FROM messages WHERE id = ?", msg.id))[0].text;
    expect(await text()).toBe("words that stay until recorded");
    expect((await chain(roomStub(room.id))).filter((x) => x.action === "erasure.user")).toEqual([]);
    await heal();
    const again = await api("POST", `/api/v1/admin/users/${enc(gone.id)}/erase`, { token: await admin() });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.state).toBe("done");
    expect(await text()).toBe("");
    expect((await chain(roomStub(room.id))).filter((x) => x.action === "erasure.user").map((x) => detail(x).messages)).toEqual([1]);
    // One start record in the directory, not one per request.
    expect((await listed(`action=erasure.user&user=${enc(gone.id)}`, 2)).filter((x) => x.object.startsWith("DirectoryObject:"))).toHaveLength(1);
  });
});

describe("exports in the audit trail", () => {
  it("export.room and export.user: the administrator, the target and the format, recorded before the bytes", async () => {
    const me = await adminId();
    const owner = await newUser("xaud");
    const room = await newRoom(owner.token, "Exported");
    await postMessage(owner.token, room.id, "exported words");
    const zip = await api("GET", `/api/v1/admin/export?room=${enc(room.id)}&format=zip`, { token: await admin() });
    expect(zip.status).toBe(200);
    const csv = await api("GET", `/api/v1/admin/export?user=${enc(owner.id)}&format=csv`, { token: await admin() });
    expect(csv.status).toBe(200);
    const [ofRoom] = await listed(`action=export.room&room=${enc(room.id)}`);
    expect(ofRoom).toMatchObject({ actor: me, roomId: room.id });
    expect(detail(ofRoom)).toEqual({ room: room.id, format: "zip" });
    const [ofUser] = await listed(`action=export.user&user=${enc(owner.id)}`);
    expect(ofUser).toMatchObject({ actor: me, userId: owner.id });
    expect(detail(ofUser)).toEqual({ user: owner.id, format: "csv" });
  });
});

describe("fail closed", () => {
  it("a hold whose record cannot be written is not placed (503 storage_error)", async () => {
    const owner = await newUser("hfault");
    const room = await newRoom(owner.token, "Not held");
    const token = await admin();
    const heal = await breakAuditWrites(dirStub());
    const r = await api("POST", "/api/v1/admin/holds", { token, body: { roomId: room.id, reason: "case 9" } });
    await heal();
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe("storage_error");
    const holds = (await api("GET", "/api/v1/admin/holds", { token })).body.holds as { targetId: string }[];
    expect(holds.map((h) => h.targetId)).not.toContain(room.id);
  });

  it("a hold whose release cannot be recorded stays in force", async () => {
    const owner = await newUser("hrfault");
    const token = await admin();
    const placed = await api("POST", "/api/v1/admin/holds", { token, body: { userId: owner.id, reason: "case 10" } });
    expect(placed.status).toBe(201);
    const heal = await breakAuditWrites(dirStub());
    const r = await api("DELETE", `/api/v1/admin/holds/${placed.body.id}`, { token });
    await heal();
    expect(r.status).toBe(503);
    const holds = (await api("GET", "/api/v1/admin/holds", { token })).body.holds as { id: string }[];
    expect(holds.map((h) => h.id)).toContain(placed.body.id);
    expect((await api("DELETE", `/api/v1/admin/holds/${placed.body.id}`, { token })).status).toBe(200);
  });

  it("a retention change whose record cannot be written changes nothing: the node default and a room's policy", async () => {
    const token = await admin();
    const was = (await api("GET", "/api/v1/admin/retention", { token })).body.defaultDays;
    const healDir = await breakAuditWrites(dirStub());
    const r = await api("PUT", "/api/v1/admin/retention", { token, body: { defaultDays: 7 } });
    await healDir();
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe("storage_error");
    expect((await api("GET", "/api/v1/admin/retention", { token })).body.defaultDays).toEqual(was);

    const owner = await newUser("rfault");
    const room = await newRoom(owner.token, "Kept policy");
    const before = await chain(roomStub(room.id));
    const heal = await breakAuditWrites(roomStub(room.id));
    const put = await api("PUT", `/api/v1/admin/rooms/${enc(room.id)}/retention`, { token, body: { days: 1 } });
    await heal();
    expect(put.status).toBe(503);
    expect(put.body.error.code).toBe("storage_error");
    expect((await api("GET", `/api/v1/rooms/${enc(room.id)}`, { token: owner.token })).body.room.retentionDays).toBe(was);
    expect(await sql(roomStub(room.id), "SELECT value FROM meta WHERE key = 'retention_days'")).toEqual([]);
    expect(await chain(roomStub(room.id))).toEqual(before);
  });

  it("a purge batch whose record cannot be written removes nothing; healed, it purges and records", async () => {
    const owner = await newUser("pfault");
    const room = await newRoom(owner.token, "Unpurged");
    await postMessage(owner.token, room.id, "old enough");
    await age(room.id, 5);
    await sql(roomStub(room.id), "INSERT INTO meta (key, value) VALUES ('retention_days', '1')");
    const batch = () =>
      runInDurableObject(roomStub(room.id), (r: RoomObject) => (r as unknown as { retention: Retention }).retention.runBatch({ defaultDays: null, roomHeld: false, heldUsers: [] }, Date.now()));
    const heal = await breakAuditWrites(roomStub(room.id));
    await expect(batch()).rejects.toThrow(/audit record/);
    await heal();
    expect(await messageCount(room.id)).toBe(1);
    expect(await sql(roomStub(room.id), "SELECT value FROM meta WHERE key = 'retention_marker'")).toEqual([]);
    expect(await batch()).toBe(false);
    expect(await messageCount(room.id)).toBe(0);
    expect((await chain(roomStub(room.id))).filter((x) => x.action === "retention.purged").map((x) => detail(x).count)).toEqual([1]);
  });

  it("an export whose record cannot be written is refused before any byte (503 storage_error)", async () => {
    const owner = await newUser("xfault");
    const room = await newRoom(owner.token, "Not exported");
    const heal = await breakAuditWrites(dirStub());
    const res = await api("GET", `/api/v1/admin/export?room=${enc(room.id)}`, { token: await admin() });
    const user = await api("GET", `/api/v1/admin/export?user=${enc(owner.id)}&format=csv`, { token: await admin() });
    await heal();
    for (const r of [res, user]) {
      expect(r.status).toBe(503);
      expect(r.headers.get("content-type")).toMatch(/json/);
      expect(r.body.error.code).toBe("storage_error");
    }
  });

  it("an erasure whose start cannot be recorded does not begin: the account keeps its name", async () => {
    const u = await newUser("efault");
    const heal = await breakAuditWrites(dirStub());
    const r = await api("POST", `/api/v1/admin/users/${enc(u.id)}/erase`, { token: await admin() });
    await heal();
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe("storage_error");
    const user = (await api("GET", `/api/v1/users/${enc(u.id)}`, { token: await admin() })).body;
    expect(user).toMatchObject({ username: u.username, active: true });
    expect(await sql(dirStub(), "SELECT key FROM settings WHERE key = ?", `erasure:${u.id}`)).toEqual([]);
  });
});

describe("GET /metrics", () => {
  it("shows the age of the directory's signed checkpoint, fresh right after an audited action", async () => {
    const owner = await newUser("maud");
    await newRoom(owner.token, "Metric room");
    await dirStub().auditCheckpoint();
    const r = await api("GET", "/metrics", { token: await admin() });
    expect(r.status).toBe(200);
    const line = (r.body as unknown as string).split("\n").find((l) => l.startsWith("outpost_audit_head_age_seconds "));
    expect(line, "no sample").toBeDefined();
    const age = Number(line!.split(" ")[1]);
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(30);
    expect(r.body as unknown as string).toContain("# TYPE outpost_audit_head_age_seconds gauge");
  });
});
