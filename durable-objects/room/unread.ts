/**
 * Unread and mention counts per member, kept cheap for big rooms.
 *
 * Counting from SQLite for every member on every flush would cost
 * O(members × unread). Instead each member's counts are cached as of the
 * last flush; the next flush adds only the messages that arrived since
 * (already loaded once for all members). A member whose read position moved,
 * or any recall/edit (which can lower counts), falls back to a capped SQL count.
 */
import type { MessageStore } from "./store/messages";

export const UNREAD_CAP = 1000;

interface Cached {
  asOf: number;
  lastRead: number;
  unread: number;
  mentions: number;
}

export interface FreshMessages {
  rows: { seq: number; senderId: string; deletedAt: number | null }[];
  mentions: Map<number, string[]>;
  /** the seq the batch starts after */
  after: number;
}

export class UnreadCounts {
  private cache = new Map<string, Cached>();
  constructor(private readonly messages: MessageStore) {}

  invalidate(userId?: string): void {
    if (userId) this.cache.delete(userId);
    else this.cache.clear();
  }

  counts(userId: string, lastRead: number, lastSeq: number, fresh: FreshMessages | null): { unread: number; mentions: number } {
    const c = this.cache.get(userId);
    let result: { unread: number; mentions: number };
    if (c && c.lastRead === lastRead && c.asOf === lastSeq) {
      result = c;
    } else if (c && c.lastRead === lastRead && fresh && c.asOf === fresh.after) {
      let unread = c.unread;
      let mentions = c.mentions;
      for (const row of fresh.rows) {
        if (row.seq <= lastRead || row.seq > lastSeq || row.senderId === userId || row.deletedAt !== null) continue;
        unread++;
        const who = fresh.mentions.get(row.seq);
        if (who && (who.includes(userId) || who.includes("*"))) mentions++;
      }
      result = { unread: Math.min(unread, UNREAD_CAP), mentions: Math.min(mentions, UNREAD_CAP) };
    } else {
      result = this.messages.countUnread(userId, lastRead, UNREAD_CAP);
    }
    this.cache.set(userId, { asOf: lastSeq, lastRead, ...result });
    return result;
  }
}
