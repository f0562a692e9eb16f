/**
 * Erasure (GDPR) of one person in this room, driven by the directory's job
 * (durable-objects/directory/erasure.ts), one bounded batch per call:
 *
 * - their messages keep their place (seq, time, replies to them still point
 *   somewhere) but lose their content: text, mentions, files (bytes deleted),
 *   reactions on them and the search rows — the same tombstone a recall
 *   leaves, so every client already knows how to show it; others' messages
 *   are untouched, so the conversation stays readable for everyone else;
 * - their own reactions on others' messages go;
 * - their member row keeps its place but carries the placeholder name
 *   ("Deleted user"), with the read position reset and receipts off.
 *
 * This is what Slack and Mattermost do for a removed person (the rest of the
 * conversation stays, the person's identity and words do not), and what
 * GDPR art. 17 asks of personal data without removing others' data with it.
 *
 * Under a legal hold on the room the content is copied to `held_messages`
 * before it is removed from view (the bytes of its files stay): the hold
 * keeps it, members no longer see it. (A hold on the person refuses the
 * erasure before it starts.)
 *
 * Idempotent and resumable: a batch picks only messages that still carry
 * content, so a call after a crash (or a second job) continues where the
 * last commit left off; each batch is one transaction.
 */
import type { Member } from "../../protocol/models";
import type { InboxActivity } from "./inbox-activity";
import type { Outbox } from "./outbox";
import type { Retention } from "./retention";
import type { RoomSockets } from "./room-socket";
import type { RoomState } from "./room-state";
import type { RoomStore } from "./store/room-store";

/** Messages per transaction. */
export const ERASURE_BATCH = 500;

export interface ErasePlaceholder {
  username: string;
  displayName: string;
}

const NO_MENTIONS = JSON.stringify({ users: [], all: false });

export class RoomErasure {
  constructor(
    private readonly state: RoomState,
    private readonly store: RoomStore,
    private readonly retention: Retention,
    private readonly sockets: RoomSockets,
    private readonly activity: InboxActivity,
    private readonly outbox: Outbox,
  ) {}

  /**
   * One batch of `userId`'s erasure from `afterSeq` on. `roomHeld`: the room
   * is under a legal hold (copies are kept). `by`: the administrator who
   * started the erasure (its audit records' actor). Returns where the next
   * batch starts, or done.
   *
   * Each transaction that removes something of the person records
   * `erasure.user` in the room's chain with it (fail closed: the record or
   * nothing). The last batch and the finishing writes (reactions, uploads, the
   * member row) are one transaction, so a room where the person wrote up to
   * ERASURE_BATCH messages gets one record; a room they never touched, none.
   */
  async batch(userId: string, placeholder: ErasePlaceholder, roomHeld: boolean, afterSeq: number, by: string): Promise<{ done: boolean; afterSeq: number }> {
    if (!this.state.meta) return { done: true, afterSeq };
    const roomId = this.state.meta.id;
    const now = Date.now();
    const rows = this.retention.rows.bySenderWithContent(userId, afterSeq, ERASURE_BATCH);
    const last = rows.length < ERASURE_BATCH;
    const member = this.state.members.get(userId);
    let version = this.state.version;
    const finished = this.store.transaction(() => {
      for (const row of rows) {
        const files = this.retention.rows.filesOf(row.seq);
        if (roomHeld) this.retention.rows.keepCopy(row, files, "erasure", now);
        version++;
        this.store.messages.update(row.seq, { text: "", mentions: NO_MENTIONS, attachments: null, deletedAt: row.deletedAt ?? now, editedAt: null, version });
        this.store.clearDerived(row.seq);
        for (const f of files) {
          this.retention.rows.deleteFile(f.id);
          if (!roomHeld) this.store.outbox.enqueue("", { type: "file.delete", storageKey: f.storageKey }, now);
        }
      }
      const done = last ? this.finish(userId, member, placeholder, roomHeld, now, () => ++version) : null;
      if (rows.length || (done && (done.member || done.reactions || done.uploads))) {
        this.store.audit.record({
          actor: by,
          action: "erasure.user",
          roomId,
          userId,
          detail: { step: last ? "room" : "batch", messages: rows.length, reactions: done?.reactions ?? 0, uploads: done?.uploads ?? 0, member: done?.member ?? false, keptForHold: roomHeld },
        });
      }
      return done;
    });
    this.state.version = version;
    if (rows.length) this.activity.countsChanged();
    if (!last) {
      await this.outbox.flush();
      return { done: false, afterSeq: rows[rows.length - 1].seq };
    }
    if (member && finished?.updated) {
      this.state.usernames.delete(member.username);
      this.state.addMember(finished.updated, { lastReadSeq: 0, sendReceipts: false });
      this.sockets.broadcast({ type: "member.updated", member: finished.updated });
    }
    await this.outbox.flush();
    return { done: true, afterSeq: rows.length ? rows[rows.length - 1].seq : afterSeq };
  }

  /** After the last message, inside its transaction: their reactions, unsent uploads and the member row. */
  private finish(
    userId: string,
    member: Member | undefined,
    placeholder: ErasePlaceholder,
    roomHeld: boolean,
    now: number,
    nextVersion: () => number,
  ): { updated: Member | null; member: boolean; reactions: number; uploads: number } {
    let reactions = 0;
    const reactedOn = new Set<number>();
    // Reactions are a few per message at most; loop in bounded deletes all the same.
    for (;;) {
      const seqs = this.retention.rows.deleteReactionsOf(userId, ERASURE_BATCH);
      reactions += seqs.length;
      for (const seq of seqs) reactedOn.add(seq);
      if (seqs.length < ERASURE_BATCH) break;
    }
    // Each message they reacted to changed: a new version, or the room's copies on other nodes
    // (peer-push.ts sends what changed by version) would keep showing the reaction.
    for (const seq of reactedOn) this.store.messages.update(seq, { version: nextVersion() });
    const uploads = this.retention.rows.unsharedUploadsOf(userId, 10_000);
    for (const f of uploads) {
      this.retention.rows.deleteFile(f.id);
      if (!roomHeld) this.store.outbox.enqueue("", { type: "file.delete", storageKey: f.storageKey }, now);
    }
    // Others' notifications of their messages (with previews) go too.
    for (const other of this.state.members.keys()) {
      if (other !== userId) this.store.outbox.enqueue(other, { type: "notes.forget", roomId: this.state.meta!.id, senderId: userId }, now);
    }
    let updated: Member | null = null;
    // A member row already carrying the placeholder (a job redone after a crash) is not news.
    const changed = !!member && (member.username !== placeholder.username || member.displayName !== placeholder.displayName);
    if (member) {
      updated = { ...member, username: placeholder.username, displayName: placeholder.displayName };
      this.store.members.upsert(updated);
      this.store.members.setLastRead(userId, 0, false);
    }
    return { updated, member: changed, reactions, uploads: uploads.length };
  }
}
