/**
 * Everything a room reads from and writes to its SQLite file. No WebSockets
 * here: RoomObject decides, RoomStore remembers. All statements use bound
 * parameters (drizzle or `sql.exec(…, ?)`), never string-built SQL.
 */
import { and, asc, eq, gt, inArray, lt, sql } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import * as schema from "./schema";
import type { Attachment, Member, Mentions, Message, Role } from "../../protocol/models";
import { indexText } from "./search-tokens";

export type RoomDb = DrizzleSqliteDODatabase<typeof schema>;
export type MessageRow = typeof schema.messages.$inferSelect;

export interface RoomMeta {
  id: string;
  name: string;
  kind: "group" | "dm";
  visibility: "public" | "private";
  createdAt: number;
  createdBy: string;
}

/** Search ranks the newest this many matches of a query (see RoomStore.search). */
export const SEARCH_WINDOW = 2000;

export class RoomStore {
  /** fts_seq, read once (see ftsSeq) */
  private ftsPosition: number | null = null;

  constructor(
    private readonly db: RoomDb,
    private readonly storage: DurableObjectStorage,
  ) {}

  /** All-or-nothing: statements before a throw are rolled back. */
  transaction<T>(fn: () => T): T {
    return this.storage.transactionSync(fn);
  }

  loadMeta(): RoomMeta | null {
    const rows = this.db.select().from(schema.meta).all();
    if (rows.length === 0) return null;
    const kv = Object.fromEntries(rows.map((r) => [r.key, r.value]));
    if (!kv.id) return null;
    return {
      id: kv.id,
      name: kv.name,
      kind: kv.kind as RoomMeta["kind"],
      visibility: kv.visibility as RoomMeta["visibility"],
      createdAt: Number(kv.createdAt),
      createdBy: kv.createdBy,
    };
  }

  saveMeta(meta: Partial<RoomMeta>): void {
    for (const [key, value] of Object.entries(meta)) {
      if (value === undefined) continue;
      this.db
        .insert(schema.meta)
        .values({ key, value: String(value) })
        .onConflictDoUpdate({ target: schema.meta.key, set: { value: String(value) } })
        .run();
    }
  }

  loadMembers(): (typeof schema.members.$inferSelect)[] {
    return this.db.select().from(schema.members).orderBy(asc(schema.members.joinedAt)).all();
  }

  upsertMember(m: Member): void {
    this.db
      .insert(schema.members)
      .values(m)
      .onConflictDoUpdate({ target: schema.members.userId, set: { role: m.role, username: m.username, displayName: m.displayName } })
      .run();
  }

  setRole(userId: string, role: Role): void {
    this.db.update(schema.members).set({ role }).where(eq(schema.members.userId, userId)).run();
  }

  deleteMember(userId: string): void {
    this.db.delete(schema.members).where(eq(schema.members.userId, userId)).run();
  }

  /** Highest seq and highest version stored (both 0 for an empty room). */
  counters(): { lastSeq: number; version: number } {
    const row = this.storage.sql
      .exec<{ s: number | null; v: number | null }>("SELECT max(seq) AS s, max(version) AS v FROM messages")
      .one();
    return { lastSeq: row.s ?? 0, version: row.v ?? 0 };
  }

  /**
   * The send path's lookups and writes use fixed SQL strings with bound
   * parameters directly: workerd caches the prepared statement per string,
   * and the query builder's per-call cost showed up in profiles of busy rooms.
   */
  findByClientKey(clientKey: string): MessageRow | undefined {
    const row = this.storage.sql.exec<RawMessageRow>(FIND_BY_CLIENT_KEY, clientKey).toArray()[0];
    return row ? fromRaw(row) : undefined;
  }

  findById(id: string): MessageRow | undefined {
    return this.db.select().from(schema.messages).where(eq(schema.messages.id, id)).get();
  }

  /**
   * Insert a message and its mention index in one transaction, unless a
   * message with the same client key is stored already: then nothing is
   * written and the answer is false (the caller answers with the stored one).
   * One statement decides both, instead of a lookup before every insert.
   */
  insertMessage(row: MessageRow, mentions: Mentions, fileIds: string[] = []): boolean {
    const users = mentions.all ? [...mentions.users, "*"] : mentions.users;
    // A lone INSERT is atomic by itself; a savepoint is only needed when more follows.
    if (users.length === 0 && fileIds.length === 0) return this.insertRow(row);
    const sql = this.storage.sql;
    return this.transaction(() => {
      if (!this.insertRow(row)) return false;
      for (const userId of users) sql.exec("INSERT INTO mention_index (seq, user_id) VALUES (?, ?)", row.seq, userId);
      // The full-text index is written behind, in batches (indexBacklog).
      for (const id of fileIds) sql.exec("UPDATE files SET message_seq = ? WHERE id = ?", row.seq, id);
      return true;
    });
  }

  private insertRow(row: MessageRow): boolean {
    const cursor = this.storage.sql.exec(
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

  // ---- full-text index (contentless FTS5, rowid = seq) ----
  //
  // Written behind: a message is stored without touching the index, and
  // indexBacklog() adds the messages above `fts_seq` in batches (the room calls
  // it about a second after a send, and always before a search, so a search
  // sees every message). One FTS5 segment per batch instead of one per message
  // took ~12% of the node's CPU off every send (perf, many-rooms bench). The
  // backlog is read from `messages`, so a crash loses nothing: the next wake or
  // search indexes it.

  /** Highest seq whose text is in the index (everything at or below it is handled). */
  ftsSeq(): number {
    this.ftsPosition ??= this.getNumber("fts_seq");
    return this.ftsPosition;
  }

  /**
   * A room stored before the index was written behind had every message
   * indexed as it was sent: its position starts at its last message.
   */
  initIndexPosition(lastSeq: number): void {
    if (this.getText("fts_seq") !== undefined) return;
    this.setNumber("fts_seq", lastSeq);
    this.ftsPosition = lastSeq;
  }

  /** Index up to `limit` messages of the backlog in one transaction; true if more remain. */
  indexBacklog(lastSeq: number, limit = 500): boolean {
    const from = this.ftsSeq();
    if (from >= lastSeq) return false;
    const rows = this.storage.sql.exec<{ seq: number; text: string; deleted_at: number | null }>("SELECT seq, text, deleted_at FROM messages WHERE seq > ? ORDER BY seq LIMIT ?", from, limit).toArray();
    if (!rows.length) return false;
    const upTo = rows[rows.length - 1].seq;
    this.transaction(() => {
      for (const r of rows) if (r.deleted_at === null) this.writeIndexRow(r.seq, r.text);
      this.setNumber("fts_seq", upTo);
    });
    this.ftsPosition = upTo;
    return upTo < lastSeq;
  }

  /** An edited message's index entry (a message still in the backlog is indexed with its current text later). */
  indexText(seq: number, text: string): void {
    if (seq > this.ftsSeq()) return;
    this.storage.sql.exec("DELETE FROM message_fts WHERE rowid = ?", seq);
    this.writeIndexRow(seq, text);
  }

  /**
   * The index format of message `seq`: the current one, except below the
   * position of a re-index in progress, where the index still holds (and an
   * edit keeps writing) the old format it is searched in (search-reindex.ts).
   */
  indexFormatOf: (seq: number) => (text: string) => string = () => indexText;

  /** The one place a message's text goes into the index (the caller removed any old row). */
  writeIndexRow(seq: number, text: string): void {
    const body = this.indexFormatOf(seq)(text);
    if (body) this.storage.sql.exec("INSERT INTO message_fts (rowid, body) VALUES (?, ?)", seq, body);
  }

  /**
   * Matching messages, best first (bm25, then newest), ranked among the
   * newest SEARCH_WINDOW matches. FTS5 walks matches in rowid (= seq) order
   * and stops at the window, so a term that occurs in half of a million-message
   * room costs a bounded scan instead of scoring every match — chat search is
   * about recent conversations; older ones are reached with `before`.
   * Every value is a bound parameter; the SQL text is built only from fixed fragments.
   */
  search(
    match: string,
    f: { from?: string; before?: number; after?: number; hasFile?: boolean },
    limit: number,
    seqs: { from?: number; below?: number } = {},
  ): { row: MessageRow; score: number }[] {
    const where = ["message_fts MATCH ?", "m.deleted_at IS NULL"];
    const params: (string | number)[] = [match];
    // A seq range (a re-index in progress searches each part in its own format): FTS5 seeks by rowid.
    if (seqs.from !== undefined) {
      where.push("message_fts.rowid >= ?");
      params.push(seqs.from);
    }
    if (seqs.below !== undefined) {
      where.push("message_fts.rowid < ?");
      params.push(seqs.below);
    }
    if (f.from !== undefined) {
      where.push("m.sender_id = ?");
      params.push(f.from);
    }
    if (f.before !== undefined) {
      where.push("m.created_at < ?");
      params.push(f.before);
    }
    if (f.after !== undefined) {
      where.push("m.created_at > ?");
      params.push(f.after);
    }
    if (f.hasFile) where.push("m.attachments IS NOT NULL");
    params.push(SEARCH_WINDOW);
    // sql-safe: the text is built only from the fixed fragments above; every value is in `params`.
    const sqlText = `SELECT m.seq AS seq, bm25(message_fts) AS score FROM message_fts JOIN messages m ON m.seq = message_fts.rowid WHERE ${where.join(" AND ")} ORDER BY message_fts.rowid DESC LIMIT ?`;
    const hits = this.storage.sql.exec<{ seq: number; score: number }>(sqlText, ...params).toArray();
    hits.sort((a, b) => a.score - b.score || b.seq - a.seq);
    const top = hits.slice(0, limit);
    const bySeq = new Map(this.messagesBySeq(top.map((h) => h.seq)).map((r) => [r.seq, r]));
    return top.map((h) => ({ row: bySeq.get(h.seq)!, score: h.score }));
  }

  /** Messages by seq (any number: SQLite in workerd binds at most 100 parameters, so in chunks). */
  messagesBySeq(seqs: number[]): MessageRow[] {
    const out: MessageRow[] = [];
    for (let i = 0; i < seqs.length; i += 90) {
      out.push(...this.db.select().from(schema.messages).where(inArray(schema.messages.seq, seqs.slice(i, i + 90))).all());
    }
    return out;
  }

  // ---- files ----

  insertFile(row: typeof schema.files.$inferSelect): void {
    this.db.insert(schema.files).values(row).run();
  }

  file(id: string): (typeof schema.files.$inferSelect) | undefined {
    return this.db.select().from(schema.files).where(eq(schema.files.id, id)).get();
  }

  filesOfMessage(seq: number): (typeof schema.files.$inferSelect)[] {
    return this.db.select().from(schema.files).where(eq(schema.files.messageSeq, seq)).all();
  }

  deleteFile(id: string): void {
    this.db.delete(schema.files).where(eq(schema.files.id, id)).run();
  }

  /** Replace a message's mention index rows (`*` stands for @all). */
  indexMentions(seq: number, mentions: Mentions): void {
    this.db.delete(schema.mentionIndex).where(eq(schema.mentionIndex.seq, seq)).run();
    const ids = mentions.all ? [...mentions.users, "*"] : mentions.users;
    for (const userId of ids) this.db.insert(schema.mentionIndex).values({ seq, userId }).run();
  }

  setLastRead(userId: string, seq: number, sendReceipts: boolean): void {
    this.db.update(schema.members).set({ lastReadSeq: seq, sendReceipts }).where(eq(schema.members.userId, userId)).run();
  }

  /** Unread (others' messages after `afterSeq`, not recalled) and mentions among them, both capped at `cap`. */
  countUnread(userId: string, afterSeq: number, cap = 1000): { unread: number; mentions: number } {
    const unread = this.storage.sql
      .exec<{ n: number }>("SELECT count(*) AS n FROM (SELECT 1 FROM messages WHERE seq > ? AND sender_id != ? AND deleted_at IS NULL LIMIT ?)", afterSeq, userId, cap)
      .one().n;
    const mentions = this.storage.sql
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

  /** New messages after `afterSeq` (seq, sender, recalled?) and who they mention, for coalesced inbox updates. */
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

  lastMessageRow(): MessageRow | undefined {
    const row = this.storage.sql.exec<RawMessageRow>(LAST_MESSAGE).toArray()[0];
    return row ? fromRaw(row) : undefined;
  }

  updateMessage(seq: number, set: Partial<MessageRow>): void {
    this.db.update(schema.messages).set(set).where(eq(schema.messages.seq, seq)).run();
  }

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
    return this.storage.sql.exec<{ n: number }>("SELECT count(DISTINCT emoji) AS n FROM reactions WHERE seq = ?", seq).one().n;
  }

  /** Reactions and mention index of a recalled message. */
  clearDerived(seq: number): void {
    this.db.delete(schema.reactions).where(eq(schema.reactions.seq, seq)).run();
    this.db.delete(schema.mentionIndex).where(eq(schema.mentionIndex.seq, seq)).run();
    // A recalled message still in the backlog is skipped when the backlog is indexed.
    if (seq <= this.ftsSeq()) this.storage.sql.exec("DELETE FROM message_fts WHERE rowid = ?", seq);
  }

  /** A counter kept in `meta` (on the activity path: fixed SQL, no query builder). */
  getNumber(key: string): number {
    return Number(this.getText(key) ?? 0);
  }

  /** A value kept in `meta` (fixed SQL, no query builder: counters are read on the activity path). */
  getText(key: string): string | undefined {
    return this.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value;
  }

  private setText(key: string, value: string): void {
    this.storage.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
  }

  deleteMeta(key: string): void {
    this.storage.sql.exec("DELETE FROM meta WHERE key = ?", key);
  }

  /** Members whose inbox summary the room is holding back (see RoomObject.awayUntilLater). */
  heldBack(): string[] {
    const value = this.getText("held_back");
    return value ? (JSON.parse(value) as string[]) : [];
  }

  setHeldBack(userIds: Iterable<string>): void {
    this.setText("held_back", JSON.stringify([...userIds]));
  }

  setNumber(key: string, value: number): void {
    this.setText(key, String(value));
  }

  /**
   * A page of history in seq order. `after`: the oldest `limit` messages with
   * seq > after. `before`: the newest `limit` messages with seq < before.
   * Neither: the newest `limit` messages.
   */
  page(q: { before?: number; after?: number; limit: number }): { rows: MessageRow[]; hasMore: boolean } {
    const sql = this.storage.sql;
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
  changedSince(version: number, limit: number): MessageRow[] {
    const m = schema.messages;
    return this.db.select().from(m).where(gt(m.version, version)).orderBy(asc(m.seq)).limit(limit + 1).all();
  }

  reactionsFor(seqs: number[]): Map<number, { emoji: string; users: string[] }[]> {
    const out = new Map<number, { emoji: string; users: string[] }[]>();
    if (seqs.length === 0) return out;
    // One range scan for the page (seqs of a page are close together), filtered here:
    // no statement with one parameter per message.
    const wanted = new Set(seqs);
    const rows = this.storage.sql
      .exec<{ seq: number; emoji: string; user_id: string }>(
        "SELECT seq, emoji, user_id FROM reactions WHERE seq BETWEEN ? AND ? ORDER BY seq, created_at",
        Math.min(...seqs),
        Math.max(...seqs),
      )
      .toArray()
      .filter((row) => wanted.has(row.seq))
      .map((row) => ({ seq: row.seq, emoji: row.emoji, userId: row.user_id }));
    for (const row of rows) {
      let list = out.get(row.seq);
      if (!list) out.set(row.seq, (list = []));
      let entry = list.find((e) => e.emoji === row.emoji);
      if (!entry) list.push((entry = { emoji: row.emoji, users: [] }));
      entry.users.push(row.userId);
    }
    return out;
  }

  toMessages(roomId: string, rows: MessageRow[]): Message[] {
    const reactions = this.reactionsFor(rows.map((r) => r.seq));
    return rows.map((row) => toMessage(roomId, row, reactions.get(row.seq) ?? []));
  }

  // ---- outbox: deliveries to other objects, retried by alarm ----

  enqueue(userId: string, payload: unknown, now: number): void {
    this.db.insert(schema.outbox).values({ userId, payload: JSON.stringify(payload), createdAt: now }).run();
  }

  pendingOutbox(limit = 100) {
    return this.db.select().from(schema.outbox).orderBy(asc(schema.outbox.id)).limit(limit).all();
  }

  deleteOutbox(id: number): void {
    this.db.delete(schema.outbox).where(eq(schema.outbox.id, id)).run();
  }
}

type RawMessageRow = {
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
  version: number;
  attachments: string | null;
};

const SELECT_MESSAGE =
  "SELECT seq, id, client_key, client_id, sender_id, text, reply_to, mentions, created_at, edited_at, deleted_at, version, attachments FROM messages";
// sql-safe: fixed strings.
const LAST_MESSAGE = SELECT_MESSAGE + " ORDER BY seq DESC LIMIT 1";
// sql-safe: fixed strings.
const FIND_BY_CLIENT_KEY = SELECT_MESSAGE + " WHERE client_key = ?";
// sql-safe: a fixed string, every value bound
const INSERT_MESSAGE =
  "INSERT INTO messages (seq, id, client_key, client_id, sender_id, text, reply_to, mentions, created_at, edited_at, deleted_at, version, attachments) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (client_key) DO NOTHING";
// sql-safe: fixed strings.
const PAGE_AFTER = SELECT_MESSAGE + " WHERE seq > ? ORDER BY seq ASC LIMIT ?";
// sql-safe: fixed strings.
const PAGE_BETWEEN = SELECT_MESSAGE + " WHERE seq > ? AND seq < ? ORDER BY seq ASC LIMIT ?";
// sql-safe: fixed strings.
const PAGE_BEFORE = SELECT_MESSAGE + " WHERE seq < ? ORDER BY seq DESC LIMIT ?";
// sql-safe: fixed strings.
const PAGE_LATEST = SELECT_MESSAGE + " ORDER BY seq DESC LIMIT ?";

function fromRaw(r: RawMessageRow): MessageRow {
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
    version: r.version,
    attachments: r.attachments,
  };
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
