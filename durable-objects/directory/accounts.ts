/**
 * The node's accounts: usernames, display names, password hashes, admin and
 * active flags. The directory registers an account before the user's own
 * object is first touched (see shared/objects.ts).
 */
import { containsText } from "./contains";
import { and, asc, eq, gt, inArray, ne, or, sql } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { newId } from "../../protocol/ids";
import type { Account, User } from "../../protocol/models";
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
    const row: UserRow = { id: newId("u", this.nodeName), username, displayName: input.displayName, passwordHash: input.passwordHash, isAdmin: input.isAdmin, active: true, createdAt: Date.now(), version: 0, avatar: null };
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
    const u = schema.users;
    const where = q ? and(eq(u.active, true), or(containsText(u.username, q), containsText(u.displayName, q))) : eq(u.active, true);
    const max = Math.min(limit, 100);
    const local = this.db.select().from(u).where(where).orderBy(asc(u.username)).limit(max).all().map(toUser);
    // Colleagues of the other branches too, as their nodes last said.
    return [...local, ...searchRemoteUsers(this.db, q, max)].sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0)).slice(0, max);
  }

  /**
   * One page of this node's own accounts in every state, by username (unique,
   * so it is the cursor): for the administrators' people screen. Replicated
   * accounts of other nodes are administered at their home node.
   */
  page(query: { q?: string; limit: number; cursor?: string }): { accounts: Account[]; nextCursor: string | null } {
    const u = schema.users;
    const where = [];
    if (query.cursor) where.push(gt(u.username, query.cursor));
    // instr, not LIKE: no wildcard to escape in what an admin types ("a_b", "100%").
    // lower() folds ASCII only, which is what usernames are made of; CJK has no case.
    const q = query.q?.trim().toLowerCase();
    if (q) where.push(sql`(instr(${u.username}, ${q}) > 0 OR instr(lower(${u.displayName}), ${q}) > 0)`);
    const rows = this.db.select().from(u).where(and(...where)).orderBy(asc(u.username)).limit(query.limit + 1).all();
    const more = rows.length > query.limit;
    const page = more ? rows.slice(0, query.limit) : rows;
    return { accounts: page.map(toAccount), nextCursor: more ? page[page.length - 1].username : null };
  }

  /**
   * Refuse a change that would leave the node without an active administrator:
   * nobody could then create accounts or reset passwords short of editing the
   * database by hand.
   */
  private keepAnAdmin(row: UserRow): void {
    if (!row.isAdmin || !row.active) return;
    const u = schema.users;
    const other = this.db.select({ id: u.id }).from(u).where(and(eq(u.isAdmin, true), eq(u.active, true), ne(u.id, row.id))).get();
    if (!other) throw new AppError("last_admin", "this is the node's last active administrator: make someone else an administrator first");
  }

  /** Administrator or not, display name; the account as it is now. The last active admin keeps the flag. */
  update(id: string, change: { isAdmin?: boolean; displayName?: string }): User {
    const row = this.byId(id);
    if (!row) throw new AppError("not_found", "no such user");
    if (change.isAdmin === false) this.keepAnAdmin(row);
    const next = { ...row, ...(change.isAdmin === undefined ? {} : { isAdmin: change.isAdmin }), ...(change.displayName === undefined ? {} : { displayName: change.displayName }) };
    this.transaction(() => {
      this.db.update(schema.users).set({ isAdmin: next.isAdmin, displayName: next.displayName }).where(eq(schema.users.id, id)).run();
      touchUser(this.db, id);
    });
    return toUser(next);
  }

  /** Deactivate or reactivate; the account as it is now. The last active admin cannot be deactivated. */
  setActive(id: string, active: boolean): User {
    const row = this.byId(id);
    if (!row) throw new AppError("not_found", "no such user");
    if (!active) this.keepAnAdmin(row);
    this.transaction(() => {
      this.db.update(schema.users).set({ active }).where(eq(schema.users.id, id)).run();
      touchUser(this.db, id);
    });
    return toUser({ ...row, active });
  }

  /**
   * Set (a hash) or remove (null) the avatar; the account as it is now and the
   * hash it had before (so the caller can delete bytes nobody names any more).
   * Peers learn it from the feed like a rename.
   */
  setAvatar(id: string, avatar: string | null): { user: User; previous: string | null } {
    const row = this.byId(id);
    if (!row) throw new AppError("not_found", "no such user");
    if (row.avatar !== avatar) {
      this.transaction(() => {
        this.db.update(schema.users).set({ avatar }).where(eq(schema.users.id, id)).run();
        touchUser(this.db, id);
      });
    }
    return { user: toUser({ ...row, avatar }), previous: row.avatar };
  }

  /**
   * Erasure (directory/erasure.ts): the account keeps its id (messages and
   * member rows name it) but nothing of the person: placeholder username and
   * name, no avatar, no password, inactive, not an admin (the last active
   * admin cannot be erased: `last_admin`). Other nodes learn it from the feed.
   * Returns the avatar hash it had (its bytes are deleted by the caller).
   */
  anonymise(id: string, placeholder: { username: string; displayName: string }): { previousAvatar: string | null } {
    const row = this.byId(id);
    if (!row) throw new AppError("not_found", "no such user");
    this.keepAnAdmin(row);
    this.db
      .update(schema.users)
      .set({ username: placeholder.username, displayName: placeholder.displayName, avatar: null, passwordHash: "", active: false, isAdmin: false })
      .where(eq(schema.users.id, id))
      .run();
    touchUser(this.db, id);
    return { previousAvatar: row.avatar };
  }

  setPasswordHash(id: string, passwordHash: string): void {
    this.db.update(schema.users).set({ passwordHash }).where(eq(schema.users.id, id)).run();
  }
}

/** An account as administrators see it: `passwordSet` is false while it waits for an invite to be accepted. */
export function toAccount(row: UserRow): Account {
  return { ...toUser(row), createdAt: row.createdAt, passwordSet: row.passwordHash !== "" };
}

export function toUser(row: UserRow): User {
  // `avatar` only when there is one: answers stay as they were for people without.
  return { id: row.id, username: row.username, displayName: row.displayName, isAdmin: row.isAdmin, active: row.active, ...(row.avatar ? { avatar: row.avatar } : {}) };
}
