/**
 * Coalesced inbox activity: how members' inboxes hear about what happens in
 * the room, at a cost that does not grow with members who are not looking.
 *
 * - After a change the room's alarm is set: at once when the room has been
 *   quiet, else ACTIVITY_INTERVAL_MS after the last flush; a busy room stretches
 *   its interval up to ACTIVITY_INTERVAL_MAX_MS (`nextInterval`).
 * - The alarm's flush computes one summary per member (counts from
 *   unread.ts, notifications for mentions and DMs) and delivers them in
 *   slices, paced in big rooms.
 * - Members nobody is looking for get plain summaries at most every 30 s
 *   (away-members.ts).
 * The alarm is stored with the room, written in the same transaction as the
 * message that needs it, so an eviction or a crash cannot lose a summary.
 */
import { log } from "../shared/log";
import type { LastMessage } from "../../protocol/device";
import type { RoomActivity } from "../user/inbox-update";
import { AwayMembers } from "./away-members";
import type { RoomState } from "./room-state";
import { lastMessageOf, PREVIEW_CHARS } from "./room-view";
import type { RoomMeta } from "./store/meta";
import type { RoomStore } from "./store/room-store";
import { UnreadCounts, type FreshMessages } from "./unread";

/** Members' inboxes hear about a busy room at most this often (the first message after a quiet spell goes at once). */
export const ACTIVITY_INTERVAL_MS = 1000;
/**
 * A room that stays busy stretches its interval, up to this: members
 * who are not looking only need badges and previews, and a node full of busy
 * rooms must not spend its time rewriting every inbox every second. One quiet
 * interval brings it back to ACTIVITY_INTERVAL_MS.
 */
export const ACTIVITY_INTERVAL_MAX_MS = 5000;
/** new messages in one interval above which a room counts as busy */
const BUSY_MESSAGES_PER_INTERVAL = 5;
/** new messages per second (over the last interval) at which a room is flooded */
const FLOODED_MESSAGES_PER_SECOND = 8;
/** inbox deliveries in flight at once during a flush */
const ACTIVITY_SLICE = 16;
/** rooms with more slices than this spread them over half their interval */
const ACTIVITY_PACED_ABOVE_SLICES = 4;
/** the longest pause between two slices */
const ACTIVITY_PACE_MAX_MS = 50;
/** new messages read per flush (more invalidate the cached counts) */
const FLUSH_ROWS = 1000;
/** notifications one summary carries at most */
const MAX_NOTIFICATIONS = 20;
/** how long failed deliveries of held-back summaries wait for the alarm's next try */
const RETRY_MS = 2000;

/** Delivers one summary to a member's inbox; the answer says whether anyone looks at it. */
export type DeliverActivity = (userId: string, activity: RoomActivity) => Promise<{ live: boolean } | undefined>;

/**
 * The interval after a flush that found `newMessages`: busy doubles it,
 * flooded goes straight to the longest (doubling kept a node of flooded rooms
 * delivering at full rate for ~8 s), a quiet or short burst brings it back.
 */
export function nextInterval(current: number, newMessages: number): number {
  const perSecond = (newMessages * 1000) / current;
  if (perSecond >= FLOODED_MESSAGES_PER_SECOND) return ACTIVITY_INTERVAL_MAX_MS;
  if (newMessages > BUSY_MESSAGES_PER_INTERVAL) return Math.min(current * 2, ACTIVITY_INTERVAL_MAX_MS);
  return ACTIVITY_INTERVAL_MS;
}

export class InboxActivity {
  private readonly unread: UnreadCounts;
  private readonly away: AwayMembers;
  private lastActivityAt = 0;
  private interval = ACTIVITY_INTERVAL_MS;
  /**
   * Stretches this room's interval by up to 20%, so busy rooms that started
   * together do not all reach their members' inboxes in the same instant.
   */
  private readonly jitter = 1 + Math.random() * 0.2;

  constructor(
    private readonly state: RoomState,
    private readonly store: RoomStore,
    private readonly deliver: DeliverActivity,
  ) {
    this.unread = new UnreadCounts(store.messages);
    this.away = new AwayMembers((at) => state.setAlarmBy(at));
  }

  /** At wake (the alarm time is known): summaries held back before the room was evicted are owed still. */
  wake(): void {
    this.away.restore(this.store.meta.heldBack(), Date.now());
  }

  /** Something members' inboxes must hear about happened: make sure the alarm comes. */
  changed(): void {
    this.state.setAlarmBy(Math.max(Date.now(), this.lastActivityAt + Math.round(this.interval * this.jitter)));
  }

  /** An edit or a recall: counts may go down, so they are counted afresh. */
  countsChanged(): void {
    this.unread.invalidate();
    this.changed();
  }

  memberLeft(userId: string): void {
    this.unread.invalidate(userId);
  }

  /** A member's inbox asks for its summary now (someone started looking at it); null for a non-member. */
  summaryNow(userId: string): RoomActivity | null {
    if (!this.state.isMember(userId)) return null;
    this.away.looking(userId);
    return this.summaryFor(userId, null, [], this.lastMessage());
  }

  /** Fresh summaries to these members' inboxes now (after reads); returns those whose delivery failed. */
  deliverNow(userIds: string[]): Promise<string[]> {
    const last = this.lastMessage();
    return this.deliverAll(userIds.map((userId) => ({ userId, activity: this.summaryFor(userId, null, [], last) })));
  }

  /** From the alarm: summaries of what changed since the last flush, or the held-back ones if nothing did. */
  async flush(): Promise<void> {
    const notifiedVersion = this.store.meta.number("notified_version");
    if (this.state.version <= notifiedVersion) return this.flushHeldBack();
    this.lastActivityAt = Date.now();
    const after = this.store.meta.number("notified_seq");
    const batch = this.store.messages.newSince(after, FLUSH_ROWS);
    this.interval = nextInterval(this.interval, batch.rows.length);
    const fresh: FreshMessages = { rows: batch.rows, mentions: batch.mentions, after };
    if (batch.rows.length >= FLUSH_ROWS) this.unread.invalidate();
    const { lastSeq, version } = this.state;
    const meta = this.state.meta!;
    const activities: { userId: string; activity: RoomActivity }[] = [];
    const last = this.lastMessage();
    const now = Date.now();
    for (const userId of this.state.members.keys()) {
      const notifications = notificationsFor(meta, userId, this.lastReadOf(userId), batch.rows, batch.mentions);
      const activity = this.summaryFor(userId, fresh, notifications, last);
      // Nobody is looking at this member's inbox: a plain summary waits (at most
      // AWAY_SUMMARY_INTERVAL_MS); notifications never wait.
      if (notifications.length === 0 && this.away.holdBackIfAway(userId, now)) continue;
      activities.push({ userId, activity });
    }
    this.store.meta.setNumber("notified_seq", lastSeq);
    this.store.meta.setNumber("notified_version", version);
    // Who is still owed a summary survives an eviction (written in the same commit).
    this.saveHeldBack();
    // In slices, so the room (and everything else on the node) keeps serving
    // messages between them instead of stalling behind one burst of inbox work.
    // A big room also spreads its slices over half its interval: 2,000 inboxes
    // woken back to back kept the node's one thread busy for a second at a
    // time, and every viewer on the node waited behind it.
    const slices = Math.ceil(activities.length / ACTIVITY_SLICE);
    const pace = slices > ACTIVITY_PACED_ABOVE_SLICES ? Math.min(ACTIVITY_PACE_MAX_MS, this.interval / 2 / slices) : 0;
    const failed = await this.deliverAll(activities, pace);
    if (failed.length) log("warn", "room.activity_failed", { room: this.state.meta?.id, failed: failed.length, of: activities.length });
  }

  /** The alarm found nothing new: deliver summaries held back from away members whose interval has passed. */
  private async flushHeldBack(): Promise<void> {
    if (!this.away.anyOwed || !this.state.meta) return;
    const due = this.away.dueNow((u) => this.state.members.has(u), Date.now());
    if (due.length === 0) return;
    // Those that failed stay owed: the alarm tries again.
    if ((await this.deliverNow(due)).length) this.state.setAlarmBy(Date.now() + RETRY_MS);
    this.saveHeldBack();
  }

  private saveHeldBack(): void {
    const list = this.away.changedList();
    if (list) this.store.meta.setHeldBack(list);
  }

  /**
   * Summaries to members' inboxes, ACTIVITY_SLICE at a time (`pace` ms between
   * slices), noting from each answer whether anyone looks at that inbox.
   * Returns the members whose delivery failed.
   */
  private async deliverAll(items: { userId: string; activity: RoomActivity }[], pace = 0): Promise<string[]> {
    const failed: string[] = [];
    for (let i = 0; i < items.length; i += ACTIVITY_SLICE) {
      if (pace && i > 0) await new Promise((resolve) => setTimeout(resolve, pace));
      const slice = items.slice(i, i + ACTIVITY_SLICE);
      const results = await Promise.allSettled(slice.map(({ userId, activity }) => this.deliver(userId, activity)));
      results.forEach((r, k) => (r.status === "fulfilled" ? this.away.delivered(slice[k].userId, r.value, Date.now()) : failed.push(slice[k].userId)));
    }
    return failed;
  }

  private summaryFor(userId: string, fresh: FreshMessages | null, notifications: RoomActivity["notifications"], lastMessage: LastMessage | null): RoomActivity {
    const read = this.lastReadOf(userId);
    const counts = this.unread.counts(userId, read, this.state.lastSeq, fresh);
    return { roomId: this.state.meta!.id, lastSeq: this.state.lastSeq, lastReadSeq: read, unread: counts.unread, mentions: counts.mentions, lastMessage, notifications };
  }

  private lastReadOf(userId: string): number {
    return this.state.reads.get(userId)?.lastReadSeq ?? 0;
  }

  lastMessage(): LastMessage | null {
    return lastMessageOf(this.store.messages.lastRow());
  }
}

/** A member's notifications among new messages: mentions of them (or @all), and every message in a DM, unread, not their own. */
export function notificationsFor(
  meta: RoomMeta,
  userId: string,
  lastReadSeq: number,
  rows: { seq: number; id: string; senderId: string; text: string; createdAt: number; deletedAt: number | null }[],
  mentions: ReadonlyMap<number, string[]>,
): RoomActivity["notifications"] {
  const out: RoomActivity["notifications"] = [];
  for (const r of rows) {
    if (r.senderId === userId || r.deletedAt !== null || r.seq <= lastReadSeq) continue;
    const who = mentions.get(r.seq);
    const kind = meta.kind === "dm" ? "dm" : who && (who.includes(userId) || who.includes("*")) ? "mention" : null;
    if (!kind) continue;
    out.push({ kind, roomId: meta.id, messageId: r.id, seq: r.seq, senderId: r.senderId, preview: r.text.slice(0, PREVIEW_CHARS), createdAt: r.createdAt });
    if (out.length >= MAX_NOTIFICATIONS) break;
  }
  return out;
}
