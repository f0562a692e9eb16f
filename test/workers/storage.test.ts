/**
 * The room's SQLite file, read directly inside the object with
 * runInDurableObject: what the API reports is what is stored, and asking for a
 * room that does not exist writes nothing at all.
 *
 * Hibernation (evicting the object while its sockets stay open) is not tested
 * here: vitest-pool-workers 0.15.1 has no evictDurableObject. The end-to-end
 * suite against a real workerd covers it.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, history, newRoom, newUser, openRoomSocket, postMessage, sendMessage, unusedRoomId } from "./helpers";

const roomStub = (roomId: string) => env.ROOMS.get(env.ROOMS.idFromName(roomId));

/** Run one query inside the room's object and return its rows. */
function query<T = Record<string, unknown>>(roomId: string, sql: string, ...params: unknown[]): Promise<T[]> {
  return runInDurableObject(roomStub(roomId), async (_instance, state) => state.storage.sql.exec(sql, ...params).toArray() as T[]);
}

describe("room storage", () => {
  it("stores exactly the messages history reports", async () => {
    const a = await newUser("store");
    const b = await newUser("store");
    const room = await newRoom(a.token, "stored", "private", [b.id]);
    const m1 = await postMessage(a.token, room.id, "one");
    await postMessage(b.token, room.id, "two");
    await sendMessage(a.token, room.id, "one again", m1.clientId); // a retry: nothing new
    await sendMessage(a.token, room.id, "x".repeat(16385)); // refused
    await api("DELETE", `/api/v1/rooms/${room.id}/messages/${m1.id}`, { token: a.token }); // tombstone stays

    const h = await history(a.token, room.id);
    expect(h.messages).toHaveLength(2);
    const [{ n }] = await query<{ n: number }>(room.id, "SELECT count(*) AS n FROM messages");
    expect(n).toBe(h.messages.length);
    const rows = await query<{ seq: number; id: string; text: string; deleted_at: number | null }>(room.id, "SELECT seq, id, text, deleted_at FROM messages ORDER BY seq");
    expect(rows.map((r) => [r.seq, r.id, r.text])).toEqual(h.messages.map((m) => [m.seq, m.id, m.text]));
    expect(rows[0].deleted_at).toBe(h.messages[0].deletedAt);
    const members = await query<{ user_id: string; role: string }>(room.id, "SELECT user_id, role FROM members ORDER BY role");
    expect(members).toEqual([
      { user_id: b.id, role: "member" },
      { user_id: a.id, role: "owner" },
    ]);
    // Every inbox update was delivered, so the outbox is empty.
    expect(await query(room.id, "SELECT id FROM outbox")).toEqual([]);
  });

  it("asking for a room that does not exist creates no tables", async () => {
    const a = await newUser("probe");
    const ghost = unusedRoomId();
    const answers = [
      await api("GET", `/api/v1/rooms/${ghost}`, { token: a.token }),
      await api("GET", `/api/v1/rooms/${ghost}/messages`, { token: a.token }),
      await sendMessage(a.token, ghost, "hello?"),
      await api("POST", `/api/v1/rooms/${ghost}/join`, { token: a.token }),
      await api("POST", `/api/v1/rooms/${ghost}/leave`, { token: a.token }),
      await api("PATCH", `/api/v1/rooms/${ghost}`, { token: a.token, body: { name: "mine now" } }),
      await api("POST", `/api/v1/rooms/${ghost}/members`, { token: a.token, body: { userId: a.id } }),
    ];
    for (const r of answers) {
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe("not_found");
    }
    // The socket's exact answer (404) is checked in sockets.test.ts; here only that it wrote nothing.
    expect((await openRoomSocket(ghost, a.token)).status).not.toBe(101);
    const [{ n }] = await query<{ n: number }>(ghost, "SELECT count(*) AS n FROM sqlite_master");
    expect(n).toBe(0);
  });

  it("a room that exists has its tables (so the empty-storage check above can fail)", async () => {
    const a = await newUser("tables");
    const room = await newRoom(a.token, "tables");
    const names = (await query<{ name: string }>(room.id, "SELECT name FROM sqlite_master WHERE type = 'table'")).map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(["meta", "members", "messages", "reactions", "outbox"]));
  });
});
