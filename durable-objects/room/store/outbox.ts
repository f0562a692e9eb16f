/**
 * The `outbox` table: deliveries to other objects written in the same
 * transaction as the change they announce, and delivered in order after it
 * (room/outbox.ts), retried by the alarm until done.
 */
import { asc, count, eq } from "drizzle-orm";
import * as schema from "../schema";
import type { InboxUpdate } from "../../user/inbox-update";
import type { RoomDb } from "./room-store";

/** What the outbox carries: news for a member's inbox, or a recalled message's file to delete from the file store. */
export type OutboxItem = InboxUpdate | { type: "file.delete"; storageKey: string };

export interface OutboxRow {
  id: number;
  /** the member whose inbox gets it ("" for a file deletion) */
  userId: string;
  /** JSON of an OutboxItem (read with `outboxItem`) */
  payload: string;
}

/** A row's item (parsed where it is delivered, so one unreadable row fails only its own delivery). */
export const outboxItem = (row: OutboxRow): OutboxItem => JSON.parse(row.payload) as OutboxItem;

export class OutboxStore {
  constructor(private readonly db: RoomDb) {}

  enqueue(userId: string, item: OutboxItem, now: number): void {
    this.db.insert(schema.outbox).values({ userId, payload: JSON.stringify(item), createdAt: now }).run();
  }

  /** The oldest pending deliveries, in order. */
  pending(limit = 100): OutboxRow[] {
    return this.db.select({ id: schema.outbox.id, userId: schema.outbox.userId, payload: schema.outbox.payload }).from(schema.outbox).orderBy(asc(schema.outbox.id)).limit(limit).all();
  }

  /** How many wait (the metrics' outbox depth; read only when a delivery run stops short). */
  count(): number {
    return this.db.select({ n: count() }).from(schema.outbox).get()?.n ?? 0;
  }

  delete(id: number): void {
    this.db.delete(schema.outbox).where(eq(schema.outbox.id, id)).run();
  }
}
