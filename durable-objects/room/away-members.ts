/**
 * Who among a room's members nobody is looking for, and whose inbox summary
 * the room is holding back because of it.
 *
 * An inbox answers each summary with whether anyone looks at it (a device
 * socket open, or the room list read lately). To a member whose inbox nobody
 * looks at, a room sends plain summaries at most every
 * AWAY_SUMMARY_INTERVAL_MS; one that arrives sooner is held back and the room's
 * alarm delivers it when the interval ends, even if the room goes quiet.
 * Summaries with notifications never wait (the caller does not ask).
 *
 * Who is away lives in memory only: after a wake everyone counts as looking,
 * which is safe (they just get their summaries). Who is owed a summary is
 * stored with the room (`changedList`, written in the activity flush's
 * commit), so an eviction cannot lose what is owed. No runtime here: time
 * comes in as `now`, the alarm through `setAlarmBy`.
 */
import { AWAY_SUMMARY_INTERVAL_MS } from "../user/inbox-update";

export class AwayMembers {
  /** members whose inbox said nobody was looking, with when they last got a summary */
  private away = new Map<string, number>();
  /** members owed a summary */
  private heldBack = new Set<string>();
  /** whether the stored list is non-empty (an empty list is written once, then not again) */
  private stored = false;

  constructor(private readonly setAlarmBy: (at: number) => void) {}

  /** At wake: who was owed a summary when the room was evicted. The alarm delivers them. */
  restore(userIds: string[], now: number): void {
    this.heldBack = new Set(userIds);
    this.stored = this.heldBack.size > 0;
    if (this.heldBack.size) this.setAlarmBy(now + AWAY_SUMMARY_INTERVAL_MS);
  }

  /**
   * Hold back `userId`'s plain summary if their inbox said nobody was looking
   * and got a summary less than AWAY_SUMMARY_INTERVAL_MS ago: they are then
   * owed one, and the alarm is set for when the interval ends. True when held
   * back (the caller does not deliver).
   */
  holdBackIfAway(userId: string, now: number): boolean {
    const at = this.away.get(userId);
    if (at === undefined || now - at >= AWAY_SUMMARY_INTERVAL_MS) return false;
    this.heldBack.add(userId);
    this.setAlarmBy(at + AWAY_SUMMARY_INTERVAL_MS);
    return true;
  }

  /** A delivery to `userId`'s inbox succeeded; `answer` says whether anyone looks at it (none: an older inbox, counts as looking). */
  delivered(userId: string, answer: { live: boolean } | undefined, now: number): void {
    this.heldBack.delete(userId);
    if (answer && answer.live === false) this.away.set(userId, now);
    else this.away.delete(userId);
  }

  /** Someone started looking at `userId`'s inbox (it asked the room for a fresh summary). */
  looking(userId: string): void {
    this.away.delete(userId);
    this.heldBack.delete(userId);
  }

  get anyOwed(): boolean {
    return this.heldBack.size > 0;
  }

  /**
   * For the alarm: the owed members whose interval has passed (the others are
   * held back again, with the alarm set). Members who left are no longer owed.
   * Those returned stay owed until their delivery succeeds (`delivered`).
   */
  dueNow(isMember: (userId: string) => boolean, now: number): string[] {
    const due = [...this.heldBack].filter((u) => isMember(u) && !this.holdBackIfAway(u, now));
    for (const u of this.heldBack) if (!isMember(u)) this.heldBack.delete(u);
    return due;
  }

  /** Who is owed a summary, when that changed from what is stored (null: nothing to write). */
  changedList(): string[] | null {
    if (this.heldBack.size === 0 && !this.stored) return null;
    this.stored = this.heldBack.size > 0;
    return [...this.heldBack];
  }
}
