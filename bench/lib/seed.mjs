/**
 * Bench-only seeding: write N messages straight into a room's SQLite file while its
 * server is stopped (REST sends would take hours for 1,000,000). Outpost: the room
 * object's own file (<data>/objects/outpost-RoomObject/<id>.sqlite) with the same
 * rows the room writes — messages, mention_index, message_fts (text through the same
 * indexText() as durable-objects/room/search-tokens.ts). Baseline: its one database.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
/** Bundled from durable-objects/room/search-tokens.ts by prepareBuild() (servers.mjs). */
const loadSearchText = async () => await import("../.build/search-tokens.mjs");
const loadIndexText = async () => (await loadSearchText()).indexText;

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYL = ["ka", "lo", "mi", "ten", "ra", "su", "vo", "ne", "pi", "dar", "gu", "sel", "tor", "fin", "ba", "xe", "ly", "mor", "qui", "zan"];
export const VOCAB = Array.from({ length: 5000 }, (_, i) => {
  let w = "";
  let x = i + 7;
  do {
    w += SYL[x % SYL.length];
    x = Math.floor(x / SYL.length);
  } while (x > 0);
  return w;
});
const CJK = ["上海", "北京", "会议", "发布", "测试", "项目", "周报", "服务器", "数据库", "明天"];

/** Zipf(s=1) sampler over VOCAB ranks. */
function zipf(rand) {
  const H = VOCAB.reduce((a, _, i) => a + 1 / (i + 1), 0);
  const cdf = new Float64Array(VOCAB.length);
  let acc = 0;
  VOCAB.forEach((_, i) => (cdf[i] = acc += 1 / (i + 1) / H));
  return () => {
    const u = rand();
    let lo = 0, hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

export function* messageTexts(count, seed = 42) {
  const rand = rng(seed);
  const pick = zipf(rand);
  for (let i = 0; i < count; i++) {
    const n = 6 + Math.floor(rand() * 10);
    const words = [];
    for (let k = 0; k < n; k++) words.push(VOCAB[pick()]);
    if (rand() < 0.1) words.splice(Math.floor(rand() * words.length), 0, CJK[Math.floor(rand() * CJK.length)] + CJK[Math.floor(rand() * CJK.length)]);
    yield words.join(" ");
  }
}

const rid = (rand) => Array.from({ length: 16 }, () => "0123456789abcdefghjkmnpqrstvwxyz"[Math.floor(rand() * 32)]).join("");

/** The newest *.sqlite in a folder (the room object's file after one room was created). */
export function newestSqlite(dir) {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".sqlite")).map((f) => ({ f, t: fs.statSync(path.join(dir, f)).mtimeMs }));
  files.sort((a, b) => b.t - a.t);
  if (!files.length) throw new Error(`no .sqlite file in ${dir}`);
  return path.join(dir, files[0].f);
}

/** Append `count` messages from `senderId` after the room's current last seq. */
export async function seedOutpostRoom(file, { count, senderId, mentionUserId }) {
  const { indexText, INDEX_VERSION } = await loadSearchText();
  const db = new Database(file);
  const rand = rng(7);
  const { s, v } = db.prepare("SELECT max(seq) AS s, max(version) AS v FROM messages").get();
  let seq = s ?? 0;
  let version = v ?? 0;
  const ins = db.prepare(
    "INSERT INTO messages (seq, id, client_key, client_id, sender_id, text, reply_to, mentions, created_at, edited_at, deleted_at, version, attachments) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, NULL, NULL, ?, NULL)",
  );
  const fts = db.prepare("INSERT INTO message_fts (rowid, body) VALUES (?, ?)");
  const men = db.prepare("INSERT INTO mention_index (seq, user_id) VALUES (?, ?)");
  const t0 = Date.now() - count * 1000;
  const noMention = JSON.stringify({ users: [], all: false });
  const withMention = JSON.stringify({ users: [mentionUserId], all: false });
  db.transaction(() => {
    // Messages the room stored but had not indexed yet (it indexes about a second after a send).
    const ftsFrom = Number(db.prepare("SELECT value FROM meta WHERE key = 'fts_seq'").get()?.value ?? 0);
    for (const r of db.prepare("SELECT seq, text FROM messages WHERE seq > ? AND deleted_at IS NULL").all(ftsFrom)) fts.run(r.seq, indexText(r.text));
    let i = 0;
    for (let text of messageTexts(count)) {
      seq++;
      version++;
      const mention = i % 100 === 0;
      if (mention) text = `@admin ${text}`;
      const clientId = `seed${i}`;
      ins.run(seq, `m_${rid(rand)}`, `${senderId}|seed|${clientId}`, clientId, senderId, text, mention ? withMention : noMention, t0 + i * 1000, version);
      fts.run(seq, indexText(text));
      if (mention) men.run(seq, mentionUserId);
      i++;
    }
    // The rows are indexed, in the current format: say so, as the room does after indexing
    // (else the room would take them for a backlog, or an old format, and index them again).
    const setMeta = db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    setMeta.run("fts_seq", String(seq));
    if (INDEX_VERSION !== undefined) setMeta.run("fts_version", String(INDEX_VERSION));
  })();
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
  return { lastSeq: seq };
}

export async function seedBaselineRoom(file, { count, roomId, senderId }) {
  const indexText = await loadIndexText();
  const db = new Database(file);
  const rand = rng(7);
  const { s, v } = db.prepare("SELECT max(seq) AS s, max(version) AS v FROM messages WHERE room_id = ?").get(roomId);
  let seq = s ?? 0;
  let version = v ?? 0;
  const ins = db.prepare("INSERT INTO messages (room_id, seq, id, client_key, client_id, sender_id, text, created_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  const fts = db.prepare("INSERT INTO message_fts (rowid, body) VALUES (?, ?)");
  const t0 = Date.now() - count * 1000;
  db.transaction(() => {
    let i = 0;
    for (let text of messageTexts(count)) {
      seq++;
      version++;
      if (i % 100 === 0) text = `@admin ${text}`;
      const clientId = `seed${i}`;
      const info = ins.run(roomId, seq, `m_${rid(rand)}`, `${senderId}|${clientId}`, clientId, senderId, text, t0 + i * 1000, version);
      fts.run(info.lastInsertRowid, indexText(text));
      i++;
    }
  })();
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
  return { lastSeq: seq };
}
