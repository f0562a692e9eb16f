/**
 * What a room keeps in memory, shared by its modules: its settings, members,
 * read positions, its counters, and when its alarm fires. RoomObject loads it
 * from SQLite at wake; a module changes it only after the write it mirrors
 * succeeded, so memory never runs ahead of disk.
 *
 * No runtime here: the alarm is set through the function the object passes
 * in, so the state (and what is built on it) runs in plain Node too.
 */
import type { Member, Message, Role } from "../../protocol/models";
import { notFound } from "../shared/app-error";
import type { RoomMeta } from "./store/meta";
import type { MemberRow } from "./store/members";

export interface ReadPosition {
  /** every message with seq <= this has been read */
  lastReadSeq: number;
  /** may others see it (receipts)? */
  sendReceipts: boolean;
}

/**
 * A Map that counts its changes: what is derived from the member list (the
 * fingerprint other nodes compare, peers.ts) is worked out again only after
 * one. Every change of a member goes through set/delete/clear (members are
 * replaced, never edited in place).
 */
export class CountedMap<K, V> extends Map<K, V> {
  changes = 0;
  override set(key: K, value: V): this {
    this.changes++;
    return super.set(key, value);
  }
  override delete(key: K): boolean {
    this.changes++;
    return super.delete(key);
  }
  override clear(): void {
    this.changes++;
    super.clear();
  }
}

export class RoomState {
  /** null: a room that was never created (or not yet) */
  meta: RoomMeta | null = null;
  readonly members = new CountedMap<string, Member>();
  /** username → user id, for mentions */
  readonly usernames = new Map<string, string>();
  /** read positions, kept apart from `members` so they never leak into member lists */
  readonly reads = new CountedMap<string, ReadPosition>();
  /** the highest seq stored */
  lastSeq = 0;
  /** the room's change counter: every new message, edit, recall and reaction bumps it */
  version = 0;
  /**
   * The message stored last, as its members were told: while `version` is still
   * its version, it is the only change since the version before (peers.ts sends
   * it to the other nodes without reading it back).
   */
  lastStored: Message | null = null;
  /** the alarm time last set (read once at wake), so scheduling needs no await */
  private alarmAt: number | null = null;

  /** `setAlarm` writes the alarm (ctx.storage.setAlarm: in the same implicit transaction as the writes around it). */
  constructor(private readonly setAlarm: (at: number) => void) {}

  /** Everything from SQLite, at wake and after the room is created. */
  load(meta: RoomMeta | null, rows: MemberRow[], counters: { lastSeq: number; version: number }): void {
    this.meta = meta;
    this.members.clear();
    this.reads.clear();
    this.usernames.clear();
    for (const { lastReadSeq, sendReceipts, ...m } of rows) {
      this.members.set(m.userId, m);
      this.reads.set(m.userId, { lastReadSeq, sendReceipts });
      this.usernames.set(m.username, m.userId);
    }
    this.lastSeq = counters.lastSeq;
    this.version = counters.version;
  }

  /** The room's settings when `userId` is a member now; otherwise "no such room", exactly as for a room that does not exist. */
  requireMember(userId: string): RoomMeta {
    if (!this.meta || !this.members.has(userId)) throw notFound();
    return this.meta;
  }

  isMember(userId: string): boolean {
    return this.meta !== null && this.members.has(userId);
  }

  addMember(member: Member, read: ReadPosition): void {
    this.members.set(member.userId, member);
    this.reads.set(member.userId, read);
    this.usernames.set(member.username, member.userId);
  }

  removeMember(member: Member): void {
    this.members.delete(member.userId);
    this.reads.delete(member.userId);
    this.usernames.delete(member.username);
  }

  withRole(userId: string, role: Role): Member {
    const updated: Member = { ...this.members.get(userId)!, role };
    this.members.set(userId, updated);
    return updated;
  }

  /** At wake: when the stored alarm fires (null: none set). */
  alarmIsAt(at: number | null): void {
    this.alarmAt = at;
  }

  /** The alarm is running: the next setAlarmBy sets a new one. */
  alarmFired(): void {
    this.alarmAt = null;
  }

  /**
   * Make sure the alarm fires no later than `at`. Synchronous on purpose: the
   * alarm is written in the same implicit transaction as the message that
   * needs it, so a send costs one commit (one fsync), not two.
   */
  setAlarmBy(at: number): void {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    this.setAlarm(at);
  }
}
