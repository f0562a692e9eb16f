/**
 * The full-text index: a contentless FTS5 table `message_fts` (rowid = seq),
 * and its position `fts_seq` in meta.
 *
 * Written behind: a message is stored without touching the index, and
 * `indexBacklog` adds the messages above `fts_seq` in batches (the room calls
 * it about a second after a send, and always before a search, so a search
 * sees every message: room/search-index.ts). One FTS5 segment per batch
 * instead of one per message took ~12% of the node's CPU off every send (perf,
 * many-rooms bench). The backlog is read from `messages`, so a crash loses
 * nothing: the next wake or search indexes it.
 */
import { indexText } from "../search-tokens";
import type { MessageRow, MessageStore } from "./messages";
import type { MetaStore } from "./meta";

/** Search ranks the newest this many matches of a query (see SearchIndexStore.search). */
export const SEARCH_WINDOW = 2000;

export interface SearchFilter {
  from?: string;
  before?: number;
  after?: number;
  hasFile?: boolean;
}

export class SearchIndexStore {
  /** fts_seq, read once (see position) */
  private ftsPosition: number | null = null;

  /**
   * The index format of message `seq`: the current one, except below the
   * position of a re-index in progress, where the index still holds (and an
   * edit keeps writing) the old format it is searched in (search-reindex.ts).
   */
  indexFormatOf: (seq: number) => (text: string) => string = () => indexText;

  constructor(
    private readonly sql: SqlStorage,
    private readonly meta: MetaStore,
    private readonly messages: MessageStore,
    private readonly transaction: <T>(fn: () => T) => T,
  ) {}

  /** Highest seq whose text is in the index (everything at or below it is handled). */
  position(): number {
    this.ftsPosition ??= this.meta.number("fts_seq");
    return this.ftsPosition;
  }

  /** A new room: nothing to index yet. */
  startEmpty(): void {
    this.meta.setNumber("fts_seq", 0);
    this.ftsPosition = 0;
  }

  /**
   * A room stored before the index was written behind had every message
   * indexed as it was sent: its position starts at its last message.
   */
  initPosition(lastSeq: number): void {
    if (this.meta.storedNumber("fts_seq") !== undefined) return;
    this.meta.setNumber("fts_seq", lastSeq);
    this.ftsPosition = lastSeq;
  }

  /** Index up to `limit` messages of the backlog in one transaction; true if more remain. */
  indexBacklog(lastSeq: number, limit = 500): boolean {
    const from = this.position();
    if (from >= lastSeq) return false;
    const rows = this.sql.exec<{ seq: number; text: string; deleted_at: number | null }>("SELECT seq, text, deleted_at FROM messages WHERE seq > ? ORDER BY seq LIMIT ?", from, limit).toArray();
    if (!rows.length) return false;
    const upTo = rows[rows.length - 1].seq;
    this.transaction(() => {
      for (const r of rows) if (r.deleted_at === null) this.writeRow(r.seq, r.text);
      this.meta.setNumber("fts_seq", upTo);
    });
    this.ftsPosition = upTo;
    return upTo < lastSeq;
  }

  /** Up to `limit` messages below `below`, newest first: a re-index batch (search-reindex.ts). */
  rowsBelow(below: number, limit: number): { seq: number; text: string; deleted_at: number | null }[] {
    return this.sql.exec<{ seq: number; text: string; deleted_at: number | null }>("SELECT seq, text, deleted_at FROM messages WHERE seq < ? ORDER BY seq DESC LIMIT ?", below, limit).toArray();
  }

  /** An edited message's index entry (a message still in the backlog is indexed with its current text later). */
  reindexText(seq: number, text: string): void {
    if (seq > this.position()) return;
    this.removeRow(seq);
    this.writeRow(seq, text);
  }

  /** A recalled message leaves the index (one still in the backlog is skipped when the backlog is indexed). */
  forget(seq: number): void {
    if (seq <= this.position()) this.removeRow(seq);
  }

  /** contentless_delete: a row is removed by rowid alone (a no-op if the index never had it). */
  removeRow(seq: number): void {
    this.sql.exec("DELETE FROM message_fts WHERE rowid = ?", seq);
  }

  /** The one place a message's text goes into the index (the caller removed any old row). */
  writeRow(seq: number, text: string): void {
    const body = this.indexFormatOf(seq)(text);
    if (body) this.sql.exec("INSERT INTO message_fts (rowid, body) VALUES (?, ?)", seq, body);
  }

  /**
   * Matching messages, best first (bm25, then newest), ranked among the
   * newest SEARCH_WINDOW matches. FTS5 walks matches in rowid (= seq) order
   * and stops at the window, so a term that occurs in half of a million-message
   * room costs a bounded scan instead of scoring every match — chat search is
   * about recent conversations; older ones are reached with `before`.
   * Every value is a bound parameter; the SQL text is built only from fixed fragments.
   */
  search(match: string, f: SearchFilter, limit: number, seqs: { from?: number; below?: number } = {}): { row: MessageRow; score: number }[] {
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
    const hits = this.sql.exec<{ seq: number; score: number }>(sqlText, ...params).toArray();
    hits.sort((a, b) => a.score - b.score || b.seq - a.seq);
    const top = hits.slice(0, limit);
    const bySeq = new Map(this.messages.bySeq(top.map((h) => h.seq)).map((r) => [r.seq, r]));
    return top.map((h) => ({ row: bySeq.get(h.seq)!, score: h.score }));
  }
}
