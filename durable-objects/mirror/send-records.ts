/**
 * The mirror's record of its members' sends (the `sends` table), by
 * idempotency key (sender + session + clientId): `queued` until the home
 * answers, then `stored` or `refused`, with the answer. mirror-sends.ts decides
 * which way each send goes home; this file is what it remembers of them.
 *
 * A channel send's record (the send itself in `item`, its only copy on this
 * node until the home answers), and every answer, is written with the others
 * of a short moment (`writeDelayMs`, the node's mirrorWriteDelayMs): one
 * commit for many instead of two per send. `flush` writes what waits; every
 * read below but `lookup` (a repeat, which looks at what waits first) flushes
 * first, and MirrorSends flushes before a sender hears "queued". A queue
 * send's record is written at once, before the link's queue has it.
 *
 * An answer is kept without the message's text (`recorded`: its id and seq):
 * a repeat is answered with the message as the copy has it now (edited,
 * recalled, or gone with the room's retention), so the record of a send does
 * not keep a recalled or expired message's text on this node's disk. Answered
 * records go after ANSWERS_KEPT_MS (looked for at most every SWEEP_EVERY_MS,
 * when answers are written): a repeat after that goes home as a send, and the
 * home, which keeps every message's key, answers it as a duplicate.
 */
import type { LinkSendItem, LinkSendResult } from "../../protocol/cluster";
import type { Message } from "../../protocol/models";

/**
 * How long an answered send's record is kept (a day): long enough for any
 * client that missed its ack to repeat the send and hear it from this node,
 * cut or no cut. Later repeats go home (see the top of this file).
 */
export const ANSWERS_KEPT_MS = 24 * 3600_000;
/** How often the records older than ANSWERS_KEPT_MS are looked for (when answers are written). */
const SWEEP_EVERY_MS = 3600_000;

/** What is known of a send: the home's answer (`recorded`: as the table keeps it, without the text), or that it waits, and which way. */
export type Known = { answer: LinkSendResult; recorded: boolean } | { answer: null; via: "channel" | "queue" };

export class SendRecords {
  /** records of channel sends, and answers, not written yet (`flush`) */
  private pendingRows = new Map<string, { at: number; item: string }>();
  private pendingResults = new Map<string, LinkSendResult>();
  private writeTimer: ReturnType<typeof setTimeout> | null = null;
  private sweptAt = 0;

  constructor(
    private readonly sql: SqlStorage,
    private readonly transaction: <T>(fn: () => T) => T,
    /** limits.mirrorWriteDelayMs: how long records wait to be written together (0: at once) */
    private readonly writeDelayMs: number,
  ) {}

  /** Write every record and answer that waits, in one transaction. */
  flush(): void {
    if (this.writeTimer !== null) clearTimeout(this.writeTimer);
    this.writeTimer = null;
    if (this.pendingRows.size === 0 && this.pendingResults.size === 0) return;
    const rows = [...this.pendingRows];
    const results = [...this.pendingResults];
    this.pendingRows.clear();
    this.pendingResults.clear();
    const now = Date.now();
    const sweep = results.length > 0 && now - this.sweptAt >= SWEEP_EVERY_MS;
    if (sweep) this.sweptAt = now;
    this.transaction(() => {
      for (const [key, r] of rows) this.sql.exec("INSERT INTO sends (client_key, state, result, at, via, item) VALUES (?, 'queued', NULL, ?, 'channel', ?) ON CONFLICT (client_key) DO NOTHING", key, r.at, r.item);
      for (const [key, r] of results) this.sql.exec("UPDATE sends SET state = ?, result = ?, at = ?, item = NULL WHERE client_key = ? AND state = 'queued'", r.ok ? "stored" : "refused", JSON.stringify(recorded(r)), now, key);
      if (sweep) this.sql.exec("DELETE FROM sends WHERE state != 'queued' AND at < ?", now - ANSWERS_KEPT_MS);
    });
  }

  private scheduleFlush(): void {
    if (this.writeDelayMs === 0) return this.flush();
    this.writeTimer ??= setTimeout(() => this.flush(), this.writeDelayMs);
  }

  /** A send going on the channel: its record, with the send, written with the others of a moment. */
  addChannel(key: string, item: LinkSendItem): void {
    this.pendingRows.set(key, { at: Date.now(), item: JSON.stringify(item) });
    this.scheduleFlush();
  }

  /** A send going to the link's queue: its record, written now (after the records before it), so the queue's answer finds it. */
  addQueued(key: string): void {
    this.flush();
    this.sql.exec("INSERT INTO sends (client_key, state, result, at, via, item) VALUES (?, 'queued', NULL, ?, 'queue', NULL) ON CONFLICT (client_key) DO NOTHING", key, Date.now());
  }

  /** What is known of a send (for a repeat): what waits to be written first, then the table. */
  lookup(key: string): Known | null {
    const pending = this.pendingResults.get(key);
    if (pending) return { answer: pending, recorded: false };
    if (this.pendingRows.has(key)) return { answer: null, via: "channel" };
    const row = this.sql.exec<{ result: string | null; via: string | null }>("SELECT result, via FROM sends WHERE client_key = ?", key).toArray()[0];
    if (!row) return null;
    if (row.result) return { answer: JSON.parse(row.result) as LinkSendResult, recorded: true };
    return { answer: null, via: row.via === "channel" ? "channel" : "queue" };
  }

  /** Forget one send's record (a repeat that goes home again; its answer is in the table, nothing of it waits). */
  drop(key: string): void {
    this.sql.exec("DELETE FROM sends WHERE client_key = ?", key);
  }

  /** The home answered these: the ones still waiting here are recorded (with the others of a moment) and returned; a send answered both ways counts once. */
  answered(results: LinkSendResult[], keyOf: (r: LinkSendResult) => string): LinkSendResult[] {
    const fresh = results.filter((r) => this.unanswered(keyOf(r)));
    for (const r of fresh) this.pendingResults.set(keyOf(r), r);
    this.scheduleFlush();
    return fresh;
  }

  private unanswered(key: string): boolean {
    if (this.pendingResults.has(key)) return false;
    return this.pendingRows.has(key) || this.sql.exec("SELECT 1 FROM sends WHERE client_key = ? AND state = 'queued'", key).toArray().length > 0;
  }

  /** Is a send of this room on the link's queue, unanswered? */
  anyOnQueue(): boolean {
    this.flush();
    return this.sql.exec("SELECT 1 FROM sends WHERE state = 'queued' AND via IS NOT 'channel' LIMIT 1").toArray().length > 0;
  }

  /** The channel sends not answered, in the order they were made. */
  waitingOnChannel(): { key: string; at: number; item: LinkSendItem | null }[] {
    this.flush();
    return this.sql
      .exec<{ client_key: string; at: number; item: string | null }>("SELECT client_key, at, item FROM sends WHERE state = 'queued' AND via = 'channel' ORDER BY rowid")
      .toArray()
      .map((r) => ({ key: r.client_key, at: r.at, item: r.item ? (JSON.parse(r.item) as LinkSendItem) : null }));
  }

  /** These channel sends were handed to the link's queue: their records say so, and let the send itself go. */
  movedToQueue(keys: string[]): void {
    this.transaction(() => {
      for (const k of keys) this.sql.exec("UPDATE sends SET via = 'queue', item = NULL WHERE client_key = ? AND state = 'queued'", k);
    });
  }

  /** Forget every send of `userId` (they are being erased). */
  forgetUser(userId: string): void {
    this.flush();
    const prefix = `${userId}|`;
    this.sql.exec("DELETE FROM sends WHERE substr(client_key, 1, ?) = ?", prefix.length, prefix);
  }
}

/** What a record keeps of an answer: a stored message by its id and seq, not its text (see the top of this file). */
function recorded(r: LinkSendResult): LinkSendResult {
  return r.ok ? { ...r, message: { id: r.message.id, seq: r.message.seq } as Message } : r;
}
