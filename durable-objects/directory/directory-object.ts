/**
 * DirectoryObject: one per node (named "directory"). Accounts and their
 * password hashes, the room directory (public rooms, one DM per pair), login
 * throttling and first-run setup. It is not on the message path: messages go
 * straight to rooms and sessions are checked in each user's own object.
 */
import { DurableObject } from "cloudflare:workers";
import { and, asc, eq, inArray, like, or, sql } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { Env } from "../shared/env";
import * as schema from "./schema";
import migrations from "./migrations/migrations.js";
import { ensureSchema, openDb } from "../shared/database";
import { AppError, rateLimited } from "../shared/app-error";
import { limitsOf } from "../shared/env";
import { foldName, pagePublicRooms, type PublicRoomsPage } from "./public-rooms";
import { roomQuotaWaitMs } from "./room-quota";
import { hashPassword, weakPasswordReason } from "../shared/passwords";
import { timingSafeEqual } from "../shared/tokens";
import { DeviceTokens, newDeviceKey } from "./device-tokens";
import { newId } from "../../protocol/ids";
import { storedUser } from "../shared/objects";
import type { User } from "../../protocol/models";

type UserRow = typeof schema.users.$inferSelect;
type RoomRow = typeof schema.rooms.$inferSelect;

/**
 * Failed logins allowed per window: per username and per client address for
 * logins from unknown devices, per device for a device that signed in to the
 * account before (see device-tokens.ts).
 */
export const LOGIN_LIMITS = { windowMs: 15 * 60_000, perUser: 5, perAddress: 30, perDevice: 5 };

/** The settings row that holds the key device tokens are signed with. */
const DEVICE_KEY_SETTING = "device_token_key";

export class DirectoryObject extends DurableObject<Env> {
  private readonly db: DrizzleSqliteDODatabase<typeof schema>;
  private readonly devices = new DeviceTokens(() => this.deviceKey());

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.db = openDb(ctx.storage, schema);
    void ctx.blockConcurrencyWhile(async () => {
      await ensureSchema(this.db, migrations);
      this.foldOlderNames();
      await this.adminFromEnvironment();
    });
  }

  /** First start with OUTPOST_ADMIN_PASSWORD set: create `admin` with it. */
  private async adminFromEnvironment(): Promise<void> {
    const password = this.env.ADMIN_PASSWORD;
    if (!password || this.hasAdmin()) return;
    // npm start refuses a weak one before the node starts; this catches the other
    // ways in (npm run dev, a hand-written workerd config).
    const weak = weakPasswordReason(password, "admin");
    if (weak) {
      console.error(`OUTPOST_ADMIN_PASSWORD is too weak (${weak}): not creating the admin account`);
      return;
    }
    const existing = this.db.select().from(schema.users).where(eq(schema.users.username, "admin")).get();
    if (existing) return;
    await this.insertUser({ username: "admin", displayName: "Administrator", passwordHash: await hashPassword(password, limitsOf(this.env).passwordHashIterations), isAdmin: true });
    console.log("created the admin account from OUTPOST_ADMIN_PASSWORD");
  }

  /**
   * Rooms registered before names were stored folded for search (migration
   * 0001 adds the column empty): fold them, once — SQL's lower() would fold
   * ASCII only. A settings row records that it was done.
   */
  private foldOlderNames(): void {
    const done = "rooms.name_fold";
    if (this.db.select().from(schema.settings).where(eq(schema.settings.key, done)).get()) return;
    const r = schema.rooms;
    this.ctx.storage.transactionSync(() => {
      const rows = this.db.select({ id: r.id, name: r.name }).from(r).where(and(eq(r.nameFold, ""), sql`${r.name} <> ''`)).all();
      for (const row of rows) this.db.update(r).set({ nameFold: foldName(row.name) }).where(eq(r.id, row.id)).run();
      this.db.insert(schema.settings).values({ key: done, value: "1" }).run();
    });
  }

  private hasAdmin(): boolean {
    return !!this.db.select({ id: schema.users.id }).from(schema.users).where(eq(schema.users.isAdmin, true)).get();
  }

  // ---------------------------------------------------------------- setup

  async setupNeeded(): Promise<boolean> {
    return !this.hasAdmin();
  }

  /** Create the first admin with the one-time token `npm start` printed. */
  async setup(token: string, input: { username: string; passwordHash: string; displayName: string }): Promise<User> {
    if (this.hasAdmin()) throw new AppError("setup_done", "this node already has an administrator");
    const expected = this.env.SETUP_TOKEN;
    if (!expected || !timingSafeEqual(token, expected)) throw new AppError("setup_token_invalid", "the setup token is wrong; use the link the node printed at start");
    return this.insertUser({ ...input, isAdmin: true });
  }

  // ------------------------------------------------------------- accounts

  async createUser(input: { username: string; displayName: string; passwordHash: string; isAdmin: boolean }): Promise<User> {
    return this.insertUser(input);
  }

  private async insertUser(input: { username: string; displayName: string; passwordHash: string; isAdmin: boolean }): Promise<User> {
    const username = input.username.toLowerCase();
    if (this.db.select({ id: schema.users.id }).from(schema.users).where(eq(schema.users.username, username)).get()) {
      throw new AppError("username_taken", `the username "${username}" is taken`);
    }
    const row: UserRow = { id: newId("u", this.env.NODE_NAME), username, displayName: input.displayName, passwordHash: input.passwordHash, isAdmin: input.isAdmin, active: true, createdAt: Date.now() };
    this.db.insert(schema.users).values(row).run();
    const user = toUser(row);
    // The user's own object must know them before they can sign in.
    await this.userStub(user.id).provision({ userId: user.id, username: user.username, displayName: user.displayName, isAdmin: user.isAdmin, active: true });
    return user;
  }

  /**
   * Which of `ids` are registered rooms or users of this node. Every id from
   * outside is checked here before any object is touched for it (see
   * shared/objects.ts): a made-up id must not create an object's file.
   */
  async existingIds(ids: string[]): Promise<string[]> {
    const out: string[] = [];
    const wanted = ids.slice(0, 500);
    // SQLite in workerd binds at most 100 parameters per statement: look up in chunks.
    for (let i = 0; i < wanted.length; i += 90) {
      const chunk = wanted.slice(i, i + 90);
      const users = chunk.filter((id) => id.startsWith("u_"));
      const rooms = chunk.filter((id) => id.startsWith("r_"));
      if (users.length) out.push(...this.db.select({ id: schema.users.id }).from(schema.users).where(inArray(schema.users.id, users)).all().map((r) => r.id));
      if (rooms.length) out.push(...this.db.select({ id: schema.rooms.id }).from(schema.rooms).where(inArray(schema.rooms.id, rooms)).all().map((r) => r.id));
    }
    return out;
  }

  async getUser(id: string): Promise<User | null> {
    const row = this.db.select().from(schema.users).where(eq(schema.users.id, id)).get();
    return row ? toUser(row) : null;
  }

  async getUsers(ids: string[]): Promise<User[]> {
    const out: User[] = [];
    // SQLite in workerd binds at most 100 parameters per statement: look up in chunks.
    const wanted = ids.slice(0, 500);
    for (let i = 0; i < wanted.length; i += 90) {
      out.push(...this.db.select().from(schema.users).where(inArray(schema.users.id, wanted.slice(i, i + 90))).all().map(toUser));
    }
    return out;
  }

  /** Active users whose username or display name contains `q` (for invites and new DMs). */
  async searchUsers(q: string, limit = 20): Promise<User[]> {
    const pattern = `%${q.replace(/[\\%_]/g, (c) => "\\" + c)}%`;
    const u = schema.users;
    const where = q ? and(eq(u.active, true), or(like(u.username, pattern), like(u.displayName, pattern))) : eq(u.active, true);
    return this.db.select().from(u).where(where).orderBy(asc(u.username)).limit(Math.min(limit, 100)).all().map(toUser);
  }

  async deactivate(id: string): Promise<User> {
    const row = this.db.select().from(schema.users).where(eq(schema.users.id, id)).get();
    if (!row) throw new AppError("not_found", "no such user");
    this.db.update(schema.users).set({ active: false }).where(eq(schema.users.id, id)).run();
    const user = toUser({ ...row, active: false });
    // Ends every session and closes every socket of the user.
    await this.userStub(id).provision({ userId: id, username: user.username, displayName: user.displayName, isAdmin: user.isAdmin, active: false });
    return user;
  }

  async reactivate(id: string): Promise<User> {
    const row = this.db.select().from(schema.users).where(eq(schema.users.id, id)).get();
    if (!row) throw new AppError("not_found", "no such user");
    this.db.update(schema.users).set({ active: true }).where(eq(schema.users.id, id)).run();
    const user = toUser({ ...row, active: true });
    await this.userStub(id).provision({ userId: id, username: user.username, displayName: user.displayName, isAdmin: user.isAdmin, active: true });
    return user;
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    this.db.update(schema.users).set({ passwordHash }).where(eq(schema.users.id, id)).run();
  }

  // ------------------------------------------------------------ sign-in

  /**
   * Look up a login. Returns `retryAfter` (seconds) when it may not be tried
   * now; otherwise the account (or null) and `deviceId`: set when `deviceToken`
   * is a token this account was given at an earlier sign-in and that device is
   * not locked out. Such a login is judged by the device's own failures only,
   * so guessers elsewhere cannot lock the account's owner out. Any other login
   * (no token, a token of another account, a forged or locked-out one) counts
   * against the username and the client address, as before.
   */
  async loginLookup(
    username: string,
    address: string,
    deviceToken: string | null = null,
  ): Promise<{ retryAfter: number } | { user: User | null; passwordHash: string | null; deviceId: string | null }> {
    const now = Date.now();
    const row = this.db.select().from(schema.users).where(eq(schema.users.username, username.toLowerCase())).get();
    if (row && deviceToken) {
      const deviceId = await this.devices.verify(deviceToken, row.id);
      if (deviceId && this.lockedFor(`d:${deviceId}`, LOGIN_LIMITS.perDevice, now) === null) {
        return { user: toUser(row), passwordHash: row.passwordHash, deviceId };
      }
    }
    for (const [key, max] of throttleKeys(username, address)) {
      const retryAfter = this.lockedFor(key, max, now);
      if (retryAfter !== null) return { retryAfter };
    }
    return row ? { user: toUser(row), passwordHash: row.passwordHash, deviceId: null } : { user: null, passwordHash: null, deviceId: null };
  }

  /** Count a failed login: against its known device (`deviceId` from loginLookup), else its username and address. */
  async loginFailed(username: string, address: string, deviceId: string | null = null): Promise<void> {
    const now = Date.now();
    const keys = deviceId ? [`d:${deviceId}`] : throttleKeys(username, address).map(([key]) => key);
    for (const key of keys) {
      const t = schema.loginFailures;
      const row = this.db.select().from(t).where(eq(t.key, key)).get();
      if (!row || now - row.windowStart >= LOGIN_LIMITS.windowMs) {
        this.db.insert(t).values({ key, count: 1, windowStart: now }).onConflictDoUpdate({ target: t.key, set: { count: 1, windowStart: now } }).run();
      } else {
        this.db.update(t).set({ count: row.count + 1 }).where(eq(t.key, key)).run();
      }
    }
  }

  /**
   * A login succeeded: clear the failures it was judged by and return the
   * device token to hand back (the same device's, re-signed, or a new one).
   * A known device's success leaves the username's failures alone: they are
   * someone else's guesses, and clearing them would give the guesser a fresh
   * five every time the owner signs in.
   */
  async loginSucceeded(username: string, deviceId: string | null = null): Promise<string | null> {
    const row = this.db.select().from(schema.users).where(eq(schema.users.username, username.toLowerCase())).get();
    this.db.delete(schema.loginFailures).where(eq(schema.loginFailures.key, deviceId ? `d:${deviceId}` : `u:${username.toLowerCase()}`)).run();
    return row ? this.devices.issue(row.id, deviceId ?? undefined) : null;
  }

  /** A device token for a fresh sign-in that did not go through login (first-run setup). */
  async issueDeviceToken(userId: string): Promise<string> {
    return this.devices.issue(userId);
  }

  /** Seconds until `key` may try again, or null when it has fewer than `max` failures in the window. */
  private lockedFor(key: string, max: number, now: number): number | null {
    const row = this.db.select().from(schema.loginFailures).where(eq(schema.loginFailures.key, key)).get();
    if (row && now - row.windowStart < LOGIN_LIMITS.windowMs && row.count >= max) {
      return Math.ceil((row.windowStart + LOGIN_LIMITS.windowMs - now) / 1000);
    }
    return null;
  }

  /** The device-token signing key, made on first use. */
  private deviceKey(): string {
    const s = schema.settings;
    const found = this.db.select().from(s).where(eq(s.key, DEVICE_KEY_SETTING)).get();
    if (found) return found.value;
    const value = newDeviceKey();
    this.db.insert(s).values({ key: DEVICE_KEY_SETTING, value }).run();
    return value;
  }

  // ---------------------------------------------------------------- rooms

  /**
   * Record a new group room, within its creator's room quota (room-quota.ts;
   * `quotaExempt` for admins). Refused: nothing is written, and the answer
   * says when the creator may try again.
   */
  async registerRoom(room: Omit<RoomRow, "dmKey" | "createdAt" | "nameFold">, options: { quotaExempt?: boolean } = {}): Promise<void> {
    const now = Date.now();
    const perDay = limitsOf(this.env).roomsPerUserPerDay;
    const wait = options.quotaExempt ? 0 : roomQuotaWaitMs(this.db, room.createdBy, perDay, now);
    if (wait > 0) throw rateLimited(`at most ${perDay} new rooms a day per person; the next one is possible in ${Math.ceil(wait / 60_000)} minutes`, wait);
    this.db.insert(schema.rooms).values({ ...room, nameFold: foldName(room.name), dmKey: null, createdAt: now }).run();
  }

  /** The DM room id for a pair: the existing one, or `candidate` newly reserved. */
  async dmRoomFor(a: string, b: string, candidate: string): Promise<{ roomId: string; created: boolean }> {
    const dmKey = [a, b].sort().join("|");
    const existing = this.db.select().from(schema.rooms).where(eq(schema.rooms.dmKey, dmKey)).get();
    if (existing) return { roomId: existing.id, created: false };
    this.db.insert(schema.rooms).values({ id: candidate, name: "", kind: "dm", visibility: "private", dmKey, createdBy: a, createdAt: Date.now() }).run();
    return { roomId: candidate, created: true };
  }

  async getRoom(id: string): Promise<RoomRow | null> {
    return this.db.select().from(schema.rooms).where(eq(schema.rooms.id, id)).get() ?? null;
  }

  /** One page of the public room directory (public-rooms.ts); a cursor it did not give out is `invalid_request`. */
  async publicRooms(query: { q?: string; limit: number; cursor?: string }): Promise<PublicRoomsPage> {
    return pagePublicRooms(this.db, query);
  }

  async renameRoom(id: string, name: string): Promise<void> {
    this.db.update(schema.rooms).set({ name, nameFold: foldName(name) }).where(eq(schema.rooms.id, id)).run();
  }

  /** The user objects of accounts this directory holds (never an id from outside: see shared/objects.ts). */
  private userStub(id: string) {
    return storedUser(this.env, id);
  }
}

/**
 * Throttle buckets for a login. An "unknown" address (no trusted reverse proxy
 * in front, see ops/node-config.mjs) gets no bucket of its own: one shared
 * bucket would let anyone lock everyone out with 30 wrong passwords.
 */
function throttleKeys(username: string, address: string): [string, number][] {
  const keys: [string, number][] = [[`u:${username.toLowerCase()}`, LOGIN_LIMITS.perUser]];
  if (address !== "unknown") keys.push([`ip:${address}`, LOGIN_LIMITS.perAddress]);
  return keys;
}

function toUser(row: UserRow): User {
  return { id: row.id, username: row.username, displayName: row.displayName, isAdmin: row.isAdmin, active: row.active };
}
