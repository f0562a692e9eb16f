/**
 * Per-user quotas at the node's defaults (vitest.workers.config.ts: 20 messages
 * a second, bursts of 200), and the public room directory paged and searched.
 * Other limits, the room quota and the budget shared across rooms on a real
 * `workerd serve` node: test/e2e/quotas.test.ts.
 */
import { SELF, env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ServerRoomFrame } from "../../protocol/frames";
import type { Message } from "../../protocol/models";
import type { z } from "zod";
import type { PublicRoom } from "../../protocol/models";
import type { PublicRoomsPageSchema } from "../../protocol/responses";
import type { DirectoryObject } from "../../durable-objects/directory/directory-object";
import type { AppError } from "../../durable-objects/shared/app-error";
import { directoryStub } from "../../durable-objects/shared/objects";
import type { FrameOf } from "../frame-types";
import { BASE, api, connect, expectFrame, history, newRoom, newUser, sleep, type Res, type RoomSocket } from "./helpers";

const RATE = 20;
const BURST = 200;

/** Every message of a room, oldest first (history pages of 100). */
async function allMessages(token: string, roomId: string) {
  const out: Message[] = [];
  for (let after = 0; ; ) {
    const page = await history(token, roomId, `?after=${after}&limit=100`);
    out.push(...page.messages);
    if (!page.hasMore || page.messages.length === 0) return out;
    after = page.messages[page.messages.length - 1].seq;
  }
}

/** Send `ids` as msg.send frames at once and collect each one's answer (ack or error). */
async function flood(socket: RoomSocket, ids: string[]) {
  for (const clientId of ids) socket.send({ type: "msg.send", clientId, text: `flood ${clientId}` });
  const answers = new Map<string, FrameOf<ServerRoomFrame, "msg.ack" | "error">>();
  const deadline = Date.now() + 20_000;
  while (answers.size < ids.length && Date.now() < deadline) {
    for (const f of socket.frames.splice(0)) {
      if (f.type === "msg.ack") answers.set(f.clientId, f);
      else if (f.type === "error" && f.replyTo) answers.set(f.replyTo, f);
    }
    if (answers.size < ids.length) await sleep(10);
  }
  return answers;
}

describe("message budget on the room socket", () => {
  it("stores the burst, refuses the rest with rate_limited frames carrying retryAfterMs, stores nothing for them", async () => {
    const a = await newUser("qa");
    const room = await newRoom(a.token, "Flood");
    const socket = await connect(room.id, a.token);
    const ids = Array.from({ length: BURST + 100 }, (_, i) => `f${i}`);
    const started = Date.now();
    const answers = await flood(socket, ids);
    const seconds = (Date.now() - started) / 1000;
    expect(answers.size).toBe(ids.length);
    const acked = ids.filter((id) => answers.get(id)!.type === "msg.ack");
    const refused = ids.filter((id) => answers.get(id)!.type === "error");
    // The whole burst, plus at most what refilled while the frames were handled.
    expect(acked.length).toBeGreaterThanOrEqual(BURST);
    expect(acked.length).toBeLessThanOrEqual(BURST + Math.ceil(RATE * seconds) + 1);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length).toBe(ids.length - acked.length);
    for (const id of refused) {
      const f = answers.get(id)!;
      expect(ServerRoomFrame.parse(f)).toEqual(f); // declared in protocol/frames.ts, strictly
      expectFrame(f, "error");
      expect(f).toMatchObject({ code: "rate_limited", replyTo: id });
      expect(Number.isInteger(f.retryAfterMs)).toBe(true);
      expect(f.retryAfterMs).toBeGreaterThan(0);
      expect(f.retryAfterMs).toBeLessThanOrEqual(1000 / RATE);
    }
    // Nothing stored for a refused send, no seq used: seqs are 1..acked.
    const stored = await allMessages(a.token, room.id);
    expect(stored.map((m) => m.seq)).toEqual(acked.map((_, i) => i + 1));
    expect(new Set(stored.map((m) => m.clientId))).toEqual(new Set(acked));

    // A refused message sent again after the wait it was told is stored, once; a retry
    // of a stored one is answered as a duplicate even with the budget empty.
    const again = refused[0];
    const told = answers.get(again)!;
    expectFrame(told, "error");
    await sleep(told.retryAfterMs! + 5);
    socket.send({ type: "msg.send", clientId: again, text: "flood again" });
    const ack = await socket.next("msg.ack", (f) => f.clientId === again);
    expect(ack.duplicate).toBe(false);
    const drained = await flood(socket, Array.from({ length: 10 }, (_, i) => `d${i}`));
    expect([...drained.values()].some((f) => f.type === "error" && f.code === "rate_limited")).toBe(true);
    for (const id of [again, acked[0]]) {
      socket.send({ type: "msg.send", clientId: id, text: "retry" });
      const dup = await socket.next((f) => (f.type === "msg.ack" && f.clientId === id) || (f.type === "error" && f.replyTo === id));
      expect(dup).toMatchObject({ type: "msg.ack", duplicate: true });
    }
    const after = await allMessages(a.token, room.id);
    expect(after.filter((m) => m.clientId === again)).toHaveLength(1);
    expect(after.map((m) => m.seq)).toEqual(after.map((_, i) => i + 1));
    socket.close();
  });

  it("lets a user send at the configured rate once the burst is spent", async () => {
    const a = await newUser("qr");
    const room = await newRoom(a.token, "Sustained");
    const socket = await connect(room.id, a.token);
    await flood(socket, Array.from({ length: BURST + 10 }, (_, i) => `b${i}`)); // spend the burst
    // Then try three times the allowed rate for 3 seconds.
    const SECONDS = 3;
    const ids: string[] = [];
    const started = Date.now();
    for (let i = 0; Date.now() - started < SECONDS * 1000; i++) {
      ids.push(`s${i}`);
      socket.send({ type: "msg.send", clientId: `s${i}`, text: `steady ${i}` });
      await sleep(1000 / (RATE * 3));
    }
    const answers = await flood(socket, []); // nothing more; collect what came
    const deadline = Date.now() + 5000;
    while (ids.some((id) => !answers.has(id)) && Date.now() < deadline) {
      for (const f of socket.frames.splice(0)) {
        if (f.type === "msg.ack") answers.set(f.clientId, f);
        else if (f.type === "error" && f.replyTo) answers.set(f.replyTo, f);
      }
      await sleep(10);
    }
    const stored = ids.filter((id) => answers.get(id)?.type === "msg.ack").length;
    const elapsed = (Date.now() - started) / 1000;
    // ~RATE a second (the clock of the run, not of the node: ±20%).
    expect(stored).toBeGreaterThanOrEqual(Math.floor(RATE * SECONDS * 0.8));
    expect(stored).toBeLessThanOrEqual(Math.ceil(RATE * elapsed * 1.2) + 1);
    expect(ids.length).toBeGreaterThan(RATE * SECONDS * 1.5); // it really tried faster than allowed
    socket.close();
  });
});

describe("message budget over REST", () => {
  it("is the same budget as the socket's: over it, 429 rate_limited with Retry-After in whole seconds and retryAfterMs in the body", async () => {
    const a = await newUser("qh");
    const room = await newRoom(a.token, "REST flood");
    // Spend the budget on the socket (far faster than REST here), then send over REST.
    const socket = await connect(room.id, a.token);
    await flood(socket, Array.from({ length: BURST + 20 }, (_, i) => `w${i}`));
    // Twenty at once, straight through SELF.fetch: each answer's status, Retry-After and body.
    const post = (i: number) =>
      SELF.fetch(`${BASE}/api/v1/rooms/${room.id}/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${a.token}`, "content-type": "application/json" },
        body: JSON.stringify({ text: `rest ${i}`, clientId: `h${i}` }),
      }).then(async (r) => ({ status: r.status, retryAfter: r.headers.get("retry-after"), body: (await r.json()) as { error: { code: string; retryAfterMs: number } } }));
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => post(i)));
    const limited = results.filter((r) => r.status === 429);
    expect(results.filter((r) => r.status !== 429).every((r) => r.status === 201)).toBe(true);
    expect(limited.length).toBeGreaterThan(0);
    for (const r of limited) {
      expect(r.body.error.code).toBe("rate_limited");
      expect(r.retryAfter).toBe("1"); // ≤ 50 ms, rounded up to whole seconds
      expect(r.body.error.retryAfterMs).toBeGreaterThan(0);
      expect(r.body.error.retryAfterMs).toBeLessThanOrEqual(1000 / RATE);
    }
    // Refused requests stored nothing and used no seq.
    const stored = await allMessages(a.token, room.id);
    expect(stored.map((m) => m.seq)).toEqual(stored.map((_, i) => i + 1));
    expect(stored.filter((m) => m.clientId.startsWith("h"))).toHaveLength(results.length - limited.length);
    socket.close();
  });
});

describe("room quota", () => {
  it("counts a user's group rooms of the last 24 hours; the wait ends when enough of them have aged out", async () => {
    const u = await newUser("qq");
    const DAY = 24 * 3600 * 1000;
    const result = await inDirectory(async (dir, state) => {
      const now = Date.now();
      const key = `qq${Date.now().toString(36)}`.padEnd(12, "0").slice(0, 12);
      const insert = (i: number, kind: string, createdAt: number) =>
        state.storage.sql.exec("INSERT INTO rooms (id, name, kind, visibility, dm_key, created_by, created_at, name_fold) VALUES (?, ?, ?, 'private', ?, ?, ?, '')", `r_${key}${i.toString(36).padStart(4, "0")}@local`, "old", kind, kind === "dm" ? `${key}|${i}` : null, u.id, createdAt);
      // 101 group rooms in the window (the limit was 100): the oldest two at 23 h and 22 h ago.
      insert(0, "group", now - 23 * 3600_000);
      insert(1, "group", now - 22 * 3600_000);
      for (let i = 2; i < 101; i++) insert(i, "group", now - 1000 * i);
      // Older than a day, and DMs: not counted.
      for (let i = 101; i < 111; i++) insert(i, "group", now - DAY - 1000 * i);
      for (let i = 111; i < 121; i++) insert(i, "dm", now - 1000);
      const refused = await dir.registerRoom({ id: `r_${key}zzzz@local`, name: "one more", kind: "group", visibility: "public", createdBy: u.id }).then(
        () => null,
        (e: AppError) => ({ code: e.code, retryAfter: e.retryAfter, retryAfterMs: e.retryAfterMs }),
      );
      // An admin (quota-exempt) is not refused.
      await dir.registerRoom({ id: `r_${key}zzzy@local`, name: "admin's", kind: "group", visibility: "public", createdBy: u.id }, { quotaExempt: true });
      await dir.describeRoom(`r_${key}zzzy@local`, { memberCount: 1 });
      return { refused, now };
    });
    // One slot frees when the two oldest are a day old: the second oldest, 22 h ago, decides.
    expect(result.refused?.code).toBe("rate_limited");
    expect(result.refused!.retryAfterMs).toBeGreaterThan(2 * 3600_000 - 60_000);
    expect(result.refused!.retryAfterMs).toBeLessThanOrEqual(2 * 3600_000);
    expect(result.refused!.retryAfter).toBe(Math.ceil(result.refused!.retryAfterMs! / 1000));
  });

  it("folds the names of rooms registered before the search column existed, once, when the directory wakes", async () => {
    const tag = `f${Date.now().toString(36)}`;
    const id = `r_${tag.padEnd(16, "0").slice(0, 16)}@local`;
    await inDirectory(async (dir, state) => {
      // As migration 0001 leaves an older row: name_fold empty.
      state.storage.sql.exec("INSERT INTO rooms (id, name, kind, visibility, dm_key, created_by, created_at, name_fold) VALUES (?, ?, 'group', 'public', NULL, 'u_x', 1, '')", id, `ÜBER ${tag}`);
      state.storage.sql.exec("DELETE FROM settings WHERE key = 'rooms.name_fold'");
      dir["foldOlderNames"](); // private: the step the directory runs when it wakes, run again here
      expect(state.storage.sql.exec("SELECT name_fold FROM rooms WHERE id = ?", id).one().name_fold).toBe(`über ${tag}`);
      expect(state.storage.sql.exec("SELECT value FROM settings WHERE key = 'rooms.name_fold'").toArray()).toHaveLength(1);
    });
    const u = await newUser("qf");
    const r = await api("GET", `/api/v1/rooms/public?q=${encodeURIComponent(`über ${tag}`)}`, { token: u.token });
    expect(r.body.rooms.map((x: PublicRoom) => x.id)).toEqual([id]);
  });
});

// ------------------------------------------------------------ public directory

/** Run `fn` inside the node's directory object (named: runInDurableObject cannot infer the class from its stub). */
const inDirectory = <R>(fn: (dir: DirectoryObject, state: DurableObjectState) => R | Promise<R>) => runInDurableObject<DirectoryObject, R>(directoryStub(env), fn);

async function pageAll(token: string, query: string) {
  const seen: PublicRoom[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const r: Res<z.infer<typeof PublicRoomsPageSchema>> = await api("GET", `/api/v1/rooms/public?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { token });
    expect(r.status).toBe(200);
    expect(Object.keys(r.body).sort()).toEqual(["nextCursor", "rooms"]);
    seen.push(...r.body.rooms);
    cursor = r.body.nextCursor;
    pages++;
  } while (cursor && pages < 1000);
  return { seen, pages };
}

const byNameThenId = (x: { name: string; id: string }, y: { name: string; id: string }) =>
  x.name < y.name ? -1 : x.name > y.name ? 1 : x.id < y.id ? -1 : x.id > y.id ? 1 : 0;

describe("public room directory", () => {
  it("pages through 2,500 public rooms, many with equal names, each exactly once, in name then id order", async () => {
    const u = await newUser("qd");
    const tag = `t${Date.now().toString(36)}`;
    // Straight into the directory (its own registerRoom, quota-exempt): REST would create 2,500 room objects.
    const made = await inDirectory(async (dir) => {
      const ids: string[] = [];
      for (let i = 0; i < 2500; i++) {
        const id = `r_${tag.padEnd(10, "0").slice(0, 10)}${i.toString(36).padStart(6, "0")}@local`;
        // 25 names only: about 100 rooms share each name, so pages end in the middle of a name.
        const name = i % 5 === 0 ? `上海分行 ${tag} ${i % 25}` : `Team ${tag} ${String(i % 25).padStart(2, "0")}`;
        await dir.registerRoom({ id, name, kind: "group", visibility: "public", createdBy: u.id }, { quotaExempt: true });
        // What a real room reports once created (room-object.ts reportMemberCount); without it the
        // public page would ask each of these never-created rooms for its count.
        await dir.describeRoom(id, { memberCount: 1 });
        ids.push(id);
      }
      // A private room and a DM never show.
      await dir.registerRoom({ id: `r_${tag.padEnd(10, "0").slice(0, 10)}zzzzzz@local`, name: `Team ${tag} secret`, kind: "group", visibility: "private", createdBy: u.id }, { quotaExempt: true });
      return ids;
    });

    const everything = await pageAll(u.token, "limit=100");
    const mine = everything.seen.filter((r) => r.name.includes(tag));
    expect(mine).toHaveLength(2500);
    expect(new Set(mine.map((r) => r.id))).toEqual(new Set(made));
    expect(new Set(everything.seen.map((r) => r.id)).size).toBe(everything.seen.length); // no room twice
    expect([...mine].sort(byNameThenId)).toEqual(mine);
    for (const r of mine) expect(Object.keys(r).sort()).toEqual(["createdAt", "id", "memberCount", "name", "topic"]);

    // Search: a case-insensitive substring, paged the same way.
    const found = await pageAll(u.token, `q=${encodeURIComponent(`TEAM ${tag.toUpperCase()}`)}&limit=77`);
    expect(found.seen).toHaveLength(2000);
    expect(found.pages).toBe(Math.ceil(2000 / 77));
    expect(found.seen.every((r) => r.name.startsWith(`Team ${tag}`))).toBe(true);
    const cjk = await pageAll(u.token, `q=${encodeURIComponent("上海")}&limit=100`);
    expect(cjk.seen.filter((r) => r.name.includes(tag))).toHaveLength(500);
    expect(cjk.seen.every((r) => r.name.includes("上海"))).toBe(true);
    // Default page size 50.
    const first = await api("GET", `/api/v1/rooms/public?q=${tag}`, { token: u.token });
    expect(first.body.rooms).toHaveLength(50);
    expect(typeof first.body.nextCursor).toBe("string");
  });

  it("matches names case-insensitively in any script, and follows renames", async () => {
    const u = await newUser("qn");
    const tag = `n${Date.now().toString(36)}`;
    const room = await newRoom(u.token, `Ärzte ${tag}`, "public");
    const search = async (q: string) => (await api("GET", `/api/v1/rooms/public?q=${encodeURIComponent(q)}`, { token: u.token })).body.rooms.map((r: PublicRoom) => r.id);
    expect(await search(`ÄRZTE ${tag.toUpperCase()}`)).toEqual([room.id]);
    expect(await search(`ärzte`)).toContain(room.id);
    expect(await search(`Ｎ${tag.slice(1)}`)).toEqual([room.id]); // full-width Ｎ is N
    expect(await search(`  ${tag}  `)).toEqual([room.id]); // surrounding blanks are not part of a name
    expect(await search(`${tag}x`)).toEqual([]);
    expect((await api("PATCH", `/api/v1/rooms/${room.id}`, { token: u.token, body: { name: `Pflege ${tag}` } })).status).toBe(200);
    expect(await search(`pflege ${tag}`)).toEqual([room.id]);
    expect(await search(`ärzte ${tag}`)).toEqual([]);
  });

  it("refuses bad query values with 400 invalid_request", async () => {
    const u = await newUser("qb");
    const foreign = btoa(JSON.stringify({ x: 1 })).replace(/=+$/, "");
    const notOurs = btoa(JSON.stringify(["a", "not-a-room-id"])).replace(/=+$/, "");
    for (const qs of ["limit=0", "limit=101", "limit=ten", "limit=2.5", "cursor=%21%21", `cursor=${foreign}`, `cursor=${notOurs}`, "cursor=", `q=${"x".repeat(81)}`, "sort=name"]) {
      const r = await api("GET", `/api/v1/rooms/public?${qs}`, { token: u.token });
      expect([qs, r.status, r.body.error?.code]).toEqual([qs, 400, "invalid_request"]);
    }
  });
});
