/**
 * Baseline for `npm run bench`: the simplest honest chat server — Node `http` + `ws`
 * + better-sqlite3 (WAL, synchronous=FULL, so every acked message is on disk, as in
 * Outpost). It speaks the client-visible protocol the benchmark scenarios use:
 *
 *   POST /api/v1/users {username,password}            (no auth; bench setup)
 *   POST /api/v1/auth/login {username,password}       -> {token}
 *   POST /api/v1/rooms {name, members?: [userId]}     -> {id, ...}
 *   POST /api/v1/rooms/:id/members {userIds: [...]}   -> {ok}
 *   GET  /api/v1/rooms/:id/messages?before=&after=&limit=  -> {messages, hasMore, lastSeq}
 *   GET  /api/v1/search?q=&room=&limit=               -> {hits, cursor}
 *   WS   /api/v1/rooms/:id/socket (Bearer)            -> hello; msg.send -> msg.ack + msg.new
 *   GET  /healthz
 *
 * Same work per message as Outpost's room: membership check, idempotency lookup by
 * clientKey, one INSERT into messages + FTS5 (same text transformation) in one
 * transaction, ack after the commit, one JSON serialisation of msg.new broadcast to
 * every socket of the room. No inbox, unread counts or mentions: that is Outpost's extra.
 *
 * Usage: node bench/baseline/server.mjs --port 0 --db /tmp/x.sqlite   (prints "listening <port>")
 */
import http from "node:http";
import crypto from "node:crypto";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import { WebSocketServer } from "ws";
import { indexText, compileQuery, snippet } from "../.build/search-tokens.mjs";

const { values: args } = parseArgs({ options: { port: { type: "string", default: "0" }, db: { type: "string" } } });
if (!args.db) throw new Error("--db is required");

const db = new Database(args.db);
db.pragma("journal_mode = WAL");
db.pragma("synchronous = FULL");
db.exec(`
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, salt BLOB NOT NULL, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rooms (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_by TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS members (room_id TEXT NOT NULL, user_id TEXT NOT NULL, role TEXT NOT NULL, joined_at INTEGER NOT NULL, last_read_seq INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (room_id, user_id));
CREATE TABLE IF NOT EXISTS messages (
  rowid INTEGER PRIMARY KEY, room_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL UNIQUE,
  client_key TEXT NOT NULL UNIQUE, client_id TEXT NOT NULL, sender_id TEXT NOT NULL, text TEXT NOT NULL,
  created_at INTEGER NOT NULL, version INTEGER NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS messages_room_seq ON messages (room_id, seq);
CREATE VIRTUAL TABLE IF NOT EXISTS message_fts USING fts5(body, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
`);

const q = {
  userByName: db.prepare("SELECT * FROM users WHERE username = ?"),
  insertUser: db.prepare("INSERT INTO users (id, username, salt, hash) VALUES (?, ?, ?, ?)"),
  insertSession: db.prepare("INSERT INTO sessions (token, user_id, created_at) VALUES (?, ?, ?)"),
  session: db.prepare("SELECT user_id FROM sessions WHERE token = ?"),
  insertRoom: db.prepare("INSERT INTO rooms (id, name, created_by, created_at) VALUES (?, ?, ?, ?)"),
  room: db.prepare("SELECT * FROM rooms WHERE id = ?"),
  insertMember: db.prepare("INSERT OR IGNORE INTO members (room_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)"),
  member: db.prepare("SELECT role FROM members WHERE room_id = ? AND user_id = ?"),
  memberCount: db.prepare("SELECT count(*) AS n FROM members WHERE room_id = ?"),
  setRead: db.prepare("UPDATE members SET last_read_seq = ? WHERE room_id = ? AND user_id = ? AND last_read_seq < ?"),
  lastSeq: db.prepare("SELECT max(seq) AS s, max(version) AS v FROM messages WHERE room_id = ?"),
  byClientKey: db.prepare("SELECT id, seq FROM messages WHERE client_key = ?"),
  insertMessage: db.prepare(
    "INSERT INTO messages (room_id, seq, id, client_key, client_id, sender_id, text, created_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
  ),
  insertFts: db.prepare("INSERT INTO message_fts (rowid, body) VALUES (?, ?)"),
  pageBefore: db.prepare("SELECT * FROM messages WHERE room_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?"),
  pageAfter: db.prepare("SELECT * FROM messages WHERE room_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?"),
  search: db.prepare(
    "SELECT m.*, bm25(message_fts) AS score FROM message_fts JOIN messages m ON m.rowid = message_fts.rowid WHERE message_fts MATCH ? AND m.room_id = ? ORDER BY score, m.seq DESC LIMIT ?",
  ),
};

const insertTx = db.transaction((roomId, row) => {
  const info = q.insertMessage.run(roomId, row.seq, row.id, row.clientKey, row.clientId, row.senderId, row.text, row.createdAt, row.version);
  const body = indexText(row.text);
  if (body) q.insertFts.run(info.lastInsertRowid, body);
});

/** In memory per open room: counters and sockets (like a loaded room object). */
const rooms = new Map();
function roomState(id) {
  let r = rooms.get(id);
  if (!r) {
    const meta = q.room.get(id);
    if (!meta) return null;
    const c = q.lastSeq.get(id);
    r = { meta, lastSeq: c.s ?? 0, version: c.v ?? 0, sockets: new Set() };
    rooms.set(id, r);
  }
  return r;
}

const newId = (p) => `${p}_${crypto.randomBytes(10).toString("hex").slice(0, 16)}`;
const hashPassword = (password, salt) =>
  new Promise((res, rej) => crypto.pbkdf2(password, salt, 600_000, 32, "sha256", (e, k) => (e ? rej(e) : res(k))));

function toMessage(roomId, r) {
  return {
    id: r.id, roomId, seq: r.seq, clientId: r.client_id ?? r.clientId, senderId: r.sender_id ?? r.senderId, text: r.text,
    replyTo: null, mentions: { users: [], all: false }, reactions: [], attachments: [],
    createdAt: r.created_at ?? r.createdAt, editedAt: null, deletedAt: null, version: r.version,
  };
}

function send(res, status, body, started) {
  const data = JSON.stringify(body);
  const headers = { "content-type": "application/json", "content-length": Buffer.byteLength(data) };
  if (started !== undefined) headers["server-timing"] = `app;dur=${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(3)}`;
  res.writeHead(status, headers);
  res.end(data);
}
const err = (res, status, code, message) => send(res, status, { error: { code, message } });

function readBody(req) {
  return new Promise((resolve, reject) => {
    let s = "";
    req.setEncoding("utf8");
    req.on("data", (c) => {
      s += c;
      if (s.length > 256 * 1024) reject(new Error("too large"));
    });
    req.on("end", () => {
      try {
        resolve(s ? JSON.parse(s) : {});
      } catch (e) {
        reject(e);
      }
    });
  });
}

function auth(req) {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
  return m ? (q.session.get(m[1])?.user_id ?? null) : null;
}

const server = http.createServer(async (req, res) => {
  const started = process.hrtime.bigint();
  const url = new URL(req.url, "http://x");
  const p = url.pathname;
  try {
    if (p === "/healthz") return send(res, 200, { ok: true });
    if (req.method === "POST" && p === "/api/v1/users") {
      const b = await readBody(req);
      const salt = crypto.randomBytes(16);
      const hash = await hashPassword(String(b.password), salt);
      const id = newId("u");
      q.insertUser.run(id, String(b.username), salt, hash);
      return send(res, 201, { id, username: b.username, displayName: b.displayName ?? b.username, isAdmin: false, active: true });
    }
    if (req.method === "POST" && p === "/api/v1/auth/login") {
      const b = await readBody(req);
      const u = q.userByName.get(String(b.username));
      const hash = await hashPassword(String(b.password), u?.salt ?? Buffer.alloc(16));
      if (!u || !crypto.timingSafeEqual(hash, u.hash)) return err(res, 401, "unauthorized", "wrong username or password");
      const token = crypto.randomBytes(32).toString("base64url");
      q.insertSession.run(token, u.id, Date.now());
      return send(res, 200, { token, user: { id: u.id, username: u.username } });
    }
    const userId = auth(req);
    if (!userId) return err(res, 401, "unauthorized", "sign in first");
    if (req.method === "POST" && p === "/api/v1/rooms") {
      const b = await readBody(req);
      const id = newId("r");
      const now = Date.now();
      db.transaction(() => {
        q.insertRoom.run(id, String(b.name), userId, now);
        q.insertMember.run(id, userId, "owner", now);
        for (const m of b.members ?? []) q.insertMember.run(id, m, "member", now);
      })();
      return send(res, 201, { id, name: b.name });
    }
    let m = /^\/api\/v1\/rooms\/([^/]+)\/members$/.exec(p);
    if (m && req.method === "POST") {
      const b = await readBody(req);
      if (!q.member.get(m[1], userId)) return err(res, 404, "not_found", "no such room");
      const now = Date.now();
      db.transaction(() => {
        for (const u of b.userIds ?? [b.userId]) q.insertMember.run(m[1], u, "member", now);
      })();
      return send(res, 200, { ok: true });
    }
    m = /^\/api\/v1\/rooms\/([^/]+)\/messages$/.exec(p);
    if (m && req.method === "GET") {
      const roomId = m[1];
      if (!q.member.get(roomId, userId)) return err(res, 404, "not_found", "no such room");
      const room = roomState(roomId);
      const limit = Math.min(Math.max(Number(url.searchParams.get("limit") ?? 50) || 50, 1), 100);
      const after = url.searchParams.get("after");
      const before = url.searchParams.get("before");
      let rows;
      if (after !== null) rows = q.pageAfter.all(roomId, Number(after), limit + 1);
      else rows = q.pageBefore.all(roomId, before !== null ? Number(before) : Number.MAX_SAFE_INTEGER, limit + 1);
      const hasMore = rows.length > limit;
      rows = rows.slice(0, limit);
      if (after === null) rows.reverse();
      return send(res, 200, { messages: rows.map((r) => toMessage(roomId, r)), hasMore, lastSeq: room.lastSeq }, started);
    }
    if (p === "/api/v1/search" && req.method === "GET") {
      const roomId = url.searchParams.get("room");
      if (!roomId || !q.member.get(roomId, userId)) return err(res, 404, "not_found", "no such room");
      const compiled = compileQuery(url.searchParams.get("q") ?? "");
      if (!compiled) return err(res, 400, "invalid_request", "nothing to search for");
      const limit = Math.min(Number(url.searchParams.get("limit") ?? 20) || 20, 50);
      const rows = q.search.all(compiled.match, roomId, limit + 1);
      const hits = rows.slice(0, limit).map((r) => ({ message: toMessage(roomId, r), snippet: snippet(r.text, compiled.terms), score: r.score }));
      return send(res, 200, { hits, cursor: rows.length > limit ? String(limit) : null }, started);
    }
    return err(res, 404, "not_found", "no such route");
  } catch (e) {
    return err(res, 500, "internal", String(e?.message ?? e));
  }
});

const wss = new WebSocketServer({ noServer: true, maxPayload: 65536 });

server.on("upgrade", (req, socket, head) => {
  const m = /^\/api\/v1\/rooms\/([^/?]+)\/socket/.exec(req.url);
  const userId = m ? auth(req) : null;
  const room = m && userId && q.member.get(m[1], userId) ? roomState(m[1]) : null;
  if (!room) {
    socket.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    room.sockets.add(ws);
    const role = q.member.get(room.meta.id, userId).role;
    const view = {
      id: room.meta.id, name: room.meta.name, kind: "group", visibility: "public", createdAt: room.meta.created_at,
      createdBy: room.meta.created_by, lastSeq: room.lastSeq, memberCount: q.memberCount.get(room.meta.id).n, role,
    };
    ws.send(JSON.stringify({ type: "hello", room: view, userId, lastSeq: room.lastSeq, version: room.version }));
    ws.on("close", () => room.sockets.delete(ws));
    ws.on("message", (data, isBinary) => onFrame(ws, room, userId, data, isBinary));
  });
});

function onFrame(ws, room, userId, data, isBinary) {
  let f;
  try {
    if (isBinary) throw new Error("binary");
    f = JSON.parse(data.toString("utf8"));
  } catch {
    ws.send(JSON.stringify({ type: "error", code: "bad_json", message: "frame is not valid JSON" }));
    return;
  }
  if (f?.type === "ping") return ws.send('{"type":"pong"}');
  if (f?.type === "read" && Number.isSafeInteger(f.seq) && f.seq >= 0) {
    // The plain way: write the position (a commit, durable) and tell the room.
    const seq = Math.min(f.seq, room.lastSeq);
    if (q.setRead.run(seq, room.meta.id, userId, seq).changes === 0) return;
    const out = JSON.stringify({ type: "receipt", userId, seq });
    for (const s of room.sockets) if (s.readyState === 1) s.send(out);
    return;
  }
  if (f?.type !== "msg.send" || typeof f.clientId !== "string" || f.clientId.length > 64 || typeof f.text !== "string" || Buffer.byteLength(f.text) > 16384) {
    ws.send(JSON.stringify({ type: "error", code: "invalid_request", message: "unsupported frame", replyTo: f?.clientId }));
    return;
  }
  // Membership is checked per frame, as Outpost does (a removed member's frames are refused).
  if (!q.member.get(room.meta.id, userId)) return ws.close(1008, "not a member");
  const clientKey = `${userId}|${f.clientId}`;
  const existing = q.byClientKey.get(clientKey);
  if (existing) {
    ws.send(JSON.stringify({ type: "msg.ack", clientId: f.clientId, id: existing.id, seq: existing.seq, duplicate: true }));
    return;
  }
  const row = {
    seq: room.lastSeq + 1, id: newId("m"), clientKey, clientId: f.clientId, senderId: userId, text: f.text,
    createdAt: Date.now(), version: room.version + 1,
  };
  try {
    insertTx(room.meta.id, row); // commits (fsync) before returning
  } catch (e) {
    ws.send(JSON.stringify({ type: "error", code: "internal", message: String(e.message), replyTo: f.clientId }));
    return;
  }
  room.lastSeq = row.seq;
  room.version = row.version;
  ws.send(JSON.stringify({ type: "msg.ack", clientId: f.clientId, id: row.id, seq: row.seq, duplicate: false }));
  const out = JSON.stringify({ type: "msg.new", message: toMessage(room.meta.id, row) });
  for (const s of room.sockets) if (s.readyState === 1) s.send(out);
}

server.listen(Number(args.port), "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
const shutdown = () => {
  for (const r of rooms.values()) for (const s of r.sockets) s.terminate();
  server.close();
  db.close();
  process.exit(0);
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
