/**
 * The message tables: `messages` (one row per message, `seq` is the room's
 * order), `reactions` and `mention_index` (who a message mentions, `*` for
 * @all, so unread mention counts are an index lookup).
 *
 * The send path's lookups and writes use fixed SQL strings with bound
 * parameters directly: workerd caches the prepared statement per string, and
 * the query builder's per-call cost showed up in profiles of busy rooms.
 */
import { and, asc, eq, gt, inArray } from "drizzle-orm";
import * as schema from "../schema";
import type { Attachment, Mentions, Message } from "../../../protocol/models";
import type { RoomDb } from "./room-store";

export type MessageRow = typeof schema.messages.$inferSelect;

/** Who a message mentions, as mention_index rows (`*` stands for @all). */
export const mentionRows = (mentions: Mentions): string[] => (mentions.all ? [...mentions.users, "*"] : mentions.users);

export class MessageStore {
  constructor(
    private readonly db: RoomDb,
    private readonly sql: SqlStorage,
  ) {}

  /** Highest seq and highest version stored (both 0 for an empty room). */
  counters(): { lastSeq: number; version: number } {
    const row = this.sql.exec<{ s: number | null; v: number | null }>("SELECT max(seq) AS s, max(version) AS v FROM messages").one();
    return { lastSeq: row.s ?? 0, version: row.v ?? 0 };
  }

  findByClientKey(clientKey: string): MessageRow | undefined {
    const row = this.sql.exec<RawMessageRow>(FIND_BY_CLIENT_KEY, clientKey).toArray()[0];
    return row ? fromRaw(row) : undefined;
  }

  findById(id: string): MessageRow | undefined {
    return this.db.select().from(schema.messages).where(eq(schema.messages.id, id)).get();
  }

  /** Messages by seq (any number: SQLite in workerd binds at most 100 parameters, so in chunks). */
  bySeq(seqs: number[]): MessageRow[] {
    const out: MessageRow[] = [];
    for (let i = 0; i < seqs.length; i += 90) {
      out.push(...this.db.select().from(schema.messages).where(inArray(schema.messages.seq, seqs.slice(i, i + 90))).all());
    }
    return out;
  }

  /**
   * Insert a message row unless one with the same client key is stored
   * already: then nothing is written and the answer is false. One statement
   * decides both, instead of a lookup before every insert.
   */
  insert(row: MessageRow): boolean {
    const cursor = this.sql.exec(
      INSERT_MESSAGE,
      row.seq,
      row.id,
      row.clientKey,
      row.clientId,
      row.senderId,
      row.text,
      row.replyTo,
      row.mentions,
      row.createdAt,
      row.editedAt,
      row.deletedAt,
      row.version,
      row.attachments,
    );
    return cursor.rowsWritten > 0;
  }

  /** The mention rows of a new message (see `mentionRows`). */
  addMentions(seq: number, userIds: string[]): void {
    for (const userId of userIds) this.sql.exec("INSERT INTO mention_index (seq, user_id) VALUES (?, ?)", seq, userId);
  }

  /** Replace a message's mention rows (after an edit). */
  replaceMentions(seq: number, mentions: Mentions): void {
    this.db.delete(schema.mentionIndex).where(eq(schema.mentionIndex.seq, seq)).run();
    for (const userId of mentionRows(mentions)) this.db.insert(schema.mentionIndex).values({ seq, userId }).run();
  }

  update(seq: number, set: Partial<MessageRow>): void {
    this.db.update(schema.messages).set(set).where(eq(schema.messages.seq, seq)).run();
  }

  /** Reactions and mention rows of a recalled message. */
  clearDerived(seq: number): void {
    this.db.delete(schema.reactions).where(eq(schema.reactions.seq, seq)).run();
    this.db.delete(schema.mentionIndex).where(eq(schema.mentionIndex.seq, seq)).run();
  }

  /**
   * A page of history in seq order. `after`: the oldest `limit` messages with
   * seq > after. `before`: the newest `limit` messages with seq < before.
   * Neither: the newest `limit` messages.
   */
  page(q: { before?: number; after?: number; limit: number }): { rows: MessageRow[]; hasMore: boolean } {
    const sql = this.sql;
    const take = q.limit + 1;
    let raw: RawMessageRow[];
    if (q.after !== undefined) {
      raw =
        q.before !== undefined
          ? sql.exec<RawMessageRow>(PAGE_BETWEEN, q.after, q.before, take).toArray()
          : sql.exec<RawMessageRow>(PAGE_AFTER, q.after, take).toArray();
      return { rows: raw.slice(0, q.limit).map(fromRaw), hasMore: raw.length > q.limit };
    }
    raw = q.before !== undefined ? sql.exec<RawMessageRow>(PAGE_BEFORE, q.before, take).toArray() : sql.exec<RawMessageRow>(PAGE_LATEST, take).toArray();
    return { rows: raw.slice(0, q.limit).reverse().map(fromRaw), hasMore: raw.length > q.limit };
  }

  /** Messages changed or created after `version`, in seq order (for resume). At most `limit + 1`. */
  /** The first `limit` messages changed after `version`, in version order (a peer push's cursor can stop at the last: peer-push.ts). */
  changedByVersion(version: number, limit: number): MessageRow[] {
    // Fixed SQL: every push to every other node asks this (the query builder was ~10% of the home's CPU there).
    return this.sql.exec<RawMessageRow>(CHANGED_BY_VERSION, version, limit).toArray().map(fromRaw);
  }

  changedSince(version: number, limit: number): MessageRow[] {
    return this.sql.exec<RawMessageRow>(CHANGED_SINCE, version, limit + 1).toArray().map(fromRaw);
  }

  /** New messages after `afterSeq` and who they mention, for coalesced inbox updates. */
  newSince(afterSeq: number, limit: number): { rows: MessageRow[]; mentions: Map<number, string[]> } {
    const m = schema.messages;
    const rows = this.db.select().from(m).where(gt(m.seq, afterSeq)).orderBy(asc(m.seq)).limit(limit).all();
    const mentions = new Map<number, string[]>();
    if (rows.length) {
      const mi = schema.mentionIndex;
      for (const r of this.db.select().from(mi).where(gt(mi.seq, afterSeq)).all()) {
        let list = mentions.get(r.seq);
        if (!list) mentions.set(r.seq, (list = []));
        list.push(r.userId);
      }
    }
    return { rows, mentions };
  }

  lastRow(): MessageRow | undefined {
    const row = this.sql.exec<RawMessageRow>(LAST_MESSAGE).toArray()[0];
    return row ? fromRaw(row) : undefined;
  }

  /** Unread (others' messages after `afterSeq`, not recalled) and mentions among them, both capped at `cap`. */
  countUnread(userId: string, afterSeq: number, cap = 1000): { unread: number; mentions: number } {
    const unread = this.sql
      .exec<{ n: number }>("SELECT count(*) AS n FROM (SELECT 1 FROM messages WHERE seq > ? AND sender_id != ? AND deleted_at IS NULL LIMIT ?)", afterSeq, userId, cap)
      .one().n;
    const mentions = this.sql
      .exec<{ n: number }>(
        "SELECT count(*) AS n FROM (SELECT DISTINCT mi.seq FROM mention_index mi JOIN messages m ON m.seq = mi.seq WHERE mi.seq > ? AND mi.user_id IN (?, '*') AND m.sender_id != ? AND m.deleted_at IS NULL LIMIT ?)",
        afterSeq,
        userId,
        userId,
        cap,
      )
      .one().n;
    return { unread, mentions };
  }

  // ---- reactions ----

  /** Toggle: returns true if the reaction is now present. */
  toggleReaction(seq: number, emoji: string, userId: string, now: number): boolean {
    const where = and(eq(schema.reactions.seq, seq), eq(schema.reactions.emoji, emoji), eq(schema.reactions.userId, userId));
    const existing = this.db.select().from(schema.reactions).where(where).get();
    if (existing) {
      this.db.delete(schema.reactions).where(where).run();
      return false;
    }
    this.db.insert(schema.reactions).values({ seq, emoji, userId, createdAt: now }).run();
    return true;
  }

  distinctEmojiCount(seq: number): number {
    return this.sql.exec<{ n: number }>("SELECT count(DISTINCT emoji) AS n FROM reactions WHERE seq = ?", seq).one().n;
  }

  private reactionsFor(seqs: number[]): Map<number, { emoji: string; users: string[] }[]> {
    const out = new Map<number, { emoji: string; users: string[] }[]>();
    if (seqs.length === 0) return out;
    // One range scan for the page (seqs of a page are close together), filtered here:
    // no statement with one parameter per message.
    const wanted = new Set(seqs);
    const rows = this.sql
      .exec<{ seq: number; emoji: string; user_id: string }>(
        "SELECT seq, emoji, user_id FROM reactions WHERE seq BETWEEN ? AND ? ORDER BY seq, created_at",
        Math.min(...seqs),
        Math.max(...seqs),
      )
      .toArray()
      .filter((row) => wanted.has(row.seq));
    for (const row of rows) {
      let list = out.get(row.seq);
      if (!list) out.set(row.seq, (list = []));
      let entry = list.find((e) => e.emoji === row.emoji);
      if (!entry) list.push((entry = { emoji: row.emoji, users: [] }));
      entry.users.push(row.user_id);
    }
    return out;
  }

  /** Rows as the protocol's messages, with their reactions (one query for all of them). */
  toMessages(roomId: string, rows: MessageRow[]): Message[] {
    const reactions = this.reactionsFor(rows.map((r) => r.seq));
    return rows.map((row) => toMessage(roomId, row, reactions.get(row.seq) ?? []));
  }
}

export function toMessage(roomId: string, row: MessageRow, reactions: { emoji: string; users: string[] }[]): Message {
  return {
    id: row.id,
    roomId,
    seq: row.seq,
    clientId: row.clientId,
    senderId: row.senderId,
    text: row.text,
    replyTo: row.replyTo,
    mentions: JSON.parse(row.mentions) as Mentions,
    reactions,
    attachments: row.attachments ? (JSON.parse(row.attachments) as Attachment[]) : [],
    createdAt: row.createdAt,
    editedAt: row.editedAt,
    deletedAt: row.deletedAt,
    version: row.version,
  };
}

/** A `messages` row as `SELECT *` returns it (shared with store/retention.ts). */
export type RawMessageRow = {
  seq: number;
  id: string;
  client_key: string;
  client_id: string;
  sender_id: string;
  text: string;
  reply_to: string | null;
  mentions: string;
  created_at: number;
  edited_at: number | null;
  deleted_at: number | null;
  deleted_by: string | null;
  version: number;
  attachments: string | null;
};

export function fromRaw(r: RawMessageRow): MessageRow {
  return {
    seq: r.seq,
    id: r.id,
    clientKey: r.client_key,
    clientId: r.client_id,
    senderId: r.sender_id,
    text: r.text,
    replyTo: r.reply_to,
    mentions: r.mentions,
    createdAt: r.created_at,
    editedAt: r.edited_at,
    deletedAt: r.deleted_at,
    deletedBy: r.deleted_by,
    version: r.version,
    attachments: r.attachments,
  };
}

const SELECT_MESSAGE =
  "SELECT seq, id, client_key, client_id, sender_id, text, reply_to, mentions, created_at, edited_at, deleted_at, deleted_by, version, attachments FROM messages";
// sql-safe: fixed strings.
const LAST_MESSAGE = SELECT_MESSAGE + " ORDER BY seq DESC LIMIT 1";
// sql-safe: fixed strings.
const FIND_BY_CLIENT_KEY = SELECT_MESSAGE + " WHERE client_key = ?";
// sql-safe: a fixed string, every value bound
const INSERT_MESSAGE =
  "INSERT INTO messages (seq, id, client_key, client_id, sender_id, text, reply_to, mentions, created_at, edited_at, deleted_at, version, attachments) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (client_key) DO NOTHING";
// sql-safe: fixed strings.
const CHANGED_BY_VERSION = SELECT_MESSAGE + " WHERE version > ? ORDER BY version ASC LIMIT ?";
// sql-safe: fixed strings.
const CHANGED_SINCE = SELECT_MESSAGE + " WHERE version > ? ORDER BY seq ASC LIMIT ?";
// sql-safe: fixed strings.
const PAGE_AFTER = SELECT_MESSAGE + " WHERE seq > ? ORDER BY seq ASC LIMIT ?";
// sql-safe: fixed strings.
const PAGE_BETWEEN = SELECT_MESSAGE + " WHERE seq > ? AND seq < ? ORDER BY seq ASC LIMIT ?";
// sql-safe: fixed strings.
const PAGE_BEFORE = SELECT_MESSAGE + " WHERE seq < ? ORDER BY seq DESC LIMIT ?";
// sql-safe: fixed strings.
const PAGE_LATEST = SELECT_MESSAGE + " ORDER BY seq DESC LIMIT ?";
