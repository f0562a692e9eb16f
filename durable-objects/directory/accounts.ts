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
  ) {}

  /** A new account under a fresh id; a username already taken (in any case) is refused. */
  insert(input: NewAccount): User {
    const username = input.username.toLowerCase();
    if (this.byUsername(username)) throw new AppError("username_taken", `the username "${username}" is taken`);
    const row: UserRow = { id: newId("u", this.nodeName), username, displayName: input.displayName, passwordHash: input.passwordHash, isAdmin: input.isAdmin, active: true, createdAt: Date.now() };
    this.db.insert(schema.users).values(row).run();
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

  /** Accounts by id, the first 500 of `ids`. */
  many(ids: string[]): User[] {
    const out: User[] = [];
    // SQLite in workerd binds at most 100 parameters per statement: look up in chunks.
    const wanted = ids.slice(0, 500);
    for (let i = 0; i < wanted.length; i += 90) {
      out.push(...this.db.select().from(schema.users).where(inArray(schema.users.id, wanted.slice(i, i + 90))).all().map(toUser));
    }
    return out;
  }

  /** Active users whose username or display name contains `q` (for invites and new DMs). */
  search(q: string, limit: number): User[] {
    const pattern = `%${q.replace(/[\\%_]/g, (c) => "\\" + c)}%`;
    const u = schema.users;
    const where = q ? and(eq(u.active, true), or(like(u.username, pattern), like(u.displayName, pattern))) : eq(u.active, true);
    return this.db.select().from(u).where(where).orderBy(asc(u.username)).limit(Math.min(limit, 100)).all().map(toUser);
  }

  /** Deactivate or reactivate; the account as it is now. */
  setActive(id: string, active: boolean): User {
    const row = this.byId(id);
    if (!row) throw new AppError("not_found", "no such user");
    this.db.update(schema.users).set({ active }).where(eq(schema.users.id, id)).run();
    return toUser({ ...row, active });
  }

  setPasswordHash(id: string, passwordHash: string): void {
    this.db.update(schema.users).set({ passwordHash }).where(eq(schema.users.id, id)).run();
  }
}

export function toUser(row: UserRow): User {
  return { id: row.id, username: row.username, displayName: row.displayName, isAdmin: row.isAdmin, active: row.active };
}
