/**
 * DirectoryObject: one per node (named "directory"). Accounts and their
 * password hashes (accounts.ts), the room directory (rooms-directory.ts:
 * public rooms, one DM per pair, the room quota), sign-in throttling
 * (sign-in-throttle.ts, device-tokens.ts) and first-run setup. It is not on
 * the message path: messages go straight to rooms and sessions are checked in
 * each user's own object.
 */
import { DurableObject } from "cloudflare:workers";
import { eq, inArray } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { Env } from "../shared/env";
import * as schema from "./schema";
import migrations from "./migrations/migrations.js";
import { ensureSchema, openDb } from "../shared/database";
import { AppError } from "../shared/app-error";
import { limitsOf } from "../shared/env";
import type { PublicRoomsPage } from "./public-rooms";
import { hashPassword, weakPasswordReason } from "../shared/passwords";
import { timingSafeEqual } from "../shared/bytes";
import { DeviceTokens, newDeviceKey } from "./device-tokens";
import { storedRoom, storedUser } from "../shared/objects";
import type { Account, User } from "../../protocol/models";
import { Accounts, toUser, type NewAccount } from "./accounts";
import { Invites } from "./invites";
import { applyFeedPage, feedPage, feedVersion, peerFeedPosition, remoteUsersById, type FeedUser } from "./replication";
import { RoomsDirectory, type NewRoom, type RoomRow } from "./rooms-directory";
import { deviceKey, LOGIN_LIMITS, SignInThrottle, throttleKeys, usernameKey } from "./sign-in-throttle";
import { Visitors, type VisitorSession } from "./visitors";

/** The settings row that holds the key device tokens are signed with. */
const DEVICE_KEY_SETTING = "device_token_key";

export class DirectoryObject extends DurableObject<Env> {
  private readonly db: DrizzleSqliteDODatabase<typeof schema>;
  private readonly accounts: Accounts;
  private readonly rooms: RoomsDirectory;
  private readonly throttle: SignInThrottle;
  private readonly invites: Invites;
  private readonly visitors: Visitors;
  private readonly devices = new DeviceTokens(() => this.deviceKey());

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.db = openDb(ctx.storage, schema);
    this.accounts = new Accounts(this.db, env.NODE_NAME, (fn) => ctx.storage.transactionSync(fn));
    this.rooms = new RoomsDirectory(this.db, ctx.storage);
    this.throttle = new SignInThrottle(this.db);
    this.invites = new Invites(this.db, (fn) => ctx.storage.transactionSync(fn));
    this.visitors = new Visitors(this.db, (fn) => ctx.storage.transactionSync(fn));
    void ctx.blockConcurrencyWhile(async () => {
      await ensureSchema(this.db, migrations);
      this.foldOlderNames();
      await this.adminFromEnvironment();
    });
  }

  /** First start with OUTPOST_ADMIN_PASSWORD set: create `admin` with it. */
  private async adminFromEnvironment(): Promise<void> {
    const password = this.env.ADMIN_PASSWORD;
    if (!password || this.accounts.hasAdmin()) return;
    // npm start refuses a weak one before the node starts; this catches the other
    // ways in (npm run dev, a hand-written workerd config).
    const weak = weakPasswordReason(password, "admin");
    if (weak) {
      console.error(`OUTPOST_ADMIN_PASSWORD is too weak (${weak}): not creating the admin account`);
      return;
    }
    if (this.accounts.byUsername("admin")) return;
    await this.insertUser({ username: "admin", displayName: "Administrator", passwordHash: await hashPassword(password, limitsOf(this.env).passwordHashIterations), isAdmin: true });
    console.log("created the admin account from OUTPOST_ADMIN_PASSWORD");
  }

  /** Older rooms' names folded for search, once (rooms-directory.ts). */
  private foldOlderNames(): void {
    this.rooms.foldOlderNames();
  }

  // ---------------------------------------------------------------- setup

  async setupNeeded(): Promise<boolean> {
    return !this.accounts.hasAdmin();
  }

  /** Create the first admin with the one-time token `npm start` printed. */
  async setup(token: string, input: { username: string; passwordHash: string; displayName: string }): Promise<User> {
    if (this.accounts.hasAdmin()) throw new AppError("setup_done", "this node already has an administrator");
    const expected = this.env.SETUP_TOKEN;
    if (!expected || !timingSafeEqual(token, expected)) throw new AppError("setup_token_invalid", "the setup token is wrong; use the link the node printed at start");
    return this.insertUser({ ...input, isAdmin: true });
  }

  // ------------------------------------------------------------- accounts

  async createUser(input: NewAccount): Promise<User> {
    return this.insertUser(input);
  }

  private async insertUser(input: NewAccount): Promise<User> {
    const user = this.accounts.insert(input);
    // The user's own object must know them before they can sign in.
    await storedUser(this.env, user.id).provision({ userId: user.id, username: user.username, displayName: user.displayName, isAdmin: user.isAdmin, active: true });
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
    for (let i = 0; i < wanted.length; i += 90) {
      const chunk = wanted.slice(i, i + 90);
      out.push(...this.accounts.existing(chunk.filter((id) => id.startsWith("u_"))));
      const rooms = chunk.filter((id) => id.startsWith("r_"));
      out.push(...this.rooms.existing(rooms));
      // Rooms of other nodes that have a mirror here.
      if (rooms.length) out.push(...this.db.select({ id: schema.mirrors.id }).from(schema.mirrors).where(inArray(schema.mirrors.id, rooms)).all().map((r) => r.id));
    }
    return out;
  }

  /** An account of this node or, as replicated, of another node of the cluster. */
  async getUser(id: string): Promise<User | null> {
    return this.accounts.one(id);
  }

  async getUsers(ids: string[]): Promise<User[]> {
    return this.accounts.many(ids);
  }

  async searchUsers(q: string, limit = 20): Promise<User[]> {
    return this.accounts.search(q, limit);
  }

  /** One page of this node's accounts in every state (admin screen). */
  async accountsPage(query: { q?: string; limit: number; cursor?: string }): Promise<{ accounts: Account[]; nextCursor: string | null }> {
    return this.accounts.page(query);
  }

  /** Admin flag or display name (the last active admin keeps the flag: `last_admin`); the user object hears of it. */
  async updateUser(id: string, change: { isAdmin?: boolean; displayName?: string }): Promise<User> {
    const user = this.accounts.update(id, change);
    await storedUser(this.env, id).provision({ userId: id, username: user.username, displayName: user.displayName, isAdmin: user.isAdmin, active: user.active });
    return user;
  }

  /** Set or remove (null) an account's avatar (worker/avatars.ts stores the bytes first). */
  async setAvatar(id: string, avatar: string | null): Promise<{ user: User; previous: string | null }> {
    return this.accounts.setAvatar(id, avatar);
  }

  /** A new one-time invite link for an account of this node (older ones end). */
  async issueInvite(userId: string, createdBy: string): Promise<{ token: string; expiresAt: number }> {
    if (!this.accounts.byId(userId)) throw new AppError("not_found", "no such user");
    return this.invites.issue(userId, createdBy);
  }

  /** Whose invite `token` is, or `invite_invalid` / `invite_used` / `invite_expired`. */
  async checkInvite(token: string): Promise<{ user: User; expiresAt: number }> {
    const { user, expiresAt } = await this.invites.check(token);
    return { user, expiresAt };
  }

  /** Use an invite: its account gets `passwordHash`, the link is used up. */
  async acceptInvite(token: string, passwordHash: string): Promise<User> {
    return this.invites.accept(token, passwordHash);
  }

  async deactivate(id: string): Promise<User> {
    const user = this.accounts.setActive(id, false);
    // Ends every session and closes every socket of the user.
    await storedUser(this.env, id).provision({ userId: id, username: user.username, displayName: user.displayName, isAdmin: user.isAdmin, active: false });
    return user;
  }

  async reactivate(id: string): Promise<User> {
    const user = this.accounts.setActive(id, true);
    await storedUser(this.env, id).provision({ userId: id, username: user.username, displayName: user.displayName, isAdmin: user.isAdmin, active: true });
    return user;
  }

  /** A password set (by its owner or an administrator): open invite links of the account end. */
  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      this.accounts.setPasswordHash(id, passwordHash);
      this.invites.endFor(id);
    });
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
    const row = this.accounts.byUsername(username);
    if (row && deviceToken) {
      const deviceId = await this.devices.verify(deviceToken, row.id);
      if (deviceId && this.throttle.lockedFor(deviceKey(deviceId), LOGIN_LIMITS.perDevice, now) === null) {
        return { user: toUser(row), passwordHash: row.passwordHash || null, deviceId };
      }
    }
    const retryAfter = this.throttle.firstLock(throttleKeys(username, address), now);
    if (retryAfter !== null) return { retryAfter };
    // "" is an account still waiting for its invite: checked against the dummy hash, like an unknown name.
    return row ? { user: toUser(row), passwordHash: row.passwordHash || null, deviceId: null } : { user: null, passwordHash: null, deviceId: null };
  }

  /** Count a failed login: against its known device (`deviceId` from loginLookup), else its username and address. */
  async loginFailed(username: string, address: string, deviceId: string | null = null): Promise<void> {
    this.throttle.failed(deviceId ? [deviceKey(deviceId)] : throttleKeys(username, address).map(([key]) => key), Date.now());
  }

  /**
   * A login succeeded: clear the failures it was judged by and return the
   * device token to hand back (the same device's, re-signed, or a new one).
   * A known device's success leaves the username's failures alone: they are
   * someone else's guesses, and clearing them would give the guesser a fresh
   * five every time the owner signs in.
   */
  async loginSucceeded(username: string, deviceId: string | null = null): Promise<string | null> {
    const row = this.accounts.byUsername(username);
    this.throttle.clear(deviceId ? deviceKey(deviceId) : usernameKey(username));
    return row ? this.devices.issue(row.id, deviceId ?? undefined) : null;
  }

  /** A device token for a fresh sign-in that did not go through login (first-run setup). */
  async issueDeviceToken(userId: string): Promise<string> {
    return this.devices.issue(userId);
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
  async registerRoom(room: NewRoom, options: { quotaExempt?: boolean } = {}): Promise<void> {
    this.rooms.register(room, limitsOf(this.env).roomsPerUserPerDay, !!options.quotaExempt);
  }

  /** The DM room id for a pair: the existing one, or `candidate` newly reserved. */
  async dmRoomFor(a: string, b: string, candidate: string): Promise<{ roomId: string; created: boolean }> {
    return this.rooms.dmFor(a, b, candidate);
  }

  async getRoom(id: string): Promise<RoomRow | null> {
    return this.rooms.get(id);
  }

  /** One page of the public room directory (public-rooms.ts); a cursor it did not give out is `invalid_request`. */
  async publicRooms(query: { q?: string; limit: number; cursor?: string }): Promise<PublicRoomsPage> {
    return this.rooms.publicPage(query);
  }

  async renameRoom(id: string, name: string): Promise<void> {
    this.rooms.rename(id, name);
  }

  /**
   * What the public directory shows of a room besides its name: its member
   * count (each room reports it after every change of members) and its topic.
   */
  async describeRoom(id: string, info: { memberCount?: number; topic?: string }): Promise<void> {
    this.rooms.describe(id, info);
  }

  /**
   * A room of another node now has a mirror here (its home pushed to us).
   * Idempotent. A DM also takes its pair's place here, so either person opening
   * a DM with the other from this node finds that one instead of making a second.
   */
  async registerMirror(roomId: string, dm: { members: string[]; createdBy: string; createdAt: number } | null): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      this.db.insert(schema.mirrors).values({ id: roomId, registeredAt: Date.now() }).onConflictDoNothing().run();
      if (dm && dm.members.length === 2) {
        const dmKey = [...dm.members].sort().join("|");
        this.db.insert(schema.rooms).values({ id: roomId, name: "", kind: "dm", visibility: "private", dmKey, createdBy: dm.createdBy, createdAt: dm.createdAt, nameFold: "" }).onConflictDoNothing().run();
      }
    });
  }

  // ------------------------------------------- the cluster's accounts (replication.ts)

  /** This node's feed position (other nodes pull when it moves). */
  async feedVersion(): Promise<number> {
    return feedVersion(this.db);
  }

  /** A page of this node's own accounts changed after `after`, for another node. */
  async feedPage(after: number): Promise<ReturnType<typeof feedPage>> {
    return feedPage(this.db, after);
  }

  async peerFeedPosition(node: string): Promise<number> {
    return peerFeedPosition(this.db, node);
  }

  /** Keep a page of `node`'s feed; returns the accounts it deactivated (their visitor sessions here end). */
  async applyFeedPage(node: string, users: FeedUser[], upTo: number): Promise<string[]> {
    const deactivated = this.ctx.storage.transactionSync(() => applyFeedPage(this.db, node, users, upTo));
    if (deactivated.length) await this.endVisitorSessions({ userIds: deactivated }, "account deactivated");
    return deactivated;
  }

  // ------------------------------------------ visitors: people of other nodes signed in here (visitors.ts)

  /**
   * The account of another node a sign-in here names: `username` as the
   * replicated directory knows it (usernames are unique across the organisation),
   * or `username@node` to pick one when two branches made the same name while
   * cut off from each other. Null when unknown, ambiguous, deactivated, or a
   * username of this node's own (which is signed in here as always).
   */
  async visitorAccount(login: string): Promise<User | null> {
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

  async addVisitorSession(row: Omit<VisitorSession, "rooms" | "checkedAt">): Promise<void> {
    this.visitors.add(row);
  }

  /** A live visitor session by its secret's hash (the account still active as replicated), or null. */
  async visitorSession(secretHash: string): Promise<VisitorSession | null> {
    const row = this.visitors.get(secretHash);
    if (!row) return null;
    const user = remoteUsersById(this.db, [row.userId])[0];
    if (user && !user.active) {
      await this.endVisitorSessions({ secretHash }, "account deactivated");
      return null;
    }
    return row;
  }

  async visitorChecked(secretHash: string): Promise<void> {
    this.visitors.checked(secretHash);
  }

  async visitorRoom(secretHash: string, roomId: string): Promise<void> {
    this.visitors.addRoom(secretHash, roomId);
  }

  /** End visitor sessions here and close their sockets in this node's rooms and mirrors. */
  async endVisitorSessions(which: { secretHash?: string; userIds?: string[]; sessionId?: string }, reason: string): Promise<number> {
    const ended = this.visitors.end(which);
    await Promise.allSettled(ended.flatMap((s) => s.rooms.map((roomId) => storedRoom(this.env, roomId).closeSessions([s.sessionId], reason))));
    return ended.length;
  }
}
