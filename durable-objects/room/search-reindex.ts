/**
 * Rebuilding a room's search index when the index format changes
 * (INDEX_VERSION in search-tokens.ts), and searching while that runs.
 *
 * A room stores the format its index holds (meta `fts_version`; rooms from
 * before it had `fts_ready` = 1 for format 1, or nothing at all when
 * migration 0004 dropped the index: format 0, no index). A room whose format is
 * older rewrites its messages' index rows from the stored text, newest first,
 * one bounded batch per alarm run, with the position in meta
 * (`fts_reindex_below`: messages at or above it are in the current format;
 * `fts_reindex_to`: the format it rewrites to, so a second format change
 * mid-way starts over) written in the same transaction as the batch. A crash or restart loses at
 * most the batch in flight, and the next wake continues from the position.
 * The wake itself does no index work (a big room's first request must not
 * wait for a million rows; blockConcurrencyWhile would hold every request):
 * it only notices the old format and arms the alarm.
 *
 * Newest first, because that is what people search: a few seconds after an
 * upgrade the recent conversations are exact. Searching meanwhile:
 * - at most SEARCH_FINISHES_REINDEX messages left (most rooms): the search
 *   rewrites them first, like the write-behind backlog, and is exact;
 * - more (a big room, for the minutes its re-index takes): the rewritten
 *   part is searched in the new format and the rest as it was before the
 *   upgrade (the old query compiler on the old rows, search-tokens-legacy.ts),
 *   so no result is worse than before and the recent ones are already right.
 *   A room whose old format is 0 has no index below the position yet; only the
 *   rewritten part answers.
 * The re-index starts at the index position (fts_seq); the messages above it
 * are the write-behind backlog (SearchIndexStore.indexBacklog), always written in the
 * current format, so the two never overlap.
 */
import { INDEX_VERSION, indexText, type CompiledQuery } from "./search-tokens";
import { LEGACY_FORMATS } from "./search-tokens-legacy";
import type { RoomStore } from "./store/room-store";
import type { MessageRow } from "./store/messages";
import type { SearchFilter } from "./store/search-index";

/**
 * Messages rewritten per alarm run: one transaction, one FTS5 segment. The
 * room answers nothing else meanwhile; 1,000 took 40–260 ms in miniflare on a
 * loaded 2-core machine, so 500 keeps a stall of a live room short.
 */
export const REINDEX_BATCH = 500;
/**
 * Pause between two batches. The re-index is one-time work that every room on
 * a node starts after an upgrade; back-to-back batches in many rooms would take
 * the node's cores from live chat. 1,000,000 messages still finish in minutes
 * (2,000 batches), the newest of them in the first seconds.
 */
export const REINDEX_PAUSE_MS = 100;
/** a search finishes a re-index that has at most this many messages left (a few hundred ms, once) */
export const SEARCH_FINISHES_REINDEX = 2000;

export class SearchReindex {
  /** undefined: not read yet; null: the index is current; else the position and the old format below it */
  private progress: { below: number; legacy: number } | null | undefined;

  constructor(private readonly store: RoomStore) {}

  /**
   * At wake, after the index position is known: true when a re-index is due
   * (the caller arms its alarm). Reads meta and, the first time, stores the
   * starting position (everything at or below the index position is in the
   * old format); rewrites nothing.
   */
  prepare(ftsSeq: number): boolean {
    const version = this.storedVersion();
    if (version >= INDEX_VERSION) {
      this.set(null);
      return false;
    }
    let below = this.storedPosition();
    if (!below) {
      below = ftsSeq + 1;
      this.store.meta.setNumber("fts_reindex_below", below);
      this.store.meta.setNumber("fts_reindex_to", INDEX_VERSION);
    }
    this.set({ below, legacy: version });
    return true;
  }

  /** A new room starts with an index in the current format. */
  created(): void {
    this.store.meta.setNumber("fts_version", INDEX_VERSION);
    this.set(null);
  }

  get active(): boolean {
    return this.state() !== null;
  }

  /**
   * One batch: rewrite the index rows of up to `limit` messages below the
   * position, newest first, and move the position, in one transaction. The
   * last batch stores the new format. True if more remain.
   */
  batch(limit = REINDEX_BATCH): boolean {
    const p = this.state();
    if (!p) return false;
    const index = this.store.search;
    const rows = index.rowsBelow(p.below, limit);
    const done = rows.length < limit;
    const below = rows.length ? rows[rows.length - 1].seq : p.below;
    // The position moves first, so writeRow writes these seqs in the current format.
    this.set({ below, legacy: p.legacy });
    try {
      this.store.transaction(() => {
        for (const r of rows) {
          index.removeRow(r.seq);
          if (r.deleted_at === null) index.writeRow(r.seq, r.text);
        }
        if (done) {
          this.store.meta.setNumber("fts_version", INDEX_VERSION);
          this.store.meta.delete("fts_reindex_below");
          this.store.meta.delete("fts_reindex_to");
          this.store.meta.delete("fts_ready");
        } else {
          this.store.meta.setNumber("fts_reindex_below", below);
        }
      });
    } catch (err) {
      // Rolled back: memory goes back to what is stored.
      this.set(p);
      throw err;
    }
    if (done) this.set(null);
    return !done;
  }

  /** Before a search: a small remainder is finished now, so the search is exact. */
  finishIfSmall(): void {
    const p = this.state();
    // Seqs are dense from 1, so below − 1 bounds the messages left without counting them.
    if (p && p.below - 1 <= SEARCH_FINISHES_REINDEX) while (this.batch()) {}
  }

  /** Matching messages, best first, whatever the state of the index (see the module comment). */
  search(compiled: CompiledQuery, query: string, f: SearchFilter, limit: number): { row: MessageRow; score: number }[] {
    const p = this.state();
    if (!p) return this.store.search.search(compiled.match, f, limit);
    const fresh = this.store.search.search(compiled.match, f, limit, { from: p.below });
    const legacy = LEGACY_FORMATS[p.legacy]?.compileMatch(query);
    const old = legacy ? this.store.search.search(legacy, f, limit, { below: p.below }) : [];
    // Both scores are bm25 over the same table; ties go to the newer message, as in SearchIndexStore.search.
    return [...fresh, ...old].sort((a, b) => a.score - b.score || b.row.seq - a.row.seq).slice(0, limit);
  }

  private storedVersion(): number {
    const stored = this.store.meta.storedNumber("fts_version");
    if (stored !== undefined) return stored;
    return this.store.meta.number("fts_ready") === 1 ? 1 : 0;
  }

  /**
   * The stored position, or 0 when none is stored or it belongs to a re-index
   * towards another format (the format changed again mid-way: start over; the
   * rows above the old position are rewritten once more).
   */
  private storedPosition(): number {
    if (this.store.meta.number("fts_reindex_to") !== INDEX_VERSION) return 0;
    return this.store.meta.number("fts_reindex_below");
  }

  private state(): { below: number; legacy: number } | null {
    if (this.progress === undefined) {
      // Not prepared (a room created after this object woke): read, write nothing.
      const version = this.storedVersion();
      const below = this.storedPosition();
      this.set(version >= INDEX_VERSION || !below ? null : { below, legacy: version });
    }
    return this.progress!;
  }

  private set(progress: { below: number; legacy: number } | null): void {
    this.progress = progress;
    // Edits below the position keep the format that part is searched in.
    const old = progress && LEGACY_FORMATS[progress.legacy];
    this.store.search.indexFormatOf = old ? (seq) => (seq < progress.below ? old.indexText : indexText) : () => indexText;
  }
}
