/**
 * The mirror's tables (schema.ts): the room and members as pushed, messages as
 * the home described them (protocol Message JSON, by seq), read positions, and
 * the search index. Every write of a push happens in one transaction, with the
 * positions it reaches, so a crash can never leave half a push behind.
 */
import { asc, desc, eq, gt, inArray, lt } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import * as schema from "./schema";
import { indexText } from "../room/search-tokens";
import type { Member, Message, Room } from "../../protocol/models";

export type MirrorDb = DrizzleSqliteDODatabase<typeof schema>;

/** What the home said the room is (the view without a caller's role). */
export type MirroredRoom = Omit<Room, "role" | "memberCount" | "lastSeq"> & { residency: "everywhere" | "home" };

/** The positions a mirror has reached, and when it last heard from the home. */
export interface MirrorState {
  room: MirroredRoom | null;
  members: Member[];
  lastSeq: number;
  version: number;
  membersRev: number;
  /** ms since epoch of the last push applied (what "last synced at" shows) */
  syncedAt: number;
  /** the home's retention marker as last pushed (what history shows), or null */
  retention: MirrorRetention | null;
}

/** The home's retention marker (protocol/cluster.ts RoomPush.retention). */
export interface MirrorRetention {
  beforeSeq: number;
  before: number;
  keptSenders: string[];
}

/** Copies deleted per transaction when the home's retention removed messages. */
export const MIRROR_PURGE_BATCH = 500;

// sql-safe: a fixed string, every value bound
const UPSERT_META = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value";
// sql-safe: a fixed string, every value bound
const UPSERT_POSITIONS = "INSERT INTO meta (key, value) VALUES ('lastSeq', ?), ('version', ?), ('syncedAt', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value";
// sql-safe: a fixed string, every value bound
const MESSAGE_VERSION = "SELECT version FROM messages WHERE seq = ?";
// sql-safe: a fixed string, every value bound
const UPSERT_MESSAGE = "INSERT INTO messages (seq, id, version, body) VALUES (?, ?, ?, ?) ON CONFLICT (seq) DO UPDATE SET id = excluded.id, version = excluded.version, body = excluded.body";

const META_KEYS = ["room", "members", "lastSeq", "version", "membersRev", "syncedAt", "retention"] as const;
type MetaKey = (typeof META_KEYS)[number];

export class MirrorStore {
  constructor(
    private readonly db: MirrorDb,
    private readonly storage: DurableObjectStorage,
  ) {}

  transaction<T>(fn: () => T): T {
    return this.storage.transactionSync(fn);
  }

  load(): MirrorState {
    const rows = new Map(this.db.select().from(schema.meta).all().map((r) => [r.key, r.value]));
    const num = (k: MetaKey) => Number(rows.get(k) ?? "0");
    return {
      room: rows.has("room") ? (JSON.parse(rows.get("room")!) as MirroredRoom) : null,
      members: rows.has("members") ? (JSON.parse(rows.get("members")!) as Member[]) : [],
      lastSeq: num("lastSeq"),
      version: num("version"),
      membersRev: num("membersRev"),
      syncedAt: num("syncedAt"),
      retention: rows.has("retention") ? (JSON.parse(rows.get("retention")!) as MirrorRetention) : null,
    };
  }

  // Every push goes through the statements below (one or two pushes per message under load):
  // fixed SQL, not a query built by drizzle on each call (building one costs more than running it).
  private set(key: MetaKey, value: string): void {
    this.storage.sql.exec(UPSERT_META, key, value);
  }

  saveRoom(room: MirroredRoom): void {
    this.set("room", JSON.stringify(room));
  }

  saveMembers(members: Member[], rev: number): void {
    this.set("members", JSON.stringify(members));
    this.set("membersRev", String(rev));
  }

  savePositions(lastSeq: number, version: number, syncedAt: number): void {
    this.storage.sql.exec(UPSERT_POSITIONS, String(lastSeq), String(version), String(syncedAt));
  }

  /** Store a message as the home now describes it; `index`: keep the search index in step. Returns whether it was new. */
  putMessage(m: Message, index: boolean): "new" | "updated" | "stale" {
    const before = this.storage.sql.exec<{ version: number }>(MESSAGE_VERSION, m.seq).toArray()[0];
    if (before && before.version >= m.version) return "stale";
    this.storage.sql.exec(UPSERT_MESSAGE, m.seq, m.id, m.version, JSON.stringify(m));
    if (index) {
      if (before) this.storage.sql.exec("DELETE FROM message_fts WHERE rowid = ?", m.seq);
      const body = m.deletedAt === null ? indexText(m.text) : "";
      if (body) this.storage.sql.exec("INSERT INTO message_fts (rowid, body) VALUES (?, ?)", m.seq, body);
    }
    return before ? "updated" : "new";
  }

  /** Store these read positions; returns those that moved (only they deserve a `receipt` event). */
  setReads(reads: { userId: string; seq: number }[]): { userId: string; seq: number }[] {
    if (reads.length === 0) return [];
    const held = new Map(this.reads().map((r) => [r.userId, r.seq]));
    const moved = reads.filter((r) => held.get(r.userId) !== r.seq);
    for (const r of moved) this.db.insert(schema.reads).values(r).onConflictDoUpdate({ target: schema.reads.userId, set: { seq: r.seq } }).run();
    return moved;
  }

  reads(): { userId: string; seq: number }[] {
    return this.db.select().from(schema.reads).all();
  }

  page(q: { before?: number; after?: number; limit: number }): { messages: Message[]; hasMore: boolean } {
    const m = schema.messages;
    let rows;
    if (q.after !== undefined) {
      rows = this.db.select().from(m).where(gt(m.seq, q.after)).orderBy(asc(m.seq)).limit(q.limit + 1).all();
      const hasMore = rows.length > q.limit;
      return { messages: rows.slice(0, q.limit).map(parse), hasMore };
    }
    const where = q.before !== undefined ? lt(m.seq, q.before) : undefined;
    rows = this.db.select().from(m).where(where).orderBy(desc(m.seq)).limit(q.limit + 1).all();
    const hasMore = rows.length > q.limit;
    return { messages: rows.slice(0, q.limit).reverse().map(parse), hasMore };
  }

  /** Messages changed after `version` (edits, recalls, reactions of older ones included), in seq order. */
  changedSince(version: number, limit: number): Message[] {
    const m = schema.messages;
    return this.db.select().from(m).where(gt(m.version, version)).orderBy(asc(m.seq)).limit(limit).all().map(parse);
  }

  byId(id: string): Message | null {
    const row = this.db.select().from(schema.messages).where(eq(schema.messages.id, id)).get();
    return row ? parse(row) : null;
  }

  bySeq(seqs: number[]): Map<number, Message> {
    const out = new Map<number, Message>();
    for (let i = 0; i < seqs.length; i += 90) {
      for (const row of this.db.select().from(schema.messages).where(inArray(schema.messages.seq, seqs.slice(i, i + 90))).all()) out.set(row.seq, parse(row));
    }
    return out;
  }

  /** Full-text matches (a compiled MATCH expression), newest first, at most `window`. */
  search(match: string, window: number): { seq: number; score: number }[] {
    return this.storage.sql
      .exec<{ seq: number; score: number }>("SELECT rowid AS seq, bm25(message_fts) AS score FROM message_fts WHERE message_fts MATCH ? ORDER BY rowid DESC LIMIT ?", match, window)
      .toArray();
  }

  saveRetention(marker: MirrorRetention): void {
    this.set("retention", JSON.stringify(marker));
  }

  /**
   * One bounded transaction of the home's retention: copies of messages the
   * home removed go (search rows too). Returns how many went (a full batch:
   * call again). By seq, not by time: the home purges in seq order, so below
   * its `beforeSeq` only held people's messages are left there, and the copy
   * follows the home's order rather than re-deciding by a time it copied.
   */
  purgeBatch(m: MirrorRetention): number {
    return this.transaction(() => {
      const seqs = this.storage.sql
        .exec<{ seq: number }>(
          "SELECT seq FROM messages WHERE seq < ? AND json_extract(body, '$.senderId') NOT IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT ?",
          m.beforeSeq,
          JSON.stringify(m.keptSenders),
          MIRROR_PURGE_BATCH,
        )
        .toArray()
        .map((r) => r.seq);
      for (const seq of seqs) {
        this.storage.sql.exec("DELETE FROM message_fts WHERE rowid = ?", seq);
        this.storage.sql.exec("DELETE FROM messages WHERE seq = ?", seq);
      }
      return seqs.length;
    });
  }

  /** Forget every message (the room became home-only: nothing of it may stay on this node's disk). */
  dropMessages(): void {
    this.db.delete(schema.messages).run();
    this.storage.sql.exec("DELETE FROM message_fts");
  }
}

const parse = (row: { body: string }): Message => JSON.parse(row.body) as Message;
