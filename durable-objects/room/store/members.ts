/** The `members` table: who is in the room, their role, and their read position. */
import { asc, eq } from "drizzle-orm";
import * as schema from "../schema";
import type { Member, Role } from "../../../protocol/models";
import type { RoomDb } from "./room-store";

export type MemberRow = typeof schema.members.$inferSelect;

export class MemberStore {
  constructor(private readonly db: RoomDb) {}

  /** Everyone, longest-standing first (an owner who leaves hands the room on in this order). */
  all(): MemberRow[] {
    return this.db.select().from(schema.members).orderBy(asc(schema.members.joinedAt)).all();
  }

  upsert(m: Member): void {
    this.db
      .insert(schema.members)
      .values(m)
      .onConflictDoUpdate({ target: schema.members.userId, set: { role: m.role, username: m.username, displayName: m.displayName } })
      .run();
  }

  setRole(userId: string, role: Role): void {
    this.db.update(schema.members).set({ role }).where(eq(schema.members.userId, userId)).run();
  }

  delete(userId: string): void {
    this.db.delete(schema.members).where(eq(schema.members.userId, userId)).run();
  }

  setLastRead(userId: string, seq: number, sendReceipts: boolean): void {
    this.db.update(schema.members).set({ lastReadSeq: seq, sendReceipts }).where(eq(schema.members.userId, userId)).run();
  }
}
