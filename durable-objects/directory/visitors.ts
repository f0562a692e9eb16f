/**
 * Visitors: people of other nodes who signed in at this one (their home node
 * checked the password over the link and issued the session: see
 * worker/visitors/). This node keeps the session's hash so it can authenticate
 * it on its own — while the link to the home is cut, a visitor keeps chatting
 * in the rooms this node serves — and the rooms where it opened sockets, so
 * that ending it closes them.
 *
 * A visitor session ends here when the home says so: the account deactivated
 * (the replicated directory, within a heartbeat or two), the session refused by
 * the home (signed out there, a password change, revoked by an admin: seen at
 * the next check, at most VISITOR_CHECK_MS after its last one while it is in
 * use), or its own expiry.
 */
import { and, eq, inArray, lt } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import * as schema from "./schema";

type Db = DrizzleSqliteDODatabase<typeof schema>;
export type VisitorSession = typeof schema.visitorSessions.$inferSelect;

/** How often, at most, a visitor session in use is confirmed with its home (while the link is up). */
export const VISITOR_CHECK_MS = 15_000;
/** Rooms with sockets remembered per session: beyond this the oldest are forgotten (and their sockets close with the room's own checks). */
const MAX_ROOMS = 200;

export class Visitors {
  constructor(
    private readonly db: Db,
    private readonly transaction: <T>(fn: () => T) => T,
  ) {}

  add(row: Omit<VisitorSession, "rooms" | "checkedAt">): void {
    const now = Date.now();
    // Expired rows of anyone go on every sign-in: the table holds live sessions only.
    this.db.delete(schema.visitorSessions).where(lt(schema.visitorSessions.expiresAt, now)).run();
    this.db.insert(schema.visitorSessions).values({ ...row, checkedAt: now, rooms: "[]" }).onConflictDoNothing().run();
  }

  /** The live session with this secret hash, or null (an expired one is deleted). */
  get(secretHash: string): VisitorSession | null {
    const row = this.db.select().from(schema.visitorSessions).where(eq(schema.visitorSessions.secretHash, secretHash)).get();
    if (!row) return null;
    if (row.expiresAt <= Date.now()) {
      this.db.delete(schema.visitorSessions).where(eq(schema.visitorSessions.secretHash, secretHash)).run();
      return null;
    }
    return row;
  }

  checked(secretHash: string): void {
    this.db.update(schema.visitorSessions).set({ checkedAt: Date.now() }).where(eq(schema.visitorSessions.secretHash, secretHash)).run();
  }

  /** Remember that the session opened a socket in `roomId` (a room or mirror of this node). */
  addRoom(secretHash: string, roomId: string): void {
    const row = this.get(secretHash);
    if (!row) return;
    const rooms = JSON.parse(row.rooms) as string[];
    if (rooms.includes(roomId)) return;
    rooms.push(roomId);
    this.db.update(schema.visitorSessions).set({ rooms: JSON.stringify(rooms.slice(-MAX_ROOMS)) }).where(eq(schema.visitorSessions.secretHash, secretHash)).run();
  }

  /** Delete sessions (by secret hash, or every session of some users); returns what ended, for closing their sockets. */
  end(which: { secretHash?: string; userIds?: string[]; sessionId?: string }): { userId: string; sessionId: string; rooms: string[] }[] {
    const t = schema.visitorSessions;
    const where = which.secretHash
      ? eq(t.secretHash, which.secretHash)
      : which.sessionId && which.userIds?.length === 1
        ? and(eq(t.userId, which.userIds[0]), eq(t.sessionId, which.sessionId))
        : which.userIds?.length
          ? inArray(t.userId, which.userIds.slice(0, 90))
          : null;
    if (!where) return [];
    return this.transaction(() => {
      const rows = this.db.select().from(t).where(where).all();
      this.db.delete(t).where(where).run();
      return rows.map((r) => ({ userId: r.userId, sessionId: r.sessionId, rooms: JSON.parse(r.rooms) as string[] }));
    });
  }
}
