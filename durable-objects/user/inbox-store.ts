/**
 * The inbox's data: the user's rooms with counts and previews, rooms they
 * left (so a resuming device hears of it), and notifications. Every change
 * bumps the inbox position `pos`, stored on the changed row.
 */
import { asc, desc, eq, gt, lt } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import * as schema from "./schema";
import type { InboxRoom, LastMessage, Notification } from "../../protocol/device";
import type { RoomActivity, RoomSummary } from "./inbox-update";

type RoomRow = typeof schema.rooms.$inferSelect;

/** How long a room's coalesced activity waits in memory before it is written (up to twice this, jittered). */
export const ACTIVITY_WRITE_DELAY_MS = 2000;
/** Positions reserved on disk at a time for summaries kept in memory (see reservePositions). */
const POSITIONS_RESERVED = 1000;

export class InboxStore {
  /**
   * Activity summaries not written yet, by room (each with the position it was
   * given). A busy room sends every member's inbox a summary about once a
   * second; writing each one at once costs every inbox a commit (an fsync) per
   * second per busy room, which showed up as latency spikes for everyone on the
   * node. So plain summaries are kept here and written together within
   * ACTIVITY_WRITE_DELAY_MS; every read merges them first, so nothing reads
   * stale data. Summaries that carry notifications are written at once. A
   * crash can lose at most the last few seconds (≤ 4 s) of counts, which the
   * room's next summary replaces (counts are recomputed by the room, not
   * accumulated here).
   */
  private pending = new Map<string, { a: RoomActivity; pos: number }>();

  constructor(
    private readonly db: DrizzleSqliteDODatabase<typeof schema>,
    private readonly storage: DurableObjectStorage,
    private readonly onPending: () => void = () => {},
  ) {}

  /**
   * Erasure (GDPR): every room summary with its preview, the rooms left and
   * the notifications with theirs. One transaction; the inbox of a person who
   * can no longer sign in is not rebuilt (rooms' later summaries find no row).
   */
  eraseAll(): void {
    this.pending.clear();
    this.storage.transactionSync(() => {
      this.storage.sql.exec("DELETE FROM rooms");
      this.storage.sql.exec("DELETE FROM removed_rooms");
      this.storage.sql.exec("DELETE FROM notifications");
      this.storage.sql.exec("DELETE FROM watchers");
    });
  }

  /** Write the summaries kept in memory (one transaction). */
  flushPending(): void {
    if (this.pending.size === 0) return;
    const entries = [...this.pending.values()];
    this.pending.clear();
    this.storage.transactionSync(() => {
      for (const { a, pos } of entries) this.writeActivity(a, pos);
    });
  }

  /** A room's summary row from a room's activity; the row as written (none if the room was left meanwhile). */
  private writeActivity(a: RoomActivity, pos: number): RawRoomRow | undefined {
    return this.storage.sql
      .exec<RawRoomRow>(
        "UPDATE rooms SET last_seq = ?, last_read_seq = ?, unread = ?, mentions = ?, last_message = ?, pos = ? WHERE room_id = ? RETURNING *",
        a.lastSeq,
        a.lastReadSeq,
        a.unread,
        a.mentions,
        a.lastMessage ? JSON.stringify(a.lastMessage) : null,
        pos,
        a.roomId,
      )
      .toArray()[0];
  }

  private cachedPos: number | null = null;
  /** positions up to this one are on a row or reserved on disk (profile `pos`) */
  private reservedPos = 0;

  /**
   * The inbox position: the highest `pos` on any room row or removal
   * tombstone, or reserved (profile `pos`), read once per wake and then kept
   * in memory, so a change costs no extra write for the counter.
   */
  get pos(): number {
    if (this.cachedPos === null) {
      const row = this.storage.sql
        .exec<{ p: number | null }>(
          "SELECT max(p) AS p FROM (SELECT max(pos) AS p FROM rooms UNION ALL SELECT max(pos) FROM removed_rooms UNION ALL SELECT CAST(value AS INTEGER) FROM profile WHERE key = 'pos')",
        )
        .one();
      this.cachedPos = row.p ?? 0;
      this.reservedPos = this.cachedPos;
    }
    return this.cachedPos;
  }

  /**
   * The next position. A change written now stores it on its row in the same
   * transaction (a rolled-back change only leaves a gap, which resume
   * tolerates). A summary kept in memory (`pending`) reaches devices before
   * its row is written, so its position must not be handed out again after a
   * crash: positions are reserved on disk first, POSITIONS_RESERVED at a
   * time — one small write per thousand, and workerd's output gate holds the
   * frame until it is on disk. A wake continues above the reservation.
   */
  private bump(inMemory = false): number {
    this.cachedPos = this.pos + 1;
    if (inMemory && this.cachedPos > this.reservedPos) this.reservePositions(this.cachedPos + POSITIONS_RESERVED);
    return this.cachedPos;
  }

  private reservePositions(upTo: number): void {
    this.storage.sql.exec("INSERT INTO profile (key, value) VALUES ('pos', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", String(upTo));
    this.reservedPos = upTo;
  }

  room(roomId: string): InboxRoom | null {
    this.flushPending();
    const row = this.db.select().from(schema.rooms).where(eq(schema.rooms.roomId, roomId)).get();
    return row ? toInboxRoom(row) : null;
  }

  roomIds(): string[] {
    return this.db.select({ id: schema.rooms.roomId }).from(schema.rooms).all().map((r) => r.id);
  }

  rooms(): InboxRoom[] {
    this.flushPending();
    return this.db.select().from(schema.rooms).orderBy(asc(schema.rooms.joinedAt)).all().map(toInboxRoom);
  }

  added(s: RoomSummary): InboxRoom {
    this.flushPending();
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

  /** Notifications of messages a room purged (retention) or emptied (an erasure): see InboxUpdate "notes.forget". */
  forgetNotifications(f: { roomId: string; belowSeq?: number; exceptSenders?: string[]; senderId?: string }): void {
    if (f.belowSeq !== undefined) {
      this.storage.sql.exec(
        "DELETE FROM notifications WHERE room_id = ? AND seq < ? AND sender_id NOT IN (SELECT value FROM json_each(?))",
        f.roomId,
        f.belowSeq,
        JSON.stringify(f.exceptSenders ?? []),
      );
    }
    if (f.senderId !== undefined) this.storage.sql.exec("DELETE FROM notifications WHERE room_id = ? AND sender_id = ?", f.roomId, f.senderId);
  }

  /** Returns the new position, or null if the room was not in the inbox. */
  removed(roomId: string): number | null {
    this.flushPending();
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

  changed(roomId: string, set: { name?: string; role?: RoomRow["role"]; muted?: boolean }): InboxRoom | null {
    this.flushPending();
    return this.storage.transactionSync(() => {
      if (!this.room(roomId)) return null;
      const pos = this.bump();
      this.db.update(schema.rooms).set({ ...set, pos }).where(eq(schema.rooms.roomId, roomId)).run();
      return this.room(roomId);
    });
  }

  /** Apply a room's activity summary. Null if the room is not (or no longer) in the inbox. */
  activity(a: RoomActivity): { room: InboxRoom; notifications: Notification[] } | null {
    const sql = this.storage.sql;
    const stored = sql.exec<RawRoomRow>("SELECT * FROM rooms WHERE room_id = ?", a.roomId).toArray()[0];
    if (!stored) return null;
    // A muted room's mentions and DMs notify nobody: not kept, not pushed (its counts still are).
    if (stored.muted && a.notifications.length) a = { ...a, notifications: [] };
    const latest = this.pending.get(a.roomId)?.a;
    const lastSeq = latest?.lastSeq ?? stored.last_seq;
    const lastReadSeq = latest?.lastReadSeq ?? stored.last_read_seq;
    // An older summary arriving late never overwrites a newer one.
    if (a.lastSeq < lastSeq || (a.lastSeq === lastSeq && a.lastReadSeq < lastReadSeq)) {
      return { room: this.merged(stored, latest ?? null, this.pending.get(a.roomId)?.pos ?? stored.pos), notifications: [] };
    }
    if (a.notifications.length === 0 && this.sameAs(stored, latest ?? null, a)) {
      // Nothing changed (a refresh, or a summary repeated): no new position, no write.
      return { room: this.merged(stored, latest ?? null, this.pending.get(a.roomId)?.pos ?? stored.pos), notifications: [] };
    }
    const pos = this.bump(a.notifications.length === 0);
    if (a.notifications.length === 0) {
      const wasEmpty = this.pending.size === 0;
      this.pending.set(a.roomId, { a, pos });
      if (wasEmpty) this.onPending();
      return { room: this.merged(stored, a, pos), notifications: [] };
    }
    // Notifications are what an offline person must find later: written at once.
    this.pending.delete(a.roomId);
    return this.storage.transactionSync(() => {
      // The row was read above in this same synchronous step: it is there.
      const row = this.writeActivity(a, pos)!;
      const notes: Notification[] = [];
      for (const n of a.notifications) {
        const inserted = this.db.insert(schema.notifications).values(n).onConflictDoNothing().returning().get();
        if (inserted) notes.push(inserted as Notification);
      }
      return { room: fromRawRoom(row), notifications: notes };
    });
  }

  /** Does `a` say what the inbox already has (stored, or the newer summary waiting to be written)? */
  private sameAs(stored: RawRoomRow, latest: RoomActivity | null, a: RoomActivity): boolean {
    const now = latest ?? fromRawRoom(stored);
    if (now.lastSeq !== a.lastSeq || now.lastReadSeq !== a.lastReadSeq || now.unread !== a.unread || now.mentions !== a.mentions) return false;
    const x = now.lastMessage;
    const y = a.lastMessage;
    if (!x || !y) return x === y;
    return x.id === y.id && x.deleted === y.deleted && x.preview === y.preview;
  }

  private merged(stored: RawRoomRow, a: RoomActivity | null, pos: number): InboxRoom {
    const room = fromRawRoom(stored);
    if (!a) return room;
    return { ...room, lastSeq: a.lastSeq, lastReadSeq: a.lastReadSeq, unread: a.unread, mentions: a.mentions, lastMessage: a.lastMessage, pos };
  }

  changedSince(pos: number): { rooms: InboxRoom[]; removed: string[] } {
    this.flushPending();
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
    this.flushPending();
    return this.storage.sql
      .exec<{ n: number }>("SELECT count(*) AS n FROM notifications n JOIN rooms r ON r.room_id = n.room_id WHERE n.seq > r.last_read_seq")
      .one().n;
  }

  /** Keep the notification list bounded (the newest 1000). */
  trimNotifications(): void {
    this.storage.sql.exec("DELETE FROM notifications WHERE id <= (SELECT id FROM notifications ORDER BY id DESC LIMIT 1 OFFSET 1000)");
  }
}

type RawRoomRow = {
  room_id: string;
  name: string;
  kind: RoomRow["kind"];
  visibility: RoomRow["visibility"];
  role: RoomRow["role"];
  joined_at: number;
  peer_id: string | null;
  last_seq: number;
  last_read_seq: number;
  unread: number;
  mentions: number;
  last_message: string | null;
  pos: number;
  muted: number;
};

function fromRawRoom(r: RawRoomRow): InboxRoom {
  return toInboxRoom({
    roomId: r.room_id,
    name: r.name,
    kind: r.kind,
    visibility: r.visibility,
    role: r.role,
    joinedAt: r.joined_at,
    peerId: r.peer_id,
    lastSeq: r.last_seq,
    lastReadSeq: r.last_read_seq,
    unread: r.unread,
    mentions: r.mentions,
    lastMessage: r.last_message,
    pos: r.pos,
    muted: !!r.muted,
  });
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
    muted: r.muted,
  };
}
