/**
 * Retention, legal holds and erasure inside workerd: purges in bounded
 * batches with their files, search rows and inbox previews, the marker
 * history carries; holds that stop retention, keep recalled content and
 * refuse erasure; erasure of a person across rooms and the directory, others'
 * messages untouched, resumed by the directory's alarm after a crash.
 *
 * Aging: messages are made old by moving their `created_at` back in the
 * room's own SQLite file (runInDurableObject) — what time would have done —
 * never through a test switch in the product.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import type { TestBindings } from "./cloudflare-env";
import { describe, expect, it } from "vitest";
import { admin, api, newRoom, newUser, postMessage, sleep, uploadText } from "./helpers";
import type { HistoryPage } from "../../protocol/responses";
import { directoryStub, storedRoom } from "../../durable-objects/shared/objects";
import type { RoomObject } from "../../durable-objects/room/room-object";
import type { Retention } from "../../durable-objects/room/retention";
import type { DirectoryObject } from "../../durable-objects/directory/directory-object";

/** Retry `check` (its assertions) until it passes or `timeoutMs` passes (then its last failure is thrown). */
async function until(check: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() >= end) throw err;
      await sleep(100);
    }
  }
}

async function history(token: string, roomId: string): Promise<HistoryPage> {
  const r = await api("GET", `/api/v1/rooms/${encodeURIComponent(roomId)}/messages`, { token });
  if (r.status !== 200) throw new Error(`history failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as HistoryPage;
}

const bucket = (env as Cloudflare.Env & TestBindings).FILES_BUCKET;
const DAY = 24 * 60 * 60 * 1000;

type RoomSql = { exec: (q: string, ...b: unknown[]) => { toArray(): Record<string, unknown>[]; one(): Record<string, unknown> } };
const roomSql = <T>(roomId: string, fn: (sql: RoomSql, room: RoomObject) => T): Promise<T> =>
  runInDurableObject(storedRoom(env, roomId), (room: RoomObject, state) => fn(state.storage.sql as unknown as RoomSql, room));

/** Move messages' send time back by `days` (as if they had been sent then). */
const age = (roomId: string, days: number, where = "1 = 1") => roomSql(roomId, (sql) => sql.exec(`UPDATE messages SET created_at = created_at - ? WHERE ${where}`, days * DAY));

const count = (roomId: string, table = "messages") => roomSql(roomId, (sql) => Number(sql.exec(`SELECT count(*) AS n FROM ${table}`).one().n));

const uploadFile = (token: string, roomId: string, text: string) => uploadText(token, roomId, text, "note.txt");

const filesOfRoom = async (roomId: string) => (await bucket.list({ prefix: `${roomId.slice(2, 18)}/` })).objects.length;

async function setRoomRetention(roomId: string, days: number | null | "default") {
  const r = await api("PUT", `/api/v1/admin/rooms/${encodeURIComponent(roomId)}/retention`, { token: await admin(), body: { days } });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}

async function hold(target: { roomId: string } | { userId: string }) {
  const r = await api("POST", "/api/v1/admin/holds", { token: await admin(), body: { ...target, reason: "case 2026-17" } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as { id: string };
}

/** The notifications (mentions, DMs, with previews) `token`'s person has of `roomId`. */
const notesOf = async (token: string, roomId: string) =>
  ((await api("GET", "/api/v1/me/notifications", { token })).body.notifications as { roomId: string; preview: string }[]).filter((n) => n.roomId === roomId);

const search = async (token: string, q: string) => (await api("GET", `/api/v1/search?q=${encodeURIComponent(q)}`, { token })).body.hits as { message: { id: string } }[];

describe("retention", () => {
  it("purges in batches of at most 500 messages per transaction, leaving a marker", async () => {
    const owner = await newUser("rbatch");
    const room = await newRoom(owner.token, "Batches");
    // 1,234 messages written long ago: rows as a year of chat would have left them.
    const old = Date.now() - 400 * DAY;
    await roomSql(room.id, (sql) => {
      for (let i = 1; i <= 1234; i++) {
        sql.exec(
          "INSERT INTO messages (seq, id, client_key, client_id, sender_id, text, reply_to, mentions, created_at, edited_at, deleted_at, version, attachments) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, NULL, NULL, ?, NULL)",
          i,
          `m_old${String(i).padStart(13, "0")}`,
          `${owner.id}|s|c${i}`,
          `c${i}`,
          owner.id,
          `old message ${i}`,
          '{"users":[],"all":false}',
          old + i,
          i,
        );
      }
      sql.exec("INSERT INTO meta (key, value) VALUES ('retention_default_days', '30')");
    });
    // The room reloads its counters from the file, as after a restart.
    await runInDurableObject(storedRoom(env, room.id), (_r, state) => state.abort("reload")).catch(() => {});
    const recent = await postMessage(owner.token, room.id, "kept: sent today");
    const runs: { more: boolean; left: number }[] = [];
    for (let i = 0; i < 4; i++) {
      const more = await roomSql(room.id, (_sql, r) => (r as unknown as { retention: Retention }).retention.runBatch({ defaultDays: 30, roomHeld: false, heldUsers: [] }, Date.now()));
      runs.push({ more, left: await count(room.id) });
      if (!more) break;
    }
    // Each call is one transaction of at most 500 messages.
    expect(runs).toEqual([
      { more: true, left: 1235 - 500 },
      { more: true, left: 1235 - 1000 },
      { more: false, left: 1 },
    ]);
    const page = await history(owner.token, room.id);
    expect(page.messages.map((m: { id: string }) => m.id)).toEqual([recent.id]);
    expect(page.retention!.beforeSeq).toBe(1235);
    expect(page.retention!.before).toBeGreaterThan(Date.now() - 31 * DAY);
  });

  it("deletes expired messages with their files, search rows and inbox previews through the alarm", async () => {
    const owner = await newUser("rowner");
    const member = await newUser("rmember");
    const room = await newRoom(owner.token, "Expiring", "private", [member.id]);
    const fileId = await uploadFile(owner.token, room.id, "quarterly numbers");
    const withFile = await postMessage(owner.token, room.id, "the zebracrossing report", { attachments: [fileId] });
    await postMessage(member.token, room.id, `@${owner.username} thanks`);
    const react = await api("POST", `/api/v1/rooms/${encodeURIComponent(room.id)}/messages/${withFile.id}/reactions`, { token: member.token, body: { emoji: "👍" } });
    expect(react.status).toBe(200);
    expect((await search(member.token, "zebracrossing")).map((h) => h.message.id)).toEqual([withFile.id]);
    expect(await filesOfRoom(room.id)).toBe(1);
    await until(async () => expect((await notesOf(owner.token, room.id)).map((n) => n.preview)).toEqual([`@${owner.username} thanks`]));
    await age(room.id, 3);

    const set = await setRoomRetention(room.id, 1);
    expect(set.retentionDays).toBe(1);
    // The alarm purges (set to now by the policy change).
    await until(async () => expect(await count(room.id)).toBe(0), 10_000);
    expect(await count(room.id, "reactions")).toBe(0);
    expect(await count(room.id, "mention_index")).toBe(0);
    expect(await count(room.id, "files")).toBe(0);
    expect(await search(member.token, "zebracrossing")).toEqual([]);
    await until(async () => expect(await filesOfRoom(room.id)).toBe(0), 10_000);
    // The member's room list no longer previews the removed text.
    await until(async () => {
      const rooms = (await api("GET", "/api/v1/me/rooms", { token: member.token })).body.rooms as { roomId: string; lastMessage: unknown }[];
      expect(rooms.find((r) => r.roomId === room.id)?.lastMessage).toBeNull();
    }, 45_000);
    // …nor its notifications.
    await until(async () => expect(await notesOf(owner.token, room.id)).toEqual([]));
    const page = await history(member.token, room.id);
    expect(page.messages).toEqual([]);
    expect(page.retention).toMatchObject({ beforeSeq: 3 });
    // The room's settings say which policy is in force.
    const info = (await api("GET", `/api/v1/rooms/${encodeURIComponent(room.id)}`, { token: member.token })).body.room;
    expect(info.retentionDays).toBe(1);
    // …and whose it is: the room's own, not the node default it would otherwise follow.
    expect(info.retentionOwn).toBe(true);
    const other = await newRoom(owner.token, "Following", "private", []);
    expect((await api("GET", `/api/v1/rooms/${encodeURIComponent(other.id)}`, { token: owner.token })).body.room.retentionOwn).toBe(false);
  });

  it("refuses bad policies and is for node administrators only", async () => {
    const owner = await newUser("rbad");
    const room = await newRoom(owner.token, "Mine");
    const put = (token: string, body: unknown) => api("PUT", `/api/v1/admin/rooms/${encodeURIComponent(room.id)}/retention`, { token, body });
    expect((await put(owner.token, { days: 1 })).status).toBe(403);
    for (const days of [0, -1, 1.5, "1", 40_000]) expect((await put(await admin(), { days })).body.error.code).toBe("invalid_request");
    expect((await api("PUT", "/api/v1/admin/retention", { token: await admin(), body: { defaultDays: 0 } })).status).toBe(400);
    expect((await api("PUT", `/api/v1/admin/rooms/r_0000000000000000@local/retention`, { token: await admin(), body: { days: 1 } })).status).toBe(404);
  });
});

describe("legal hold", () => {
  it("keeps a held room's and a held person's messages from retention, keeps recalled content, refuses erasure", async () => {
    const owner = await newUser("howner");
    const held = await newUser("hheld");
    const heldRoom = await newRoom(owner.token, "Held room", "private", [held.id]);
    const other = await newRoom(owner.token, "Other room", "private", [held.id]);
    await postMessage(owner.token, heldRoom.id, "in the held room");
    const ownersOld = await postMessage(owner.token, other.id, "owner's old words");
    const heldOld = await postMessage(held.token, other.id, "held person's old words");
    const fileId = await uploadFile(held.token, other.id, "evidence bytes");
    const recalled = await postMessage(held.token, other.id, "to be recalled", { attachments: [fileId] });
    await age(heldRoom.id, 5);
    await age(other.id, 5, `id != '${recalled.id}'`);

    const roomHold = await hold({ roomId: heldRoom.id });
    const userHold = await hold({ userId: held.id });
    const listed = (await api("GET", "/api/v1/admin/holds", { token: await admin() })).body.holds as { id: string; kind: string; targetId: string; reason: string }[];
    expect(listed).toEqual(expect.arrayContaining([expect.objectContaining({ id: roomHold.id, kind: "room", targetId: heldRoom.id, reason: "case 2026-17" }), expect.objectContaining({ id: userHold.id, kind: "user", targetId: held.id })]));

    // A recall under hold: hidden from members, content and bytes kept for the hold.
    const del = await api("DELETE", `/api/v1/rooms/${encodeURIComponent(other.id)}/messages/${recalled.id}`, { token: held.token });
    expect(del.status).toBe(200);
    expect(del.body.text).toBe("");
    expect((await history(owner.token, other.id)).messages.find((m) => m.id === recalled.id)!.text).toBe("");
    const copy = await roomSql(other.id, (sql) => sql.exec("SELECT message, files, reason FROM held_messages").toArray());
    expect(copy).toHaveLength(1);
    expect(JSON.parse(copy[0].message as string).text).toBe("to be recalled");
    expect(copy[0].reason).toBe("recall");
    await new Promise((r) => setTimeout(r, 300));
    expect(await filesOfRoom(other.id)).toBe(1);

    // Erasure of a held person is refused.
    const erase = await api("POST", `/api/v1/admin/users/${encodeURIComponent(held.id)}/erase`, { token: await admin() });
    expect(erase.status).toBe(409);
    expect(erase.body.error.code).toBe("under_legal_hold");

    await setRoomRetention(heldRoom.id, 1);
    await setRoomRetention(other.id, 1);
    // Only the unheld person's old message in the unheld room goes.
    await until(async () => expect((await history(owner.token, other.id)).messages.map((m: { id: string }) => m.id)).toEqual([heldOld.id, recalled.id]), 10_000);
    expect(ownersOld.id).not.toBe(heldOld.id);
    expect((await history(owner.token, heldRoom.id)).messages).toHaveLength(1);

    // Released: the next run removes what the holds kept, the recalled copy and its bytes too.
    for (const h of [roomHold, userHold]) expect((await api("DELETE", `/api/v1/admin/holds/${h.id}`, { token: await admin() })).status).toBe(200);
    expect((await api("DELETE", `/api/v1/admin/holds/${userHold.id}`, { token: await admin() })).status).toBe(404);
    await setRoomRetention(heldRoom.id, 1);
    await setRoomRetention(other.id, 1);
    await until(async () => {
      expect((await history(owner.token, heldRoom.id)).messages).toEqual([]);
      expect((await history(owner.token, other.id)).messages.map((m: { id: string }) => m.id)).toEqual([recalled.id]);
      expect(await count(other.id, "held_messages")).toBe(0);
      expect(await filesOfRoom(other.id)).toBe(0);
    }, 10_000);
  });

  it("answers 404 for holds on unknown targets and a bad body for two targets", async () => {
    const token = await admin();
    expect((await api("POST", "/api/v1/admin/holds", { token, body: { roomId: "r_0000000000000000@local", reason: "x" } })).status).toBe(404);
    expect((await api("POST", "/api/v1/admin/holds", { token, body: { userId: "u_0000000000000000@local", reason: "x" } })).status).toBe(404);
    expect((await api("POST", "/api/v1/admin/holds", { token, body: { userId: "u_0000000000000000@local", roomId: "r_0000000000000000@local", reason: "x" } })).status).toBe(400);
    expect((await api("POST", "/api/v1/admin/holds", { token, body: { userId: "u_0000000000000000@local", reason: " " } })).status).toBe(400);
  });
});

describe("erasure", () => {
  it("anonymises a person across rooms and the directory, keeps others' messages, and search no longer finds their words", async () => {
    const gone = await newUser("egone");
    const stay = await newUser("estay");
    const a = await newRoom(stay.token, "Room A", "private", [gone.id]);
    const b = await newRoom(gone.token, "Room B", "private", [stay.id]);
    const fileId = await uploadFile(gone.token, a.id, "my private notes");
    const goneA = await postMessage(gone.token, a.id, "my flamingopassport number", { attachments: [fileId] });
    const goneB = await postMessage(gone.token, b.id, `@${stay.username} another flamingopassport remark`);
    await until(async () => expect(await notesOf(stay.token, b.id)).toHaveLength(1));
    const stayA = await postMessage(stay.token, a.id, "a reply from someone who stays");
    await api("POST", `/api/v1/rooms/${encodeURIComponent(a.id)}/messages/${stayA.id}/reactions`, { token: gone.token, body: { emoji: "🎉" } });
    expect((await search(stay.token, "flamingopassport")).length).toBe(2);

    const r = await api("POST", `/api/v1/admin/users/${encodeURIComponent(gone.id)}/erase`, { token: await admin() });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ userId: gone.id, state: "done" });
    expect(r.body.roomsDone).toBe(r.body.roomsTotal);

    const pageA = (await history(stay.token, a.id)).messages;
    const byId = new Map(pageA.map((m) => [m.id, m]));
    expect(byId.get(goneA.id)).toMatchObject({ text: "", attachments: [] });
    expect(byId.get(goneA.id)!.deletedAt).not.toBeNull();
    expect(byId.get(stayA.id)).toMatchObject({ text: "a reply from someone who stays", reactions: [] });
    expect((await history(stay.token, b.id)).messages.find((m) => m.id === goneB.id)!.text).toBe("");
    expect(await search(stay.token, "flamingopassport")).toEqual([]);
    await until(async () => expect(await notesOf(stay.token, b.id)).toEqual([]));
    await until(async () => expect(await filesOfRoom(a.id)).toBe(0), 10_000);

    // The directory, and what other nodes are fed from it, carry only the placeholder.
    const user = (await api("GET", `/api/v1/users/${encodeURIComponent(gone.id)}`, { token: stay.token })).body;
    expect(user).toMatchObject({ displayName: "Deleted user", active: false });
    expect(user.username).toMatch(/^deleted-/);
    const feed = await runInDurableObject(directoryStub(env), (d: DirectoryObject) => d.feedPage(0));
    expect(feed.users.find((u) => u.id === gone.id)).toMatchObject({ displayName: "Deleted user", username: user.username });
    const members = (await api("GET", `/api/v1/rooms/${encodeURIComponent(a.id)}/members`, { token: stay.token })).body.members as { userId: string; displayName: string }[];
    expect(members.find((m) => m.userId === gone.id)?.displayName).toBe("Deleted user");
    // Sessions ended; the name can be taken by someone new.
    expect((await api("GET", "/api/v1/me", { token: gone.token })).status).toBe(401);
    expect((await api("POST", "/api/v1/auth/login", { body: { username: gone.username, password: gone.password } })).status).toBe(401);

    // Idempotent.
    const again = await api("POST", `/api/v1/admin/users/${encodeURIComponent(gone.id)}/erase`, { token: await admin() });
    expect(again.body).toEqual(r.body);
  });

  it("is resumed by the directory's alarm after a crash right after it began", async () => {
    const gone = await newUser("ecrash");
    const stay = await newUser("ecstay");
    const room = await newRoom(stay.token, "Crash room", "private", [gone.id]);
    const msg = await postMessage(gone.token, room.id, "words before the crash");
    // The job's first transaction only (account anonymised, job recorded), then the isolate dies.
    await runInDurableObject(directoryStub(env), (d: DirectoryObject) => (d as unknown as { erasures: { start(u: string, by: string): unknown } }).erasures.start(gone.id, "test"));
    expect((await history(stay.token, room.id)).messages.find((m) => m.id === msg.id)!.text).toBe("words before the crash");
    // The job as it stands, read without driving it (the web client's progress).
    const status = await api("GET", `/api/v1/admin/users/${encodeURIComponent(gone.id)}/erase`, { token: await admin() });
    expect(status.status, JSON.stringify(status.body)).toBe(200);
    expect(status.body).toMatchObject({ userId: gone.id, state: "running", roomsDone: 0, finishedAt: null });
    expect(status.body.roomsTotal).toBeGreaterThanOrEqual(1);
    expect(await runDurableObjectAlarm(directoryStub(env))).toBe(true);
    const after = await api("GET", `/api/v1/admin/users/${encodeURIComponent(gone.id)}/erase`, { token: await admin() });
    expect(after.body).toMatchObject({ state: "done", roomsDone: status.body.roomsTotal });
    expect((await history(stay.token, room.id)).messages.find((m) => m.id === msg.id)!.text).toBe("");
    const done = await api("POST", `/api/v1/admin/users/${encodeURIComponent(gone.id)}/erase`, { token: await admin() });
    expect(done.body.state).toBe("done");
  });

  it("refuses ids of other nodes, unknown people and yourself", async () => {
    const token = await admin();
    expect((await api("POST", "/api/v1/admin/users/u_0000000000000000@local/erase", { token })).status).toBe(404);
    expect((await api("POST", "/api/v1/admin/users/u_0000000000000000@elsewhere/erase", { token })).status).toBe(404);
    // No job to read for someone never erased, nor for an id of another node.
    const never = await newUser("enever");
    expect((await api("GET", `/api/v1/admin/users/${encodeURIComponent(never.id)}/erase`, { token })).status).toBe(404);
    expect((await api("GET", "/api/v1/admin/users/u_0000000000000000@elsewhere/erase", { token })).status).toBe(404);
    expect((await api("GET", `/api/v1/admin/users/${encodeURIComponent(never.id)}/erase`, { token: never.token })).status).toBe(403);
    const me = (await api("GET", "/api/v1/me", { token })).body.id as string;
    expect((await api("POST", `/api/v1/admin/users/${encodeURIComponent(me)}/erase`, { token })).status).toBe(400);
    const someone = await newUser("enotadmin");
    expect((await api("POST", `/api/v1/admin/users/${encodeURIComponent(someone.id)}/erase`, { token: someone.token })).status).toBe(403);
  });
});
