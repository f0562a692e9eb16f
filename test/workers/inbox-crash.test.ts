/**
 * An inbox position a device has seen is never handed out again for another
 * change, even when the inbox crashed before it wrote what it had kept in
 * memory: otherwise a device resuming from that position is told nothing
 * changed and misses the room's news (test/e2e/live.test.ts "resume across
 * kill -9" failed now and then on exactly this).
 *
 * Plain summaries are kept in memory for a few seconds and written together
 * (durable-objects/user/inbox-store.ts); the positions they take are reserved
 * on disk first.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, connectDevice, eventually, newRoom, newUser, postMessage } from "./helpers";

const inboxOf = (userId: string) => env.USERS.get(env.USERS.idFromName(userId));

async function inboxRoom(token: string, roomId: string): Promise<any> {
  return (await api("GET", "/api/v1/me/rooms", { token })).body.rooms.find((r: any) => r.roomId === roomId);
}

describe("inbox positions across a crash", () => {
  it("a device resuming from a position it saw before the crash still gets the room's later change", async () => {
    const a = await newUser("ic");
    const b = await newUser("ic");
    const room = await newRoom(a.token, "crash", "private", [b.id]);
    const device = await connectDevice(b.token);
    expect(device.first.type).toBe("inbox.hello");

    // A plain summary (no mention): kept in memory, pushed to the device with a new position.
    await postMessage(a.token, room.id, "before the crash");
    const seen = await device.socket.next("inbox.room", (f) => f.room.roomId === room.id && f.room.lastSeq === 1);
    const pos = seen.room.pos;

    // The inbox object crashes before it writes the summary (its write waits 2–4 s).
    await runInDurableObject(inboxOf(b.id), (_i, state) => state.abort("crash")).catch(() => {});
    await device.socket.closed().catch(() => {});

    await postMessage(a.token, room.id, "after the crash");
    expect(await eventually(async () => (await inboxRoom(b.token, room.id))?.lastSeq === 2, 5000)).toBe(true);

    const again = await connectDevice(b.token, `?pos=${pos}`);
    expect(again.first.type).toBe("inbox.sync");
    expect(again.first.pos).toBeGreaterThan(pos);
    expect(again.first.rooms.map((r: any) => r.roomId)).toEqual([room.id]);
    expect(again.first.rooms[0]).toMatchObject({ lastSeq: 2 });
    again.socket.close();
  });
});
