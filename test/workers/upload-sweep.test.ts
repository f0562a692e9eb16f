/**
 * Uploads no message shared (durable-objects/room/upload-sweep.ts): after a
 * day the room's alarm removes the row and the bytes; a shared file, a newer
 * upload and an upload of a person under legal hold stay. Time is made to pass
 * by moving `created_at` back in the room's own SQLite file and reloading the
 * room (as after a restart), never through a switch in the product.
 */
import { SELF, env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import type { TestBindings } from "./cloudflare-env";
import { describe, expect, it } from "vitest";
import { BASE, admin, api, newRoom, newUser, uploadText } from "./helpers";
import { storedRoom } from "../../durable-objects/shared/objects";

const bucket = (env as Cloudflare.Env & TestBindings).FILES_BUCKET;
const HOUR = 60 * 60 * 1000;

const upload = (token: string, roomId: string, text: string) => uploadText(token, roomId, text, "draft.txt");

type Sql = { exec: (q: string, ...b: unknown[]) => { toArray(): Record<string, unknown>[] } };
const roomSql = <T>(roomId: string, fn: (sql: Sql) => T): Promise<T> => runInDurableObject(storedRoom(env, roomId), (_room: unknown, state) => fn(state.storage.sql as unknown as Sql));

/** Move uploads' time back by `hours`, then reload the room (it reads its due times at wake). */
async function ageUploads(roomId: string, hours: number, ids: string[]): Promise<void> {
  await roomSql(roomId, (sql) => {
    for (const id of ids) sql.exec("UPDATE files SET created_at = created_at - ? WHERE id = ?", hours * HOUR, id);
  });
  await runInDurableObject(storedRoom(env, roomId), (_r, state) => state.abort("reload")).catch(() => {});
}

const fileIds = (roomId: string) => roomSql(roomId, (sql) => sql.exec("SELECT id FROM files ORDER BY id").toArray().map((r) => r.id as string));
const bytesStored = async (roomId: string) => (await bucket.list({ prefix: `${roomId.slice(2, 18)}/` })).objects.length;

describe("uploads no message shared", () => {
  it("are removed after a day, row and bytes; shared files, newer uploads and held people's uploads stay", async () => {
    const owner = await newUser("sweepo");
    const held = await newUser("sweeph");
    const room = (await newRoom(owner.token, "Drafts", "private", [held.id])).id;
    const abandoned = await upload(owner.token, room, "never sent");
    const shared = await upload(owner.token, room, "sent with a message");
    const fresh = await upload(owner.token, room, "uploaded an hour ago");
    const heldDraft = await upload(held.token, room, "uploaded by a person under hold");
    const sent = await api("POST", `/api/v1/rooms/${encodeURIComponent(room)}/messages`, { token: owner.token, body: { clientId: "with-file", text: "the file", attachments: [shared] } });
    expect(sent.status, JSON.stringify(sent.body)).toBe(201);
    const hold = await api("POST", "/api/v1/admin/holds", { token: await admin(), body: { userId: held.id, reason: "case 2026-31" } });
    expect(hold.status, JSON.stringify(hold.body)).toBe(201);
    expect(await bytesStored(room)).toBe(4);

    await ageUploads(room, 25, [abandoned, shared, heldDraft]);
    await ageUploads(room, 1, [fresh]);
    expect(await runDurableObjectAlarm(storedRoom(env, room))).toBe(true);

    expect(await fileIds(room)).toEqual([abandoned, fresh, heldDraft, shared].filter((id) => id !== abandoned).sort());
    expect(await bytesStored(room)).toBe(3);
    // Sending it now is refused like any unknown file, and nothing is stored.
    const late = await api("POST", `/api/v1/rooms/${encodeURIComponent(room)}/messages`, { token: owner.token, body: { clientId: "late", text: "too late", attachments: [abandoned] } });
    expect(late.status).toBe(400);
    expect(late.body.error.code).toBe("invalid_request");
    // The shared file is still served.
    const download = await SELF.fetch(`${BASE}/api/v1/files/${shared}`, { headers: { authorization: `Bearer ${owner.token}` } });
    expect(download.status).toBe(200);
    expect(await download.text()).toBe("sent with a message");

    // The hold released: the held person's draft goes at the next look.
    const released = await api("DELETE", `/api/v1/admin/holds/${encodeURIComponent((hold.body as { id: string }).id)}`, { token: await admin() });
    expect(released.status, JSON.stringify(released.body)).toBeLessThan(300);
    await ageUploads(room, 0, []);
    await runDurableObjectAlarm(storedRoom(env, room));
    expect(await fileIds(room)).toEqual([fresh, shared].sort());
    expect(await bytesStored(room)).toBe(2);
  });
});
