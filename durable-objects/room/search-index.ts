/**
 * The room's full-text index, kept behind the messages: a send does not
 * touch it; the alarm adds the backlog in batches; a search indexes what is
 * still waiting first, so it sees every stored message. A format change
 * re-indexes from the alarm too (search-reindex.ts). The index's tables are
 * in store/search-index.ts; the query and index text in search-tokens.ts.
 */
import { errorText, log } from "../shared/log";
import type { SearchHit } from "../../protocol/models";
import type { Caller } from "../shared/identity";
import { storageFailure } from "../shared/storage-faults";
import type { RoomState } from "./room-state";
import { REINDEX_PAUSE_MS, SearchReindex } from "./search-reindex";
import { compileQuery, snippet } from "./search-tokens";
import type { RoomStore } from "./store/room-store";
import type { SearchFilter } from "./store/search-index";

/** how long new messages wait before the alarm adds them to the search index … */
const FTS_DELAY_MS = 1000;
/** … and how many may wait before they are added at once */
const FTS_BATCH = 256;
/** how long a failed index write waits for the alarm's next try */
const RETRY_MS = 2000;

export interface SearchQuery extends SearchFilter {
  q: string;
  limit: number;
}

export class SearchIndex {
  /** rebuilds the index after a format change, from the alarm */
  private readonly reindex: SearchReindex;
  /** when the oldest message not yet in the index was stored (null: none wait) */
  private pendingSince: number | null = null;

  constructor(
    private readonly state: RoomState,
    private readonly store: RoomStore,
  ) {
    this.reindex = new SearchReindex(store);
  }

  /**
   * At wake (the alarm time is known): work left from before is armed, none
   * is done — the request that woke the room goes first.
   */
  wake(): void {
    const index = this.store.search;
    index.initPosition(this.state.lastSeq);
    // An index in an older format is rebuilt by the alarm, in batches.
    if (this.reindex.prepare(index.position())) this.state.setAlarmBy(Date.now() + REINDEX_PAUSE_MS);
    if (index.position() < this.state.lastSeq) {
      // A backlog from before a restart: index it at the next alarm.
      this.pendingSince = 0;
      this.state.setAlarmBy(Date.now() + FTS_DELAY_MS);
    }
  }

  /** A new room starts with an empty index in the current format. */
  created(): void {
    this.reindex.created();
    this.store.search.startEmpty();
  }

  /**
   * After a send: the message waits for the index. The backlog is indexed by
   * the alarm once its oldest message has waited FTS_DELAY_MS — in a busy room
   * that is the inbox-activity alarm, so the index rides in a commit the room
   * makes anyway — or at once when FTS_BATCH messages wait.
   */
  messageStored(): void {
    this.pendingSince ??= Date.now();
    if (this.state.lastSeq - this.store.search.position() >= FTS_BATCH) this.indexNow();
  }

  /** From the alarm: the backlog if it is old enough (else come back when it is), and one re-index batch. */
  due(): void {
    if (this.pendingSince !== null) {
      if (Date.now() - this.pendingSince >= FTS_DELAY_MS) this.indexNow();
      else this.state.setAlarmBy(this.pendingSince + FTS_DELAY_MS);
    }
    this.reindexDue();
  }

  /** Full-text search in this room, for a current member only (checked now, not when they joined). */
  search(caller: Caller, q: SearchQuery): SearchHit[] {
    const meta = this.state.requireMember(caller.userId);
    const compiled = compileQuery(q.q);
    if (!compiled) return [];
    // Messages not yet in the index are added first, so a search sees everything stored.
    try {
      while (this.store.search.indexBacklog(this.state.lastSeq)) {
        // one batch per transaction
      }
      this.pendingSince = null;
      this.reindex.finishIfSmall();
    } catch (err) {
      throw storageFailure(err);
    }
    const hits = this.reindex.search(compiled, q.q, q, Math.min(Math.max(q.limit, 1), 200));
    const messages = this.store.messages.toMessages(meta.id, hits.map((h) => h.row));
    return hits.map((h, i) => ({ message: messages[i], snippet: snippet(h.row.text, compiled.terms), score: h.score }));
  }

  private indexNow(): void {
    try {
      if (this.store.search.indexBacklog(this.state.lastSeq, FTS_BATCH)) this.state.setAlarmBy(Date.now());
      else this.pendingSince = null;
    } catch (err) {
      // The backlog stays in `messages`; the next alarm, send or search retries it.
      log("error", "search.index_failed", { room: this.state.meta?.id, error: errorText(err) });
      this.state.setAlarmBy(Date.now() + RETRY_MS);
    }
  }

  /** One bounded batch of a re-index per alarm run, re-armed until done (search-reindex.ts). */
  private reindexDue(): void {
    if (!this.state.meta || !this.reindex.active) return;
    try {
      if (this.reindex.batch()) this.state.setAlarmBy(Date.now() + REINDEX_PAUSE_MS);
    } catch (err) {
      // Rolled back; the stored position is where the next try starts.
      log("error", "search.reindex_failed", { room: this.state.meta?.id, error: errorText(err) });
      this.state.setAlarmBy(Date.now() + RETRY_MS);
    }
  }
}
