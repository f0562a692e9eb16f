import { describe, expect, it } from "vitest";
import type { Message, SearchHit } from "../../protocol/models";
import type { RoomObject } from "../../durable-objects/room/room-object";
import { api, newUser, newRoom, type Res } from "./helpers";

const CORPUS = [
  "我家在上海东边",
  "明天去北京开会",
  "上海的天气很好",
  "The Café opens at nine",
  "Quarterly report from Shanghai office",
  "会议纪要: review the 上海 budget",
  "東京と大阪",
  "서울에서 만나요",
];

async function seed() {
  const a = await newUser("sa");
  const room = await newRoom(a.token, "Search");
  for (const [i, text] of CORPUS.entries()) {
    const r = await api("POST", `/api/v1/rooms/${room.id}/messages`, { token: a.token, body: { text, clientId: `s${i}` } });
    expect(r.status).toBe(201);
  }
  return { a, room };
}

const texts = (r: Res<{ hits: SearchHit[] }>) => r.body.hits.map((h) => h.message.text).sort();

describe("search", () => {
  it("finds 2-character Chinese words, English prefixes, accents, mixed", async () => {
    const { a, room } = await seed();
    const s = (q: string) => api("GET", `/api/v1/search?room=${encodeURIComponent(room.id)}&q=${encodeURIComponent(q)}`, { token: a.token });
    expect(texts(await s("上海"))).toEqual(["上海的天气很好", "会议纪要: review the 上海 budget", "我家在上海东边"].sort());
    expect(texts(await s("上海东边"))).toEqual(["我家在上海东边"]);
    expect(texts(await s("北京"))).toEqual(["明天去北京开会"]);
    expect(texts(await s("cafe"))).toEqual(["The Café opens at nine"]);
    expect(texts(await s("CAF"))).toEqual(["The Café opens at nine"]);
    expect(texts(await s("quart"))).toEqual(["Quarterly report from Shanghai office"]);
    expect(texts(await s("review 上海"))).toEqual(["会议纪要: review the 上海 budget"]);
    expect(texts(await s("大阪"))).toEqual(["東京と大阪"]);
    expect(texts(await s("서울"))).toEqual(["서울에서 만나요"]);
    const hit = (await s("上海东边")).body.hits[0];
    const [st, en] = hit.snippet.highlights[0];
    expect(hit.snippet.text.slice(st, en)).toBe("上海东边");
  });

  it("hostile queries are text, never SQL or FTS syntax", async () => {
    const { a, room } = await seed();
    for (const q of ['"', "AND", "NEAR(a b)", "*", "a OR b", "'; DROP TABLE messages; --", "上海\"", "(((", "col:上海"]) {
      const r = await api("GET", `/api/v1/search?room=${encodeURIComponent(room.id)}&q=${encodeURIComponent(q)}`, { token: a.token });
      expect([200, 400]).toContain(r.status);
      if (r.status === 400) expect(r.body.error.code).toBe("invalid_request");
      expect(JSON.stringify(r.body)).not.toMatch(/sqlite|fts5|syntax error/i);
    }
    const long = await api("GET", `/api/v1/search?room=${encodeURIComponent(room.id)}&q=${"a".repeat(10000)}`, { token: a.token });
    expect(long.status).toBe(400);
    const empty = await api("GET", `/api/v1/search?q=`, { token: a.token });
    expect(empty.status).toBe(400);
    const lone = await api("GET", `/api/v1/search?q=%ED%A0%80`, { token: a.token });
    expect([200, 400]).toContain(lone.status);
  });

  it("edits and recalls update the index; removed members get nothing", async () => {
    const { a, room } = await seed();
    const b = await newUser("sb");
    await api("POST", `/api/v1/rooms/${room.id}/members`, { token: a.token, body: { userId: b.id } });
    const all = (t: string, q: string) => api("GET", `/api/v1/search?q=${encodeURIComponent(q)}`, { token: t });
    expect((await all(b.token, "北京")).body.hits.length).toBe(1);
    const hist = await api("GET", `/api/v1/rooms/${room.id}/messages`, { token: a.token });
    const bj = hist.body.messages.find((m: Message) => m.text.includes("北京"));
    await api("PATCH", `/api/v1/rooms/${room.id}/messages/${bj.id}`, { token: a.token, body: { text: "明天去广州开会" } });
    expect((await all(b.token, "北京")).body.hits.length).toBe(0);
    expect((await all(b.token, "广州")).body.hits.length).toBe(1);
    await api("DELETE", `/api/v1/rooms/${room.id}/messages/${bj.id}`, { token: a.token });
    expect((await all(b.token, "广州")).body.hits.length).toBe(0);
    await api("DELETE", `/api/v1/rooms/${room.id}/members/${b.id}`, { token: a.token });
    expect((await all(b.token, "上海")).body.hits.length).toBe(0);
    const direct = await api("GET", `/api/v1/search?room=${encodeURIComponent(room.id)}&q=上海`, { token: b.token });
    expect(direct.status).toBe(404);
  });
});

describe("the index is written behind", () => {
  const fts = async (roomId: string) => {
    const { env, runInDurableObject } = await import("cloudflare:test");
    return runInDurableObject(env.ROOMS.get(env.ROOMS.idFromName(roomId)), async (_i, state) => ({
      seq: Number(state.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'fts_seq'").one().value),
      rows: state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM message_fts").one().n,
    }));
  };

  it("sends leave the index alone; a search sees every message at once; edits and recalls of unindexed messages are right; the backlog is indexed within seconds", async () => {
    const a = await newUser("wb");
    const room = await newRoom(a.token, "Behind");
    const post = async (text: string, clientId: string) => (await api("POST", `/api/v1/rooms/${room.id}/messages`, { token: a.token, body: { text, clientId } })).body;
    const s = async (q: string) => texts(await api("GET", `/api/v1/search?room=${encodeURIComponent(room.id)}&q=${encodeURIComponent(q)}`, { token: a.token }));
    const t0 = Date.now();
    const m1 = await post("杭州 lantern festival", "wb1");
    const m2 = await post("苏州 gardens tour", "wb2");
    const m3 = await post("宁波 harbour", "wb3");
    // Stored, not indexed yet (the backlog waits a second; only checked when this ran faster than that).
    const early = await fts(room.id);
    if (Date.now() - t0 < 800) expect(early).toEqual({ seq: 0, rows: 0 });
    // An edit and a recall of messages that may still wait: the index is built from the stored text.
    await api("PATCH", `/api/v1/rooms/${room.id}/messages/${m2.id}`, { token: a.token, body: { text: "无锡 gardens tour" } });
    await api("DELETE", `/api/v1/rooms/${room.id}/messages/${m3.id}`, { token: a.token });
    if (Date.now() - t0 < 800) expect((await fts(room.id)).seq).toBe(0);
    // A search first indexes the backlog.
    expect(await s("杭州")).toEqual(["杭州 lantern festival"]);
    expect(await s("苏州")).toEqual([]);
    expect(await s("无锡")).toEqual(["无锡 gardens tour"]);
    expect(await s("宁波")).toEqual([]);
    expect(await fts(room.id)).toEqual({ seq: 3, rows: 2 });
    // Indexed messages are edited in place.
    await api("PATCH", `/api/v1/rooms/${room.id}/messages/${m1.id}`, { token: a.token, body: { text: "温州 lantern festival" } });
    expect(await s("杭州")).toEqual([]);
    expect(await s("温州")).toEqual(["温州 lantern festival"]);
    // Without a search, the backlog is indexed by the room's alarm about a second after the send.
    const t1 = Date.now();
    await post("嘉兴 rice dumplings", "wb4");
    if (Date.now() - t1 < 800) expect((await fts(room.id)).seq).toBe(3);
    const deadline = Date.now() + 5000;
    while ((await fts(room.id)).seq < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await fts(room.id)).toEqual({ seq: 4, rows: 3 });
    expect(await s("嘉兴")).toEqual(["嘉兴 rice dumplings"]);
  });
});

describe("large result sets", () => {
  it("sync of 150 missed messages and a search with 150 hits (more than SQLite's 100 bound parameters)", async () => {
    const a = await newUser("lg");
    const room = await newRoom(a.token, "Large");
    for (let i = 0; i < 150; i++) {
      const r = await api("POST", `/api/v1/rooms/${room.id}/messages`, { token: a.token, body: { text: `needle number ${i}`, clientId: `lg${i}` } });
      expect(r.status).toBe(201);
    }
    const { openRoomSocket } = await import("./helpers");
    const ws = (await openRoomSocket(room.id, a.token, "?afterSeq=0")).socket!;
    const sync = await ws.next((f) => f.type === "sync");
    expect(sync.messages.map((m) => m.seq)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    const hits = await api("GET", `/api/v1/search?room=${encodeURIComponent(room.id)}&q=needle&limit=50`, { token: a.token });
    expect(hits.status).toBe(200);
    expect(hits.body.hits.length).toBe(50);
    let cursor = hits.body.cursor;
    let total = 50;
    while (cursor) {
      const next = await api("GET", `/api/v1/search?room=${encodeURIComponent(room.id)}&q=needle&limit=50&cursor=${cursor}`, { token: a.token });
      total += next.body.hits.length;
      cursor = next.body.cursor;
    }
    expect(total).toBe(150);
  });
});

describe("mixed scripts (Chinese, Japanese, Korean next to letters and digits)", () => {
  it("every query of the mixed corpus finds exactly its messages, through the room and SQLite FTS5", async () => {
    const { MIXED_CORPUS, MIXED_QUERIES } = await import("../room/mixed-corpus");
    const a = await newUser("mx");
    const room = await newRoom(a.token, "Mixed");
    for (const [i, text] of MIXED_CORPUS.entries()) {
      expect((await api("POST", `/api/v1/rooms/${room.id}/messages`, { token: a.token, body: { text, clientId: `mx${i}` } })).status).toBe(201);
    }
    for (const [q, want] of Object.entries(MIXED_QUERIES)) {
      const r = await api("GET", `/api/v1/search?room=${encodeURIComponent(room.id)}&q=${encodeURIComponent(q)}&limit=50`, { token: a.token });
      expect(r.status, q).toBe(200);
      expect(texts(r), q).toEqual([...want].sort());
    }
    // The snippet marks the parts of a mixed query in the message as written.
    const hit = (await api("GET", `/api/v1/search?room=${encodeURIComponent(room.id)}&q=${encodeURIComponent("A301会议室")}`, { token: a.token })).body.hits[0];
    expect(hit.snippet.highlights.map(([s, e]: [number, number]) => hit.snippet.text.slice(s, e))).toEqual(["A301", "会议室"]);
  });
});

/**
 * Rooms indexed with the old tokens (format 1): simulated by writing messages
 * with format-1 index rows and the old meta straight into the room's SQLite
 * file, then resetting the object so it wakes as after an upgrade.
 */
describe("re-index after a tokenizer change", () => {
  const FILLER = (seq: number) => `routine update number ${seq}`;
  const oldId = (seq: number) => `m_old${String(seq).padStart(13, "0")}`;

  /** format 1: the old tokens; format 0: no index at all (migration 0004 dropped it, the old wake-time backfill's case) */
  async function oldRoom(count: number, corpusAt: (seq: number) => string | null, format: 0 | 1 = 1) {
    const { env, runInDurableObject } = await import("cloudflare:test");
    const { LEGACY_FORMATS } = await import("../../durable-objects/room/search-tokens-legacy");
    const a = await newUser("ri");
    const room = await newRoom(a.token, "Old index");
    // A fresh stub each time: one whose object was reset keeps failing.
    const stub = () => env.ROOMS.get(env.ROOMS.idFromName(room.id));
    await runInDurableObject(stub(), async (_i, state) => {
      const sql = state.storage.sql;
      state.storage.transactionSync(() => {
        for (let seq = 1; seq <= count; seq++) {
          const text = corpusAt(seq) ?? FILLER(seq);
          sql.exec(
            "INSERT INTO messages (seq, id, client_key, client_id, sender_id, text, reply_to, mentions, created_at, edited_at, deleted_at, version, attachments) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, NULL, NULL, ?, NULL)",
            seq, oldId(seq), `${a.id}|old|c${seq}`, `c${seq}`, a.id, text, '{"users":[],"all":false}', Date.now() - (count - seq) * 1000, seq,
          );
          if (format === 1) sql.exec("INSERT INTO message_fts (rowid, body) VALUES (?, ?)", seq, LEGACY_FORMATS[1]!.indexText(text));
        }
        sql.exec("DELETE FROM meta WHERE key IN ('fts_version', 'fts_reindex_below', 'fts_reindex_to', 'fts_ready', 'fts_seq')");
        if (format === 1) sql.exec("INSERT INTO meta (key, value) VALUES ('fts_ready', '1'), ('fts_seq', ?)", String(count));
      });
      await state.storage.deleteAlarm();
    });
    // Reset the object (as a restart of the node would): the next request constructs it anew.
    await runInDurableObject(stub(), (_i, state) => state.abort("simulated upgrade")).catch(() => {});
    return { a, room, stub };
  }

  async function indexState(stub: () => DurableObjectStub) {
    const { runInDurableObject } = await import("cloudflare:test");
    return runInDurableObject(stub(), async (_i, state) => {
      const meta = Object.fromEntries(state.storage.sql.exec<{ key: string; value: string }>("SELECT key, value FROM meta WHERE key LIKE 'fts%'").toArray().map((r) => [r.key, r.value]));
      // Rows in the new format: only they have a CJK run split out of "10点开会…".
      const split = state.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM message_fts WHERE message_fts MATCH '"季度"'`).one().n;
      const rows = state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM message_fts").one().n;
      return { meta, split, rows, alarm: await state.storage.getAlarm() };
    });
  }

  it("the wake only arms the alarm; alarms rewrite the index newest first in bounded batches, survive a restart, then find mixed-script words", async () => {
    const { runDurableObjectAlarm, runInDurableObject } = await import("cloudflare:test");
    const { REINDEX_BATCH } = await import("../../durable-objects/room/search-reindex");
    const { MIXED_CORPUS } = await import("../room/mixed-corpus");
    const N = REINDEX_BATCH * 7;
    // The corpus is the oldest messages: rewritten last.
    const { a, room, stub } = await oldRoom(N, (seq) => MIXED_CORPUS[seq - 1] ?? null);

    // The constructor did no index work: the old rows are untouched, the start position is stored, an alarm is armed.
    const woke = await indexState(stub);
    expect(woke.meta).toEqual({ fts_ready: "1", fts_seq: String(N), fts_reindex_below: String(N + 1), fts_reindex_to: "2" });
    expect(woke.split).toBe(0);
    expect(woke.rows).toBe(N);
    expect(woke.alarm).not.toBeNull();

    const aligned = (below: number) => (N + 1 - below) % REINDEX_BATCH === 0;
    // One alarm run: one batch, the newest messages first.
    expect(await runDurableObjectAlarm(stub())).toBe(true);
    const one = await indexState(stub);
    // Exactly one batch, unless the room's own re-armed alarm (REINDEX_PAUSE_MS later) slipped in
    // before this read on a loaded machine; an unbounded batch would have finished all N.
    expect(Number(one.meta.fts_reindex_below)).toBeLessThanOrEqual(N + 1 - REINDEX_BATCH);
    expect(aligned(Number(one.meta.fts_reindex_below))).toBe(true);
    expect(one.meta.fts_version).toBeUndefined();
    expect(one.alarm).not.toBeNull(); // re-armed: more remain

    // An edit of a message not yet rewritten keeps the old format there (it is searched that way until rewritten).
    const edited = (await api("PATCH", `/api/v1/rooms/${room.id}/messages/${oldId(30)}`, { token: a.token, body: { text: "改到Q3季度末" } })).status;
    expect(edited).toBe(200);
    expect((await indexState(stub)).split).toBe(0);

    // A crash mid-way: the position is stored, the restart continues from it.
    const before = Number((await indexState(stub)).meta.fts_reindex_below);
    await runInDurableObject(stub(), (_i, state) => state.abort("crash")).catch(() => {});
    const after = await indexState(stub);
    const below = Number(after.meta.fts_reindex_below);
    expect(below).toBeLessThanOrEqual(before);
    expect(aligned(below)).toBe(true);

    // Alarms until done (the room re-arms itself; run them here rather than wait).
    for (let i = 0; i < 20 && (await indexState(stub)).meta.fts_version === undefined; i++) {
      if (!(await runDurableObjectAlarm(stub()))) await new Promise((r) => setTimeout(r, 50));
      const mid = (await indexState(stub)).meta.fts_reindex_below;
      if (mid !== undefined) expect(aligned(Number(mid))).toBe(true);
    }
    const done = await indexState(stub);
    expect(done.meta).toEqual({ fts_seq: String(N), fts_version: "2" });
    expect(done.rows).toBe(N);
    expect(done.split).toBe(2); // the corpus sentence and the edited message

    const s = async (q: string) => texts(await api("GET", `/api/v1/search?room=${encodeURIComponent(room.id)}&q=${encodeURIComponent(q)}&limit=50`, { token: a.token }));
    expect(await s("季度报表")).toEqual(["大家好，明天上午10点开会讨论季度报表。"]);
    expect(await s("Q3报表")).toEqual(["Q3报表已经发出"]);
    expect(await s("照片")).toEqual(["iPhone 15拍的照片很清楚", "用iPhone拍的照片", "这些iPhone照片太好看了"].sort());
    expect(await s("写真")).toEqual(["iPhoneで撮った写真を送ります"]);
    expect(await s("Q3季度")).toEqual(["改到Q3季度末"]);
    expect(await s(`routine ${N - 1}`)).toEqual([FILLER(N - 1)]);
  });

  it("a search during a big re-index: the rewritten (newest) part exactly, the rest as before the upgrade; a small remainder is finished first", async () => {
    const { runDurableObjectAlarm, runInDurableObject } = await import("cloudflare:test");
    const { MIXED_CORPUS } = await import("../room/mixed-corpus");
    const { SEARCH_FINISHES_REINDEX } = await import("../../durable-objects/room/search-reindex");
    const N = SEARCH_FINISHES_REINDEX + 3000;
    // The corpus twice: the oldest messages and the newest.
    const { a, room, stub } = await oldRoom(N, (seq) => MIXED_CORPUS[seq - 1] ?? MIXED_CORPUS[seq - (N - MIXED_CORPUS.length) - 1] ?? null);
    expect(await runDurableObjectAlarm(stub())).toBe(true);
    const caller = { userId: a.id, sessionId: "s", username: "ri", displayName: "RI", isAdmin: false };
    const found = await runInDurableObject(stub(), async (instance: RoomObject, state) => {
      const below = Number(state.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'fts_reindex_below'").one().value);
      const hits = async (q: string) => (await instance.search(caller, { q, limit: 50 })).map((h) => h.message.seq).sort((x, y) => x - y);
      return { below, q3: await hits("Q3报表"), season: await hits("季度"), hello: await hits("大家好"), cafe: await hits("cafe") };
    });
    expect(found.below).toBeGreaterThan(SEARCH_FINISHES_REINDEX + 1); // more left than a search finishes: it finished nothing
    const newest = (i: number) => N - MIXED_CORPUS.length + 1 + i;
    // Found in both parts: the old index answers as it did before (old query on old rows).
    expect(found.q3).toEqual([3, newest(2)]);
    expect(found.hello).toEqual([1, newest(0)]);
    expect(found.cafe).toEqual([20, newest(19)]);
    // A word the old format could not find: already found among the rewritten messages.
    expect(found.season).toEqual([newest(0)]);
    // Once no more than SEARCH_FINISHES_REINDEX are left, the search finishes the re-index and is exact everywhere.
    while (Number((await indexState(stub)).meta.fts_reindex_below) > SEARCH_FINISHES_REINDEX + 1) if (!(await runDurableObjectAlarm(stub()))) await new Promise((r) => setTimeout(r, 50));
    const r = await api("GET", `/api/v1/search?room=${encodeURIComponent(room.id)}&q=${encodeURIComponent("季度")}`, { token: a.token });
    expect(r.body.hits.map((h: SearchHit) => h.message.seq).sort((x: number, y: number) => x - y)).toEqual([1, newest(0)]);
    expect((await indexState(stub)).meta.fts_version).toBe("2");
  });

  it("a room without an index (the old wake-time backfill) is built the same way: nothing at wake, batches from the alarm", async () => {
    const { runDurableObjectAlarm } = await import("cloudflare:test");
    const { MIXED_CORPUS } = await import("../room/mixed-corpus");
    const { REINDEX_BATCH } = await import("../../durable-objects/room/search-reindex");
    const N = REINDEX_BATCH * 7;
    const { a, room, stub } = await oldRoom(N, (seq) => MIXED_CORPUS[seq - 1] ?? null, 0);
    const woke = await indexState(stub);
    expect(woke.rows).toBe(0);
    expect(woke.meta).toEqual({ fts_seq: String(N), fts_reindex_below: String(N + 1), fts_reindex_to: "2" });
    expect(await runDurableObjectAlarm(stub())).toBe(true);
    const one = await indexState(stub);
    // One batch (two if the room's own re-armed alarm slipped in first), not all of them.
    expect([REINDEX_BATCH, 2 * REINDEX_BATCH]).toContain(one.rows);
    expect(one.meta.fts_version).toBeUndefined();
    for (let i = 0; i < 20 && (await indexState(stub)).meta.fts_version === undefined; i++) if (!(await runDurableObjectAlarm(stub()))) await new Promise((r) => setTimeout(r, 50));
    expect(await indexState(stub)).toMatchObject({ rows: N, meta: { fts_seq: String(N), fts_version: "2" } });
    const r = await api("GET", `/api/v1/search?room=${encodeURIComponent(room.id)}&q=${encodeURIComponent("A301会议室")}`, { token: a.token });
    expect(texts(r)).toEqual(["A301会议室今天下午3点有人吗"]);
  });
});
