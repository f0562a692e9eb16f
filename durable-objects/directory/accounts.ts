/**
 * The node's accounts: usernames, display names, password hashes, admin and
 * active flags. The directory registers an account before the user's own
 * object is first touched (see shared/objects.ts).
 */
import { and, asc, eq, inArray, like, or } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { newId } from "../../protocol/ids";
import type { User } from "../../protocol/models";
import { AppError } from "../shared/app-error";
import * as schema from "./schema";
import { remoteUsernameTaken, remoteUsersById, searchRemoteUsers, touchUser } from "./replication";

export type UserRow = typeof schema.users.$inferSelect;

export interface NewAccount {
  username: string;
  displayName: string;
  passwordHash: string;
  isAdmin: boolean;
}

export class Accounts {
  constructor(
    private readonly db: DrizzleSqliteDODatabase<typeof schema>,
    private readonly nodeName: string,
    private readonly transaction: <T>(fn: () => T) => T,
  ) {}

  /**
   * A new account under a fresh id; a username already taken (in any case) is
   * refused — across the organisation, as far as this node has heard from the
   * others (usernames are what @mentions name). The account joins this node's
   * directory feed in the same transaction (replication.ts).
   */
  insert(input: NewAccount): User {
    const username = input.username.toLowerCase();
    if (this.byUsername(username) || remoteUsernameTaken(this.db, username)) throw new AppError("username_taken", `the username "${username}" is taken`);
    const row: UserRow = { id: newId("u", this.nodeName), username, displayName: input.displayName, passwordHash: input.passwordHash, isAdmin: input.isAdmin, active: true, createdAt: Date.now(), version: 0 };
    this.transaction(() => {
      this.db.insert(schema.users).values(row).run();
      touchUser(this.db, row.id);
    });
    return toUser(row);
  }

  hasAdmin(): boolean {
    return !!this.db.select({ id: schema.users.id }).from(schema.users).where(eq(schema.users.isAdmin, true)).get();
  }

  byUsername(username: string): UserRow | undefined {
    return this.db.select().from(schema.users).where(eq(schema.users.username, username.toLowerCase())).get();
  }

  byId(id: string): UserRow | undefined {
    return this.db.select().from(schema.users).where(eq(schema.users.id, id)).get();
  }

  /** Which of `ids` (at most 90: SQLite in workerd binds at most 100 parameters) are accounts. */
  existing(ids: string[]): string[] {
    return ids.length ? this.db.select({ id: schema.users.id }).from(schema.users).where(inArray(schema.users.id, ids)).all().map((r) => r.id) : [];
  }

  /** Accounts by id — this node's, and other nodes' as replicated — the first 500 of `ids`. */
  many(ids: string[]): User[] {
    const out: User[] = [];
    // SQLite in workerd binds at most 100 parameters per statement: look up in chunks.
    const wanted = ids.slice(0, 500);
    for (let i = 0; i < wanted.length; i += 90) {
      const chunk = wanted.slice(i, i + 90);
      const local = this.db.select().from(schema.users).where(inArray(schema.users.id, chunk)).all().map(toUser);
      const found = new Set(local.map((u) => u.id));
      out.push(...local, ...remoteUsersById(this.db, chunk.filter((id) => !found.has(id))));
    }
    return out;
  }

  /** An account of this node or, as replicated, of another node of the cluster. */
  one(id: string): User | null {
    const row = this.byId(id);
    return row ? toUser(row) : (remoteUsersById(this.db, [id])[0] ?? null);
  }

  /** Active users whose username or display name contains `q` (for invites and new DMs). */
  search(q: string, limit: number): User[] {
    const pattern = `%${q.replace(/[\\%_]/g, (c) => "\\" + c)}%`;
    const u = schema.users;
    const where = q ? and(eq(u.active, true), or(like(u.username, pattern), like(u.displayName, pattern))) : eq(u.active, true);
    const max = Math.min(limit, 100);
    const local = this.db.select().from(u).where(where).orderBy(asc(u.username)).limit(max).all().map(toUser);
    // Colleagues of the other branches too, as their nodes last said.
    return [...local, ...searchRemoteUsers(this.db, q, max)].sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0)).slice(0, max);
  }

  /** Deactivate or reactivate; the account as it is now. */
  setActive(id: string, active: boolean): User {
    const row = this.byId(id);
    if (!row) throw new AppError("not_found", "no such user");
    this.transaction(() => {
      this.db.update(schema.users).set({ active }).where(eq(schema.users.id, id)).run();
      touchUser(this.db, id);
    });
    return toUser({ ...row, active });
  }

  setPasswordHash(id: string, passwordHash: string): void {
    this.db.update(schema.users).set({ passwordHash }).where(eq(schema.users.id, id)).run();
  }
}

export function toUser(row: UserRow): User {
  return { id: row.id, username: row.username, displayName: row.displayName, isAdmin: row.isAdmin, active: row.active };
}
