/**
 * The per-destination queue of messages that members on this node sent into
 * rooms homed on the link's other end.
 *
 * Every such send goes through the queue, link up or down: it is written here
 * (one SQLite file, so it survives `kill -9` of this node) before the sender
 * hears anything, then delivered in the order it was queued, a batch at a time
 * (`POST /link/v1/sends`), each batch only after the previous one was answered.
 * The home room stores each message once (its idempotency key is sender +
 * session + clientId), so a batch repeated after a lost answer creates nothing
 * twice: delivery is exactly once, in order. Items leave the queue only when
 * the home answered for them — stored, or refused for good (the sender left the
 * room, the text is too long, …), in which case the refusal goes back to the
 * sender. A passing fault at the home (disk full, a damaged room under repair,
 * a rate limit) stops the batch there; the rest waits and is tried again.
 */
import type { LinkSendItem } from "../../protocol/cluster";

/** Items per delivery request: 1,000 queued messages cross in ten round trips. */
export const SEND_BATCH = 100;

export interface QueuedSend {
  id: number;
  item: LinkSendItem;
  enqueuedAt: number;
}

/** A send's idempotency key, as the home room and the mirror know it: sender + session + clientId. */
export function sendKey(item: Pick<LinkSendItem, "userId" | "sessionId" | "clientId">): string {
  return `${item.userId}|${item.sessionId}|${item.clientId}`;
}

export class SendQueue {
  constructor(private readonly sql: SqlStorage) {
    sql.exec("CREATE TABLE IF NOT EXISTS send_queue (id INTEGER PRIMARY KEY AUTOINCREMENT, room_id TEXT NOT NULL, item TEXT NOT NULL, enqueued_at INTEGER NOT NULL, client_key TEXT)");
    // Queues written before the key column existed (a node upgraded with sends waiting): add it and fill it in.
    const columns = sql.exec<{ name: string }>("PRAGMA table_info(send_queue)").toArray();
    // Only then: every row written since the column exists carries its key, so a wake costs no scan.
    if (!columns.some((c) => c.name === "client_key")) {
      sql.exec("ALTER TABLE send_queue ADD COLUMN client_key TEXT");
      sql.exec("UPDATE send_queue SET client_key = json_extract(item, '$.userId') || '|' || json_extract(item, '$.sessionId') || '|' || json_extract(item, '$.clientId')");
    }
    sql.exec("CREATE INDEX IF NOT EXISTS send_queue_client_key ON send_queue (client_key)");
  }

  /**
   * Append in order the items not already waiting here (by their idempotency
   * key), and say how many were new; the caller's implicit transaction commits
   * them together. Idempotent, so the mirror can hand a send over again
   * whenever it has no answer for it yet (link-object.ts `enqueueSends`).
   */
  push(items: LinkSendItem[], now: number): number {
    let added = 0;
    for (const item of items) {
      const key = sendKey(item);
      if (this.sql.exec("SELECT 1 FROM send_queue WHERE client_key = ? LIMIT 1", key).toArray().length) continue;
      this.sql.exec("INSERT INTO send_queue (room_id, item, enqueued_at, client_key) VALUES (?, ?, ?, ?)", item.roomId, JSON.stringify(item), now, key);
      added++;
    }
    return added;
  }

  /** The oldest `limit` items, in queue order. */
  head(limit = SEND_BATCH): QueuedSend[] {
    return this.sql
      .exec<{ id: number; item: string; enqueued_at: number }>("SELECT id, item, enqueued_at FROM send_queue ORDER BY id LIMIT ?", limit)
      .toArray()
      .map((r) => ({ id: r.id, item: JSON.parse(r.item) as LinkSendItem, enqueuedAt: r.enqueued_at }));
  }

  /** Remove items the home has answered for (always a prefix of the queue). */
  drop(ids: number[]): void {
    for (const id of ids) this.sql.exec("DELETE FROM send_queue WHERE id = ?", id);
  }

  /** Forget every queued send of `userId` (they are being erased: their words must not reach a room later). */
  dropSender(userId: string): number {
    return this.sql.exec("DELETE FROM send_queue WHERE json_extract(item, '$.userId') = ?", userId).rowsWritten;
  }

  size(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM send_queue").one().n;
  }

  /** Items of one room still waiting, oldest first (a mirror answering a client's repeat). */
  waitingFor(roomId: string): LinkSendItem[] {
    return this.sql
      .exec<{ item: string }>("SELECT item FROM send_queue WHERE room_id = ? ORDER BY id", roomId)
      .toArray()
      .map((r) => JSON.parse(r.item) as LinkSendItem);
  }
}
