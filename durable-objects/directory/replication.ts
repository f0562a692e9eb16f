/**
 * Every node knows every account of the organisation.
 *
 * Each node keeps a feed of its own accounts: every change others should learn
 * (an account created, renamed, deactivated or reactivated, made admin, a new avatar) moves
 * the account to the feed's end (`users.version` from the `dir_version`
 * counter, in the same transaction as the change). The other nodes pull the
 * feed over their link (`GET /link/v1/directory/users?after=V`) whenever a
 * heartbeat says the position moved, and keep what they learn in
 * `remote_users`: enough for the people picker, DMs, invites and @mentions
 * across branches. Pull, not push: a node that was cut off for a day simply
 * reads on from where it stopped, and a node never has to remember who has
 * heard what.
 *
 * A node speaks only for its own accounts: rows whose id names another home
 * than the node that sent them are ignored.
 */
import { containsText } from "./contains";
import { and, asc, eq, gt, inArray, or } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { homeNode } from "../../protocol/ids";
import type { User } from "../../protocol/models";
import * as schema from "./schema";

type Db = DrizzleSqliteDODatabase<typeof schema>;

/** One account in the feed, as another node receives it. */
export interface FeedUser {
  id: string;
  username: string;
  displayName: string;
  isAdmin: boolean;
  active: boolean;
  version: number;
  /** the avatar's hash; absent from nodes that predate avatars */
  avatar?: string | null;
}

export const FEED_PAGE = 500;

const PEER_PREFIX = "peer_dir_version:";

/** The feed's position now (0 for a node with no accounts yet). */
export function feedVersion(db: Db): number {
  const row = db.select().from(schema.settings).where(eq(schema.settings.key, "dir_version")).get();
  return row ? Number(row.value) : 0;
}

/** Move a local account to the end of the feed (call inside the change's transaction). */
export function touchUser(db: Db, userId: string): void {
  const next = feedVersion(db) + 1;
  db.insert(schema.settings).values({ key: "dir_version", value: String(next) }).onConflictDoUpdate({ target: schema.settings.key, set: { value: String(next) } }).run();
  db.update(schema.users).set({ version: next }).where(eq(schema.users.id, userId)).run();
}

/** The local accounts that changed after `after`, in feed order. */
export function feedPage(db: Db, after: number, limit = FEED_PAGE): { users: FeedUser[]; version: number; more: boolean } {
  const u = schema.users;
  const rows = db
    .select({ id: u.id, username: u.username, displayName: u.displayName, isAdmin: u.isAdmin, active: u.active, version: u.version, avatar: u.avatar })
    .from(u)
    .where(gt(u.version, after))
    .orderBy(asc(u.version))
    .limit(limit + 1)
    .all();
  const more = rows.length > limit;
  const users = rows.slice(0, limit);
  return { users, version: users.length ? users[users.length - 1].version : feedVersion(db), more };
}

/** How far this node has read `node`'s feed. */
export function peerFeedPosition(db: Db, node: string): number {
  const row = db.select().from(schema.settings).where(eq(schema.settings.key, PEER_PREFIX + node)).get();
  return row ? Number(row.value) : 0;
}

/**
 * Keep what `node` said about its accounts, and how far we have read. Returns
 * the accounts that were deactivated by this page (their sessions on this node
 * must end).
 */
export function applyFeedPage(db: Db, node: string, users: FeedUser[], upTo: number): string[] {
  const deactivated: string[] = [];
  for (const user of users) {
    if (homeNode(user.id) !== node) continue; // a node speaks only for its own accounts
    const before = db.select({ active: schema.remoteUsers.active }).from(schema.remoteUsers).where(eq(schema.remoteUsers.id, user.id)).get();
    if (before?.active && !user.active) deactivated.push(user.id);
    const row = { id: user.id, username: user.username, displayName: user.displayName, homeNode: node, isAdmin: user.isAdmin, active: user.active, version: user.version, avatar: user.avatar ?? null };
    db.insert(schema.remoteUsers).values(row).onConflictDoUpdate({ target: schema.remoteUsers.id, set: row }).run();
  }
  const value = String(Math.max(upTo, peerFeedPosition(db, node)));
  db.insert(schema.settings).values({ key: PEER_PREFIX + node, value }).onConflictDoUpdate({ target: schema.settings.key, set: { value } }).run();
  return deactivated;
}

// `avatar`: its bytes stay at the person's home node; this node serves them through the link
// (worker/avatars.ts).
const toUser = (r: typeof schema.remoteUsers.$inferSelect): User => ({ id: r.id, username: r.username, displayName: r.displayName, isAdmin: r.isAdmin, active: r.active, ...(r.avatar ? { avatar: r.avatar } : {}) });

export function remoteUsersById(db: Db, ids: string[]): User[] {
  if (ids.length === 0) return [];
  return db.select().from(schema.remoteUsers).where(inArray(schema.remoteUsers.id, ids)).all().map(toUser);
}

/** Active accounts of other nodes whose username or display name contains `q`. */
export function searchRemoteUsers(db: Db, q: string, limit: number): User[] {
  const r = schema.remoteUsers;
  const where = q ? and(eq(r.active, true), or(containsText(r.username, q), containsText(r.displayName, q))) : eq(r.active, true);
  return db.select().from(r).where(where).orderBy(asc(r.username)).limit(limit).all().map(toUser);
}

/** Is `username` used by an account of another node (so a new local account must not take it)? */
export function remoteUsernameTaken(db: Db, username: string): boolean {
  return !!db.select({ id: schema.remoteUsers.id }).from(schema.remoteUsers).where(eq(schema.remoteUsers.username, username)).get();
}
