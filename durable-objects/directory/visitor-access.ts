/**
 * Who a visitor is and when their session here ends: the account of another
 * node a sign-in here names (as the replicated directory knows it,
 * replication.ts), a visitor session looked up against that account's state,
 * and ending sessions with their sockets in this node's rooms and mirrors.
 * visitors.ts keeps the sessions' rows.
 */
import { eq } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { User } from "../../protocol/models";
import type { Env } from "../shared/env";
import { storedRoom } from "../shared/objects";
import type { Accounts } from "./accounts";
import { remoteUsersById } from "./replication";
import * as schema from "./schema";
import type { Visitors, VisitorSession } from "./visitors";

export class VisitorAccess {
  constructor(
    private readonly db: DrizzleSqliteDODatabase<typeof schema>,
    private readonly env: Env,
    private readonly accounts: Accounts,
    private readonly visitors: Visitors,
  ) {}

  /**
   * The account of another node a sign-in here names: `username` as the
   * replicated directory knows it (usernames are unique across the organisation),
   * or `username@node` to pick one when two branches made the same name while
   * cut off from each other. Null when unknown, ambiguous, deactivated, or a
   * username of this node's own (which is signed in here as always).
   */
  account(login: string): User | null {
    const at = login.lastIndexOf("@");
    const username = (at > 0 ? login.slice(0, at) : login).toLowerCase();
    const node = at > 0 ? login.slice(at + 1) : null;
    // This node's own account of that name wins: every node has its own `admin`, and a name made
    // twice during a cut is reached at its home with `name@node`.
    if (node === null && this.accounts.byUsername(username)) return null;
    if (node === this.env.NODE_NAME) return null;
    const rows = this.db.select().from(schema.remoteUsers).where(eq(schema.remoteUsers.username, username)).all().filter((r) => r.active && (node === null || r.homeNode === node));
    if (rows.length !== 1) return null;
    return { id: rows[0].id, username: rows[0].username, displayName: rows[0].displayName, isAdmin: rows[0].isAdmin, active: true };
  }

  /** A live visitor session by its secret's hash (the account still active as replicated), or null. */
  async session(secretHash: string): Promise<VisitorSession | null> {
    const row = this.visitors.get(secretHash);
    if (!row) return null;
    const user = remoteUsersById(this.db, [row.userId])[0];
    if (user && !user.active) {
      await this.end({ secretHash }, "account deactivated");
      return null;
    }
    return row;
  }

  /** End visitor sessions here and close their sockets in this node's rooms and mirrors. */
  async end(which: { secretHash?: string; userIds?: string[]; sessionId?: string }, reason: string): Promise<number> {
    const ended = this.visitors.end(which);
    await Promise.allSettled(ended.flatMap((s) => s.rooms.map((roomId) => storedRoom(this.env, roomId).closeSessions([s.sessionId], reason))));
    return ended.length;
  }
}
