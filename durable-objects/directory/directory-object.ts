/**
 * DirectoryObject: one per node (named "directory"). Accounts and their
 * password hashes (accounts.ts), the room directory (rooms-directory.ts:
 * public rooms, one DM per pair, the room quota), sign-in throttling
 * (sign-in-throttle.ts, device-tokens.ts) and first-run setup. It is not on
 * the message path: messages go straight to rooms and sessions are checked in
 * each user's own object.
 */
import { log } from "../shared/log";
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
import type { Account, Erasure, LegalHold, User } from "../../protocol/models";
import { homeNode } from "../../protocol/ids";
import { Accounts, toUser, type NewAccount } from "./accounts";
import { Invites } from "./invites";
import { applyFeedPage, feedPage, feedVersion, peerFeedPosition, remoteUsersById, type FeedUser } from "./replication";
import { RoomsDirectory, type NewRoom, type RoomRow } from "./rooms-directory";
import { deviceKey, LOGIN_LIMITS, SignInThrottle, throttleKeys, usernameKey } from "./sign-in-throttle";
import { auditObjectKey, recordAudit, type AuditEntry, type AuditRow } from "../shared/audit";
import { nodeKey } from "../shared/cluster";
import { AuditCopy, type Checkpoint } from "./audit-copy";
import { reportAuditCheckpoint } from "../shared/node-metrics";
import type { AuditPage, AuditQueryInput } from "../../protocol/audit";
import type { LinkErasureAnswer } from "../../protocol/cluster";
import { newStamps, readStamps, saveTaken } from "./ops-stamps";
import { configChange } from "./config-audit";
import { Compliance } from "./compliance";
import { Erasures, localRoomIds } from "./erasure";
import { ForeignErasures } from "./erasure-foreign";
import { nextErasureAlarm } from "./erasure-peers";
import type { RetentionDays, RetentionInputs } from "../room/retention";
import { Mfa, type MfaStatus } from "./mfa";
import { SsoIdentities } from "./sso-identities";
import { ssoAccount, type SsoClaims, type SsoPolicy } from "./sso-accounts";
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
  private readonly audit: AuditCopy;
  /** This object's own chain's key (its records go to the copy in the same transaction). */
  private readonly auditKey: string;
  /** retention default and legal holds (compliance.ts) */
  private readonly compliance: Compliance;
  private readonly erasures: Erasures;
  /** erasures of other nodes' people from this node's rooms, asked by their homes */
  private readonly foreignErasures: ForeignErasures;
  private readonly mfa: Mfa;
  private readonly sso: SsoIdentities;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.db = openDb(ctx.storage, schema);
    this.accounts = new Accounts(this.db, env.NODE_NAME, (fn) => ctx.storage.transactionSync(fn));
    this.rooms = new RoomsDirectory(this.db, ctx.storage);
    this.throttle = new SignInThrottle(this.db);
    this.invites = new Invites(this.db, (fn) => ctx.storage.transactionSync(fn));
    this.auditKey = auditObjectKey("DirectoryObject", ctx);
    this.audit = new AuditCopy(this.db, () => (env.NODE_PRIVATE_KEY ? nodeKey(env) : null));
    this.compliance = new Compliance(this.db, (fn) => ctx.storage.transactionSync(fn));
    this.erasures = new Erasures(
      this.db,
      env,
      this.accounts,
      this.compliance,
      (fn) => ctx.storage.transactionSync(fn),
      () => localRoomIds(this.db, env.NODE_NAME),
      (at) => this.armAlarmBy(at),
      (entry) => this.recordWithin(entry),
    );
    this.foreignErasures = new ForeignErasures(this.db, env, this.compliance, () => localRoomIds(this.db, env.NODE_NAME), (at) => this.armAlarmBy(at));
    this.mfa = new Mfa(this.db, (fn) => ctx.storage.transactionSync(fn));
    this.sso = new SsoIdentities(this.db);
    this.visitors = new Visitors(this.db, (fn) => ctx.storage.transactionSync(fn));
    void ctx.blockConcurrencyWhile(async () => {
      await ensureSchema(this.db, migrations);
      // GET /metrics shows the signed checkpoint's age from the directory's first wake on.
      reportAuditCheckpoint(this.audit.checkpoint()?.at);
      this.foldOlderNames();
      await this.adminFromEnvironment();
      // Backups and restores the ops tools stamped while the node was down (or before a restore's
      // first start): after the migrations, so the tables are there; a failure only delays them
      // to the next read of the trail.
      await this.takeOpsStamps().catch((err) => console.error("audit: reading the ops tools' stamps failed", err));
      // A node started with another configuration than last time: recorded (config-audit.ts).
      // Not fatal when it cannot be written (disk full): the state is saved with the record, so it is
      // recorded at the next start instead.
      try {
        const change = configChange(this.db, env);
        if (change) this.audited(change.save, () => [change.entry]);
      } catch (err) {
        console.error("audit: the configuration change could not be recorded now; it will be at the next start", err);
      }
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
      log("error", "admin.password_too_weak", { reason: weak });
      return;
    }
    if (this.accounts.byUsername("admin")) return;
    await this.insertUser({ username: "admin", displayName: "Administrator", passwordHash: await hashPassword(password, limitsOf(this.env).passwordHashIterations), isAdmin: true });
    log("info", "admin.created", { from: "OUTPOST_ADMIN_PASSWORD" });
  }

  /** Older rooms' names folded for search, once (rooms-directory.ts). */
  private foldOlderNames(): void {
    this.rooms.foldOlderNames();
  }

  // ---------------------------------------------------------------- audit

  /**
   * `fn` and its audit records in one transaction (fail closed): if a record
   * cannot be written, the action is rolled back and the caller gets the error.
   */
  private audited<T>(fn: () => T, entries: (result: T) => AuditEntry[]): T {
    let recorded = 0;
    const result = this.ctx.storage.transactionSync(() => {
      const r = fn();
      for (const e of entries(r)) {
        this.recordOwn(e);
        recorded++;
      }
      return r;
    });
    if (recorded) this.ctx.waitUntil(this.audit.sign());
    return result;
  }

  /** Append to the directory's own chain and its copy; call inside a transaction. */
  private recordOwn(entry: AuditEntry): void {
    const row = recordAudit(this.ctx.storage.sql, entry);
    this.audit.ingest(this.auditKey, "directory", [row]);
  }

  /**
   * `recordOwn` for a module that runs its own transaction (erasure.ts): call
   * inside it; the checkpoint is signed once the transaction has committed
   * (a microtask after it: transactionSync is synchronous), never over a head
   * that a rollback would take back.
   */
  private recordWithin(entry: AuditEntry): void {
    this.recordOwn(entry);
    this.ctx.waitUntil(Promise.resolve().then(() => this.audit.sign()));
  }

  /** Where the directory's copy of `object`'s chain ends (AuditFeed resumes after it). */
  async auditHeadOf(object: string): Promise<number> {
    return this.audit.headOf(object);
  }

  /** Records an object shipped (shared/audit.ts AuditFeed); the head now held. */
  async auditIngest(object: string, name: string, rows: AuditRow[]): Promise<number> {
    if (object === this.auditKey) return this.audit.headOf(object);
    const head = this.ctx.storage.transactionSync(() => this.audit.ingest(object, name, rows));
    await this.audit.sign();
    return head;
  }

  /** One page of the node-wide trail (GET /api/v1/admin/audit); backups stamped since the last look are recorded first. */
  async auditPage(q: AuditQueryInput): Promise<AuditPage> {
    await this.takeOpsStamps();
    return this.audit.page(q);
  }

  /** Record the ops tools' new stamps (directory/ops-stamps.ts); returns how many. */
  async takeOpsStamps(): Promise<number> {
    const text = await readStamps(this.env.FILES);
    if (text === null) return 0;
    // Read and recorded in one synchronous transaction: two calls racing cannot take a line twice.
    return this.audited(
      () => newStamps(this.db, text),
      ({ entries, taken }) => {
        saveTaken(this.db, taken);
        return entries;
      },
    ).entries.length;
  }

  /** The signed checkpoint as stored (tests; the verify tool reads the file). */
  async auditCheckpoint(): Promise<Checkpoint | null> {
    await this.audit.sign();
    return this.audit.checkpoint();
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
    return this.insertUser({ ...input, isAdmin: true }, "system");
  }

  // ------------------------------------------------------------- accounts

  async createUser(input: NewAccount, actor = "system"): Promise<User> {
    return this.insertUser(input, actor);
  }

  private async insertUser(input: NewAccount, actor = "system"): Promise<User> {
    const user = this.audited(
      () => this.accounts.insert(input),
      (u) => [{ actor, action: "user.created", userId: u.id, detail: { username: u.username, isAdmin: u.isAdmin } }],
    );
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
  async updateUser(id: string, change: { isAdmin?: boolean; displayName?: string }, actor = "system"): Promise<User> {
    const before = this.accounts.byId(id);
    const user = this.audited(
      () => this.accounts.update(id, change),
      (u): AuditEntry[] => [
        ...(before && before.isAdmin !== u.isAdmin ? [{ actor, action: "user.role_changed" as const, userId: id, detail: { isAdmin: u.isAdmin } }] : []),
        ...(before && before.displayName !== u.displayName ? [{ actor, action: "user.renamed" as const, userId: id, detail: { displayName: u.displayName.slice(0, 200) } }] : []),
      ],
    );
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
    const invite = await this.invites.issue(userId, createdBy);
    // Recorded after the invite row (issue awaits a hash): a failed record refuses the answer, so the
    // token never leaves the node unrecorded; the unused row expires in 7 days.
    this.audited(() => null, () => [{ actor: createdBy, action: "user.invited", userId, detail: { expiresAt: invite.expiresAt } }]);
    return invite;
  }

  /** Whose invite `token` is, or `invite_invalid` / `invite_used` / `invite_expired`. */
  async checkInvite(token: string): Promise<{ user: User; expiresAt: number }> {
    const { user, expiresAt } = await this.invites.check(token);
    return { user, expiresAt };
  }

  /** Use an invite: its account gets `passwordHash`, the link is used up. */
  async acceptInvite(token: string, passwordHash: string): Promise<User> {
    const user = await this.invites.accept(token, passwordHash, Date.now(), (userId) =>
      this.recordOwn({ actor: userId, action: "password.changed", userId, detail: { via: "invite" } }),
    );
    this.ctx.waitUntil(this.audit.sign());
    return user;
  }

  async deactivate(id: string, actor = "system"): Promise<User> {
    const user = this.audited(() => this.accounts.setActive(id, false), () => [{ actor, action: "user.deactivated", userId: id }]);
    // Ends every session and closes every socket of the user.
    await storedUser(this.env, id).provision({ userId: id, username: user.username, displayName: user.displayName, isAdmin: user.isAdmin, active: false });
    return user;
  }

  async reactivate(id: string, actor = "system"): Promise<User> {
    const user = this.audited(() => this.accounts.setActive(id, true), () => [{ actor, action: "user.reactivated", userId: id }]);
    await storedUser(this.env, id).provision({ userId: id, username: user.username, displayName: user.displayName, isAdmin: user.isAdmin, active: true });
    return user;
  }

  /** A password set (by its owner or an administrator): open invite links of the account end. */
  async setPasswordHash(id: string, passwordHash: string, actor = "system"): Promise<void> {
    this.audited(
      () => {
        this.accounts.setPasswordHash(id, passwordHash);
        this.invites.endFor(id);
      },
      () => [{ actor, action: "password.changed", userId: id, detail: { by: actor === id ? "self" : "admin" } }],
    );
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
    const account = this.accounts.byUsername(username);
    // The attempted username is kept (bounded by LoginBody), the password never; the address as the proxy reported it.
    this.audited(
      () => this.throttle.failed(deviceId ? [deviceKey(deviceId)] : throttleKeys(username, address).map(([key]) => key), Date.now()),
      () => [{ actor: "anonymous", action: "auth.signin_failed", userId: account?.id ?? null, detail: { username: username.slice(0, 64), address: address.slice(0, 64), knownDevice: deviceId !== null } }],
    );
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

  // ------------------------------------------- two-factor sign-in (mfa.ts)

  async mfaStatus(userId: string): Promise<MfaStatus> {
    return this.mfa.status(userId);
  }

  async mfaBegin(userId: string): Promise<string> {
    return this.mfa.begin(userId, Date.now());
  }

  async mfaConfirm(userId: string, code: string): Promise<string[]> {
    const codes = await this.mfa.confirm(userId, code, Date.now(), () => this.recordOwn({ actor: userId, action: "mfa.enrolled", userId }));
    this.ctx.waitUntil(this.audit.sign());
    return codes;
  }

  /** `actor`: the person themselves, or the administrator who reset their second factor. */
  async mfaDisable(userId: string, actor: string): Promise<void> {
    this.mfa.disable(userId, () => this.recordOwn({ actor, action: "mfa.removed", userId, detail: { by: actor === userId ? "self" : "admin" } }));
    this.ctx.waitUntil(this.audit.sign());
  }

  /**
   * After a right password: the second step's challenge when the account has
   * 2FA on (the failures the password step was judged by are not cleared until
   * the code is right), else null and the sign-in goes on as before.
   */
  async mfaChallengeFor(user: { id: string; username: string }, deviceId: string | null): Promise<{ challenge: string; expiresAt: number } | null> {
    if (!this.mfa.enabled(user.id)) return null;
    return this.mfa.issueChallenge(user, deviceId, Date.now());
  }

  /**
   * The second step: a code (or recovery code) for a challenge. Wrong codes
   * count against the same buckets as wrong passwords (the device's, else the
   * username's and the address's); the challenge ends after a few. Right: the
   * sign-in succeeds as loginSucceeded would.
   */
  async completeMfaLogin(challenge: string, code: string, address: string): Promise<{ user: User; deviceToken: string | null }> {
    const now = Date.now();
    const row = await this.mfa.challenge(challenge, now);
    if (!row) throw new AppError("mfa_challenge_invalid", "this sign-in has expired or was used up: sign in again with your password");
    const keys = row.deviceId ? [[deviceKey(row.deviceId), LOGIN_LIMITS.perDevice] as [string, number]] : throttleKeys(row.username, address);
    const retryAfter = this.throttle.firstLock(keys, now);
    if (retryAfter !== null) throw new AppError("rate_limited", "too many failed sign-ins; wait and try again", retryAfter);
    if (!(await this.mfa.verify(row.userId, code, now))) {
      this.audited(
        () => {
          this.mfa.failedAttempt(row.tokenHash);
          this.throttle.failed(keys.map(([key]) => key), now);
        },
        () => [{ actor: "anonymous", action: "auth.signin_failed", userId: row.userId, detail: { username: row.username, address: address.slice(0, 64), step: "mfa" } }],
      );
      throw new AppError("mfa_code_invalid", "the code is wrong or was already used");
    }
    this.mfa.endChallenge(row.tokenHash);
    const account = this.accounts.byId(row.userId);
    if (!account || !account.active) throw new AppError("unauthorized", "wrong username or password, or the account is deactivated");
    const deviceToken = await this.loginSucceeded(row.username, row.deviceId);
    return { user: toUser(account), deviceToken };
  }

  /** Check a second factor outside sign-in (turning 2FA off with a code instead of the password). */
  async mfaVerify(userId: string, code: string): Promise<boolean> {
    return this.mfa.verify(userId, code, Date.now());
  }

  // ------------------------------------------- single sign-on (sso-identities.ts, sso-accounts.ts)

  async ssoSaveState(state: string, nonce: string, verifier: string): Promise<void> {
    await this.sso.saveState(state, nonce, verifier, Date.now());
  }

  async ssoTakeState(state: string): Promise<{ nonce: string; verifier: string } | null> {
    return this.sso.takeState(state, Date.now());
  }

  /** The account a verified ID token's subject signs in to: linked, linked now, created, or refused (sso-accounts.ts). */
  async ssoSignIn(claims: SsoClaims, policy: SsoPolicy): Promise<{ user: User; created: boolean }> {
    const decision = ssoAccount(claims, policy, {
      linkedUser: (iss, sub) => this.sso.userFor(iss, sub),
      byId: (id) => this.accounts.byId(id),
      byUsername: (name) => this.accounts.byUsername(name),
      linkedToIssuer: (iss, id) => this.sso.linked(iss, id),
    });
    if (decision.kind === "create") {
      const user = await this.insertUser({ username: decision.username, displayName: decision.displayName, passwordHash: "", isAdmin: false }, `sso:${claims.issuer}`.slice(0, 200));
      this.sso.link(claims.issuer, claims.subject, user.id, Date.now());
      return { user, created: true };
    }
    if (decision.kind === "link") this.sso.link(claims.issuer, claims.subject, decision.row.id, Date.now());
    return { user: toUser(decision.row), created: false };
  }

  /** A single sign-on the node refused (audited like a failed password sign-in; `code` is the AppError code). */
  async ssoRefused(issuer: string, code: string): Promise<void> {
    this.audited(() => null, () => [{ actor: "anonymous", action: "auth.signin_failed", detail: { via: "sso", issuer: issuer.slice(0, 200), code } }]);
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

  /** This node's room ids after `after`, in order (rooms-directory.ts `idsAfter`). */
  async roomIdsAfter(after: string, limit: number): Promise<string[]> {
    return this.rooms.idsAfter(after, limit);
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

  // ------------------------------------ retention, legal holds, erasure

  async retentionDefault(): Promise<RetentionDays> {
    return this.compliance.defaultDays();
  }

  /**
   * The node's default retention. Every room of the node is told (and looks at
   * its messages at once); a room missed here (a crash) learns it at its next
   * daily look, when it asks retentionInputs.
   */
  async setRetentionDefault(days: RetentionDays, by: string): Promise<RetentionDays> {
    const before = this.compliance.defaultDays();
    // null in the detail is "forever", as in the API's body.
    this.audited(
      () => this.compliance.setDefault(days, by),
      () => [{ actor: by, action: "retention.changed", detail: { scope: "node", before, after: days } }],
    );
    const rooms = localRoomIds(this.db, this.env.NODE_NAME);
    for (let i = 0; i < rooms.length; i += 50) {
      await Promise.allSettled(rooms.slice(i, i + 50).map((id) => storedRoom(this.env, id).retentionDefaultChanged(days)));
    }
    return days;
  }

  /** What a room's retention run obeys: the default and the holds now (room/retention.ts). */
  async retentionInputs(roomId: string): Promise<RetentionInputs> {
    return this.compliance.inputsFor(roomId);
  }

  /** Is a message of `senderId` in `roomId` under a legal hold now (asked at each recall)? */
  async isHeld(roomId: string, senderId: string): Promise<boolean> {
    return this.compliance.isRoomHeld(roomId) || this.compliance.isUserHeld(senderId);
  }

  async holds(): Promise<LegalHold[]> {
    return this.compliance.holds();
  }

  /** A hold on a room of this node or on any person known here (their messages in this node's rooms). */
  async placeHold(target: { roomId: string } | { userId: string }, reason: string, by: string): Promise<LegalHold> {
    const known = "roomId" in target ? this.rooms.get(target.roomId) !== null && homeNode(target.roomId) === this.env.NODE_NAME : this.accounts.one(target.userId) !== null;
    if (!known) throw new AppError("not_found", "roomId" in target ? "no such room on this node" : "no such user");
    return this.audited(
      () => this.compliance.place(target, reason, by),
      (h) => [holdEntry("hold.placed", h, by)],
    );
  }

  async releaseHold(id: string, by: string): Promise<LegalHold> {
    return this.audited(
      () => this.compliance.release(id, by),
      (h) => [holdEntry("hold.released", h, by)],
    );
  }

  /**
   * Record a compliance export before it streams (worker/export/start.ts
   * awaits this before the answer exists). The RPC returns only once the
   * record is committed (the output gate holds the answer until the write is
   * on disk), so a failed record refuses the export before any byte leaves.
   */
  async recordExport(actor: string, target: { roomId: string } | { userId: string }, format: string): Promise<void> {
    const entry: AuditEntry =
      "roomId" in target
        ? { actor, action: "export.room", roomId: target.roomId, detail: { room: target.roomId, format } }
        : { actor, action: "export.user", userId: target.userId, detail: { user: target.userId, format } };
    this.audited(() => null, () => [entry]);
  }

  /** Erase a person of this node (erasure.ts): start, or resume, and finish. */
  async eraseUser(userId: string, by: string): Promise<Erasure> {
    return this.erasures.erase(userId, by);
  }

  /** An erasure job's state, null when there is none (admin.ts). */
  async erasureStatus(userId: string): Promise<Erasure | null> {
    return this.erasures.status(userId);
  }

  /** The home of `userId` (`from`, checked by link-erasures.ts) asks to erase them from this node's rooms. */
  async eraseForeignUser(userId: string, from: string, waitMs: number): Promise<LinkErasureAnswer> {
    return this.foreignErasures.request(userId, from, waitMs);
  }

  /**
   * Resumes erasure jobs a crash interrupted (armed when a job starts), and
   * asks again the other nodes an erasure still waits for (erasure-peers.ts:
   * at the earliest node due, with back-off).
   */
  override async alarm(): Promise<void> {
    const left = await this.erasures.resumeAll();
    const foreignLeft = await this.foreignErasures.resumeAll();
    if (left || foreignLeft) await this.ctx.storage.setAlarm(nextErasureAlarm(this.db, Date.now(), Date.now() + 60_000, foreignLeft));
  }

  /** Arm the alarm for `at` unless it is already due sooner (several erasure jobs share it). */
  private armAlarmBy(at: number): void {
    void this.ctx.storage.getAlarm().then((current) => (current === null || current > at ? this.ctx.storage.setAlarm(at) : undefined));
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

/**
 * A legal hold's record: its id, what it covers and the reason given (a case
 * or ticket reference). The reason is cut to 200 characters: the body allows
 * 500, and a record's detail is bounded (shared/audit.ts) — escaped control
 * characters could otherwise push it over and refuse the hold.
 */
function holdEntry(action: "hold.placed" | "hold.released", h: LegalHold, actor: string): AuditEntry {
  return {
    actor,
    action,
    ...(h.kind === "room" ? { roomId: h.targetId } : { userId: h.targetId }),
    detail: { hold: h.id, kind: h.kind, target: h.targetId, reason: h.reason.slice(0, 200) },
  };
}
