/**
 * Retention on a real `workerd serve` node: a room's policy and the node's
 * default purge old messages (with their files on the node's disk) through the
 * rooms' alarms, in batches, and history carries the marker.
 *
 * How messages get old: the node is stopped and the `created_at` of messages
 * is moved back in the rooms' SQLite files (better-sqlite3), exactly what the
 * passing of days would have left on disk; the node is started again. The
 * product has no clock switch or backdating API for this, on purpose. The same
 * way, PURGE_MESSAGES old rows are written into one room to time a purge (the
 * send path would take minutes and its budget would refuse most).
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, ok, sleep, type TestUser } from "./client";
import { withNode, type TestNode } from "../fixtures";
import type { Message } from "../../protocol/models";
import { recordFigures } from "../figures";

const DAY = 24 * 60 * 60 * 1000;
/** old messages written into one room to time a purge (RETENTION_FIGURE_MESSAGES=100000 for the docs' figure) */
const PURGE_MESSAGES = Number(process.env.RETENTION_FIGURE_MESSAGES ?? 20_000);

let t: TestNode;
let ann: TestUser;
let bob: TestUser;

beforeAll(async () => {
  t = await withNode({ keepData: true });
  ann = await t.user("ann");
  bob = await t.user("bob");
}, 60_000);
afterAll(async () => {
  await t?.stop();
  if (t) fs.rmSync(t.node.dataDir, { recursive: true, force: true });
});

/** The SQLite file of `roomId` (its meta says its id). */
function roomFile(roomId: string): string {
  const files = (fs.readdirSync(t.node.dataDir, { recursive: true }) as string[]).filter((f) => f.endsWith(".sqlite")).map((f) => path.join(t.node.dataDir, f));
  for (const file of files) {
    const db = new Database(file, { fileMustExist: true });
    try {
      const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'meta'").get();
      if (hasMeta && (db.prepare("SELECT value FROM meta WHERE key = 'id'").get() as { value: string } | undefined)?.value === roomId) return file;
    } finally {
      db.close();
    }
  }
  throw new Error(`no SQLite file for ${roomId}`);
}

/** With the node stopped: change rooms' files, then start it again. */
async function whileStopped(fn: () => void): Promise<void> {
  await t.node.stop();
  fn();
  await t.node.restart();
}

const history = (token: string, roomId: string, query = "") => ok<{ messages: Message[]; hasMore: boolean; retention?: { beforeSeq: number; before: number } }>(200, t.node.url, "GET", `/api/v1/rooms/${encodeURIComponent(roomId)}/messages${query}`, { token });
const send = (token: string, roomId: string, text: string, extra: Record<string, unknown> = {}) =>
  ok<Message>(201, t.node.url, "POST", `/api/v1/rooms/${encodeURIComponent(roomId)}/messages`, { token, body: { text, clientId: `c${Math.random().toString(36).slice(2)}`, ...extra } });

async function until<T>(what: string, check: () => Promise<T | null | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Files under the node's file store (its disk service), anywhere. */
const storedFiles = () => {
  const root = path.join(t.node.dataDir, "files");
  return fs.existsSync(root) ? (fs.readdirSync(root, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(root, f)).isFile()) : [];
};

describe("retention on a real node", () => {
  it("a room's policy, then the node's default, purge old messages and their files; history says so", async () => {
    const room = await t.room(ann.token, "Quarterly", [bob.id]);
    const other = await t.room(ann.token, "Follows the node", [bob.id]);
    const up = await fetch(`${t.node.url}/api/v1/rooms/${encodeURIComponent(room.id)}/files?name=q3.txt`, { method: "POST", headers: { authorization: `Bearer ${ann.token}`, "content-type": "text/plain" }, body: "q3 numbers" });
    expect(up.status).toBe(201);
    const file = (await up.json()) as { id: string };
    await send(ann.token, room.id, "numbers attached", { attachments: [file.id] });
    await send(ann.token, room.id, `@${bob.username} please check`);
    await send(bob.token, other.id, "old chatter in the other room");
    expect(storedFiles()).toHaveLength(1);

    await whileStopped(() => {
      for (const id of [room.id, other.id]) {
        const db = new Database(roomFile(id));
        db.prepare("UPDATE messages SET created_at = created_at - ?").run(3 * DAY);
        db.close();
      }
    });
    const fresh = await send(bob.token, room.id, "sent today");

    const set = await ok<{ retentionDays: number | null }>(200, t.node.url, "PUT", `/api/v1/admin/rooms/${encodeURIComponent(room.id)}/retention`, { token: t.admin, body: { days: 1 } });
    expect(set.retentionDays).toBe(1);
    const page = await until("the purge", async () => {
      const p = await history(bob.token, room.id);
      return p.messages.length === 1 && p;
    });
    expect(page.messages[0].id).toBe(fresh.id);
    expect(page.retention).toMatchObject({ beforeSeq: 3 });
    expect(page.retention!.before).toBeGreaterThan(Date.now() - 1.1 * DAY);
    expect((await api(t.node.url, "GET", `/api/v1/files/${file.id}`, { token: bob.token })).status).toBe(404);
    await until("the file's bytes to go", async () => storedFiles().length === 0);
    // The other room keeps its message until the node's default says otherwise.
    expect((await history(bob.token, other.id)).messages).toHaveLength(1);

    expect(await ok(200, t.node.url, "PUT", "/api/v1/admin/retention", { token: t.admin, body: { defaultDays: 1 } })).toEqual({ defaultDays: 1 });
    expect(await ok(200, t.node.url, "GET", "/api/v1/admin/retention", { token: t.admin })).toEqual({ defaultDays: 1 });
    const otherPage = await until("the default's purge", async () => {
      const p = await history(bob.token, other.id);
      return p.messages.length === 0 && p;
    });
    expect(otherPage.retention).toMatchObject({ beforeSeq: 2 });
    // Survives a restart: the marker is the room's.
    await t.node.restart();
    expect((await history(bob.token, room.id)).retention).toEqual(page.retention);
  }, 120_000);

  it(`purges ${PURGE_MESSAGES} old messages in bounded batches while the room keeps answering`, async () => {
    const room = await t.room(ann.token, "Archive", [bob.id]);
    const old = Date.now() - 400 * DAY;
    await whileStopped(() => {
      const db = new Database(roomFile(room.id));
      const insert = db.prepare(
        "INSERT INTO messages (seq, id, client_key, client_id, sender_id, text, reply_to, mentions, created_at, edited_at, deleted_at, version, attachments) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, NULL, NULL, ?, NULL)",
      );
      db.transaction(() => {
        for (let i = 1; i <= PURGE_MESSAGES; i++) insert.run(i, `m_old${String(i).padStart(13, "0")}`, `${ann.id}|s|o${i}`, `o${i}`, ann.id, `archived message number ${i}`, '{"users":[],"all":false}', old + i, i);
      })();
      // Indexed already, as a year-old room's would be.
      db.prepare("INSERT INTO message_fts (rowid, body) SELECT seq, text FROM messages").run();
      db.prepare("INSERT INTO meta (key, value) VALUES ('fts_seq', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(PURGE_MESSAGES));
      db.close();
    });
    const started = Date.now();
    await ok(200, t.node.url, "PUT", `/api/v1/admin/rooms/${encodeURIComponent(room.id)}/retention`, { token: t.admin, body: { days: 30 } });
    // Sends keep being answered during the purge (each batch is one short transaction).
    const sendMs: number[] = [];
    let done = false;
    while (!done) {
      const t0 = performance.now();
      await send(bob.token, room.id, "still here");
      sendMs.push(performance.now() - t0);
      const p = await history(bob.token, room.id, "?after=0&limit=1");
      done = p.messages[0]?.senderId === bob.id;
      if (Date.now() - started > 600_000) throw new Error("purge took over 10 minutes");
      await sleep(200);
    }
    const purgeMs = Date.now() - started;
    sendMs.sort((a, b) => a - b);
    const db = new Database(roomFile(room.id), { readonly: true });
    const left = (db.prepare("SELECT count(*) AS n FROM messages WHERE sender_id = ?").get(ann.id) as { n: number }).n;
    db.close();
    expect(left).toBe(0);
    expect((await history(bob.token, room.id)).retention?.beforeSeq).toBe(PURGE_MESSAGES + 1);
    recordFigures("retention", {
      purgedMessages: PURGE_MESSAGES,
      purgeSeconds: Math.round(purgeMs / 100) / 10,
      batchMessages: 500,
      sendsDuringPurge: sendMs.length,
      sendP50Ms: Math.round(sendMs[Math.floor(sendMs.length / 2)]),
      sendMaxMs: Math.round(sendMs[sendMs.length - 1]),
    });
  }, 660_000);
});
