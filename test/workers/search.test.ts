import { describe, expect, it } from "vitest";
import { api, newUser, newRoom } from "./helpers";

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

const texts = (r: any) => r.body.hits.map((h: any) => h.message.text).sort();

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
    const bj = hist.body.messages.find((m: any) => m.text.includes("北京"));
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
    expect(sync.messages.map((m: any) => m.seq)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
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
