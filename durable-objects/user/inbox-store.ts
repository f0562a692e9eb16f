/**
 * The inbox's data: the user's rooms with counts and previews, rooms they
 * left (so a resuming device hears of it), and notifications. Every change
 * bumps the inbox position `pos`, stored on the changed row.
 */
import { and, asc, desc, eq, gt, lt, sql } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import * as schema from "./schema";
import type { InboxRoom, LastMessage, Notification } from "../../protocol/device";
import type { RoomActivity, RoomSummary } from "./inbox-update";

type RoomRow = typeof schema.rooms.$inferSelect;

export class InboxStore {
  constructor(
    private readonly db: DrizzleSqliteDODatabase<typeof schema>,
    private readonly storage: DurableObjectStorage,
  ) {}

  get pos(): number {
    const row = this.db.select().from(schema.profile).where(eq(schema.profile.key, "pos")).get();
    return Number(row?.value ?? 0);
  }

  private bump(): number {
    const next = this.pos + 1;
    this.db.insert(schema.profile).values({ key: "pos", value: String(next) }).onConflictDoUpdate({ target: schema.profile.key, set: { value: String(next) } }).run();
    return next;
  }

  room(roomId: string): InboxRoom | null {
    const row = this.db.select().from(schema.rooms).where(eq(schema.rooms.roomId, roomId)).get();
    return row ? toInboxRoom(row) : null;
  }

  roomIds(): string[] {
    return this.db.select({ id: schema.rooms.roomId }).from(schema.rooms).all().map((r) => r.id);
  }

  rooms(): InboxRoom[] {
    return this.db.select().from(schema.rooms).orderBy(asc(schema.rooms.joinedAt)).all().map(toInboxRoom);
  }

  added(s: RoomSummary): InboxRoom {
    return this.storage.transactionSync(() => {
      const pos = this.bump();
      const existing = this.db.select().from(schema.rooms).where(eq(schema.rooms.roomId, s.roomId)).get();
      const lastMessage = s.lastMessage ? JSON.stringify(s.lastMessage) : null;
      if (existing) {
        this.db.update(schema.rooms).set({ name: s.name, role: s.role, pos }).where(eq(schema.rooms.roomId, s.roomId)).run();
      } else {
        this.db
          .insert(schema.rooms)
          .values({ ...s, lastMessage, unread: 0, mentions: 0, pos })
          .run();
      }
      this.db.delete(schema.removedRooms).where(eq(schema.removedRooms.roomId, s.roomId)).run();
      return this.room(s.roomId)!;
    });
  }

  /** Returns the new position, or null if the room was not in the inbox. */
  removed(roomId: string): number | null {
    return this.storage.transactionSync(() => {
      const existing = this.db.select({ id: schema.rooms.roomId }).from(schema.rooms).where(eq(schema.rooms.roomId, roomId)).get();
      if (!existing) return null;
      const pos = this.bump();
      this.db.delete(schema.rooms).where(eq(schema.rooms.roomId, roomId)).run();
      this.db.delete(schema.notifications).where(eq(schema.notifications.roomId, roomId)).run();
      this.db.insert(schema.removedRooms).values({ roomId, pos }).onConflictDoUpdate({ target: schema.removedRooms.roomId, set: { pos } }).run();
      return pos;
    });
  }

  changed(roomId: string, set: { name?: string; role?: RoomRow["role"] }): InboxRoom | null {
    return this.storage.transactionSync(() => {
      if (!this.room(roomId)) return null;
      const pos = this.bump();
      this.db.update(schema.rooms).set({ ...set, pos }).where(eq(schema.rooms.roomId, roomId)).run();
      return this.room(roomId);
    });
  }

  /** Apply a room's activity summary. Null if the room is not (or no longer) in the inbox. */
  activity(a: RoomActivity): { room: InboxRoom; notifications: Notification[] } | null {
    return this.storage.transactionSync(() => {
      const existing = this.room(a.roomId);
      if (!existing) return null;
      // An older summary arriving late never overwrites a newer one.
      if (a.lastSeq < existing.lastSeq || (a.lastSeq === existing.lastSeq && a.lastReadSeq < existing.lastReadSeq)) return { room: existing, notifications: [] };
      const pos = this.bump();
      this.db
        .update(schema.rooms)
        .set({ lastSeq: a.lastSeq, lastReadSeq: a.lastReadSeq, unread: a.unread, mentions: a.mentions, lastMessage: a.lastMessage ? JSON.stringify(a.lastMessage) : null, pos })
        .where(eq(schema.rooms.roomId, a.roomId))
        .run();
      const notes: Notification[] = [];
      for (const n of a.notifications) {
        const row = this.db.insert(schema.notifications).values(n).onConflictDoNothing().returning().get();
        if (row) notes.push(row as Notification);
      }
      return { room: this.room(a.roomId)!, notifications: notes };
    });
  }

  changedSince(pos: number): { rooms: InboxRoom[]; removed: string[] } {
    const rooms = this.db.select().from(schema.rooms).where(gt(schema.rooms.pos, pos)).orderBy(asc(schema.rooms.pos)).all().map(toInboxRoom);
    const removed = this.db.select().from(schema.removedRooms).where(gt(schema.removedRooms.pos, pos)).all().map((r) => r.roomId);
    return { rooms, removed };
  }

  notifications(before: number | undefined, limit: number): Notification[] {
    const n = schema.notifications;
    const q = this.db.select().from(n);
    return (before !== undefined ? q.where(lt(n.id, before)) : q).orderBy(desc(n.id)).limit(limit).all() as Notification[];
  }

  /** Notifications about messages the user has not read yet. */
  unreadNotifications(): number {
    return this.storage.sql
      .exec<{ n: number }>("SELECT count(*) AS n FROM notifications n JOIN rooms r ON r.room_id = n.room_id WHERE n.seq > r.last_read_seq")
      .one().n;
  }

  /** Keep the notification list bounded (the newest 1000). */
  trimNotifications(): void {
    this.storage.sql.exec("DELETE FROM notifications WHERE id <= (SELECT id FROM notifications ORDER BY id DESC LIMIT 1 OFFSET 1000)");
  }

  countRows(): number {
    return this.db.select({ n: sql<number>`count(*)` }).from(schema.rooms).get()?.n ?? 0;
  }
}

function toInboxRoom(r: RoomRow): InboxRoom {
  return {
    roomId: r.roomId,
    name: r.name,
    kind: r.kind,
    visibility: r.visibility,
    role: r.role,
    joinedAt: r.joinedAt,
    peerId: r.peerId,
    lastSeq: r.lastSeq,
    lastReadSeq: r.lastReadSeq,
    unread: r.unread,
    mentions: r.mentions,
    lastMessage: r.lastMessage ? (JSON.parse(r.lastMessage) as LastMessage) : null,
    pos: r.pos,
  };
}
void and;
