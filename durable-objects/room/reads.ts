/**
 * Reads, receipts and typing.
 *
 * People watching a busy room read all the time, and each read used to cost
 * the room a commit, a receipt to every socket and an update of the reader's
 * inbox. So a read is answered from memory and positions are written in
 * batches: a read after a quiet second is written and announced at once;
 * reads within READ_FLUSH_MS of it wait and go together — one commit for all,
 * one receipt and one inbox update per reader with the newest position. A
 * crash loses at most that second of read progress (never a message); the
 * client repeats its read.
 */
import { log } from "../shared/log";
import type { Caller } from "../shared/identity";
import { storageFailure } from "../shared/storage-faults";
import type { InboxActivity } from "./inbox-activity";
import type { RoomSockets } from "./room-socket";
import type { RoomState } from "./room-state";
import type { MemberStore } from "./store/members";
import type { RoomStore } from "./store/room-store";

/** reads within this long of the last written ones are written, announced and synced together */
export const READ_FLUSH_MS = 1000;
/** how long failed read writes wait for the alarm's next try */
const RETRY_MS = 2000;
/** how long others show "typing" after one typing frame */
const TYPING_EXPIRES_MS = 6000;
/** at most one typing frame per user is passed on in this long */
const TYPING_MIN_INTERVAL_MS = 2000;

export class Reads {
  /** read positions that moved since the last flush, and readers whose receipt is due */
  private pending = new Set<string>();
  private receiptsDue = new Set<string>();
  private lastFlush = 0;
  /** when each user last had a typing frame passed on (ephemeral, lost on eviction: fine) */
  private typingAt = new Map<string, number>();
  private readonly rows: MemberStore;

  constructor(
    private readonly state: RoomState,
    private readonly store: RoomStore,
    private readonly sockets: RoomSockets,
    private readonly activity: InboxActivity,
  ) {
    this.rows = store.members;
  }

  /**
   * Move the caller's read position forward to `seq` (clamped to the room's
   * last seq; never backwards). Other members see a receipt unless the caller
   * turned receipts off; all the caller's devices get the new counts at once.
   */
  async markRead(caller: Caller, seq: number): Promise<{ lastReadSeq: number }> {
    this.state.requireMember(caller.userId);
    const position = this.state.reads.get(caller.userId) ?? { lastReadSeq: 0, sendReceipts: true };
    const target = Math.min(Math.max(seq, position.lastReadSeq), this.state.lastSeq);
    // The caller's current setting when the Worker knows it (REST); otherwise the
    // one the room was last told (setSendReceipts keeps it current).
    const sendReceipts = caller.sendReceipts ?? position.sendReceipts;
    // Nothing moved: the inbox already has (or is about to get) this position.
    if (target === position.lastReadSeq && sendReceipts === position.sendReceipts) return { lastReadSeq: target };
    this.state.reads.set(caller.userId, { lastReadSeq: target, sendReceipts });
    this.pending.add(caller.userId);
    if (sendReceipts && target > position.lastReadSeq) this.receiptsDue.add(caller.userId);
    // A read after a quiet second is written and announced at once; reads that
    // follow it within READ_FLUSH_MS wait and go together.
    const due = this.lastFlush + READ_FLUSH_MS;
    if (Date.now() >= due) await this.flush();
    else this.state.setAlarmBy(due);
    return { lastReadSeq: target };
  }

  get anyPending(): boolean {
    return this.pending.size > 0;
  }

  /**
   * Write the read positions that moved, tell the room (receipts) and each
   * reader's inbox. Positions live in memory first (unread counts use them at
   * once); a crash before this runs loses at most READ_FLUSH_MS of read
   * progress, which the reader's client repeats — acked messages are never at
   * stake here.
   */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    this.lastFlush = Date.now();
    const readers = [...this.pending].filter((u) => this.state.members.has(u) && this.state.reads.has(u));
    const receipts = [...this.receiptsDue];
    try {
      this.store.transaction(() => {
        for (const userId of readers) {
          const r = this.state.reads.get(userId)!;
          this.rows.setLastRead(userId, r.lastReadSeq, r.sendReceipts);
        }
      });
    } catch (err) {
      // Still pending: the alarm tries again (a full disk, say), and the caller hears of it.
      this.state.setAlarmBy(Date.now() + RETRY_MS);
      throw storageFailure(err);
    }
    this.pending.clear();
    this.receiptsDue.clear();
    for (const userId of receipts) {
      const r = this.state.reads.get(userId);
      if (r?.sendReceipts && this.state.members.has(userId)) this.sockets.broadcast({ type: "receipt", userId, seq: r.lastReadSeq });
    }
    const failed = await this.activity.deliverNow(readers);
    if (failed.length) log("warn", "room.read_sync_failed", { room: this.state.meta?.id, failed: failed.length, of: readers.length });
  }

  /** The member changed their receipts setting (told by their inbox object). */
  setSendReceipts(userId: string, sendReceipts: boolean): void {
    const position = this.state.reads.get(userId);
    if (!position || !this.state.members.has(userId) || position.sendReceipts === sendReceipts) return;
    this.rows.setLastRead(userId, position.lastReadSeq, sendReceipts);
    this.state.reads.set(userId, { ...position, sendReceipts });
  }

  /** Who has read up to where, for members who send receipts. */
  receipts(caller: Caller): { userId: string; seq: number }[] {
    this.state.requireMember(caller.userId);
    const out: { userId: string; seq: number }[] = [];
    for (const [userId, r] of this.state.reads) if (r.sendReceipts && this.state.members.has(userId)) out.push({ userId, seq: r.lastReadSeq });
    return out;
  }

  /** `userId` is typing on `ws`: everyone else in the room sees it for a few seconds. */
  typing(ws: WebSocket | null, userId: string): void {
    const now = Date.now();
    // Floods are clamped, not answered: at most one typing frame per user every 2 s is passed on.
    if (now - (this.typingAt.get(userId) ?? 0) < TYPING_MIN_INTERVAL_MS) return;
    this.typingAt.set(userId, now);
    this.sockets.sendToOthers({ type: "typing", userId, expiresInMs: TYPING_EXPIRES_MS }, userId, ws);
  }
}
