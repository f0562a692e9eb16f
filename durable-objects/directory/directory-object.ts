/**
 * DirectoryObject: one per node (named "directory"). It is not on the message
 * path: messages go straight to rooms and sessions are checked in each user's
 * own object.
 *
 * This class is only the object's lifecycle and its RPC methods (the Worker
 * and the other objects call them through stubs); each hands the work to the
 * module named after what it does:
 *   accounts.ts          accounts and password hashes (account-changes.ts: the audited changes; invites.ts)
 *   setup.ts             the first administrator
 *   sign-in.ts           sign-in: throttling, device tokens, the second factor (mfa.ts), single sign-on
 *   rooms-directory.ts   the room directory: public rooms, one DM per pair, the room quota, mirrors
 *   admin-rooms.ts       every room of the node for its administrators (named, searched, paged)
 *   compliance.ts        the retention default and legal holds (compliance-admin.ts: the audited actions)
 *   erasure.ts           erasure jobs (erasure-foreign.ts: other nodes' people erased from our rooms)
 *   replication.ts       the cluster's accounts; visitors.ts and visitor-access.ts: visitors signed in here
 *   directory-audit.ts   the directory's audited writes and the node-wide audit copy (audit-copy.ts)
 */
import { DurableObject } from "cloudflare:workers";
import { limitsOf, type Env } from "../shared/env";
import * as schema from "./schema";
import migrations from "./migrations/migrations.js";
import { ensureSchema, openDb } from "../shared/database";
import type { PublicRoomsPage } from "./public-rooms";
import type { Account, Erasure, LegalHold, User } from "../../protocol/models";
import { namedHolds, namesOf, type DirectoryNames } from "./admin-names";
import { pageAdminRooms } from "./admin-rooms";
import type { AdminRoomPage } from "../../protocol/admin-rooms";
import { Accounts, type NewAccount } from "./accounts";
import { AccountChanges } from "./account-changes";
import { Invites } from "./invites";
import { knownIds } from "./known-ids";
import { applyFeedPage, feedPage, feedVersion, peerFeedPosition, type FeedUser } from "./replication";
import { RoomsDirectory, type NewRoom, type RoomRow } from "./rooms-directory";
import type { AuditRow } from "../shared/audit";
import type { Checkpoint } from "./audit-copy";
import { DirectoryAudit } from "./directory-audit";
import { reportAuditCheckpoint } from "../shared/node-metrics";
import type { AuditPage, AuditQueryInput } from "../../protocol/audit";
import type { LinkErasureAnswer } from "../../protocol/cluster";
import { Compliance } from "./compliance";
import { ComplianceAdmin } from "./compliance-admin";
import { Erasures, localRoomIds } from "./erasure";
import { ForeignErasures } from "./erasure-foreign";
import { nextErasureAlarm } from "./erasure-peers";
import type { RetentionDays, RetentionInputs } from "../room/retention";
import { Mfa, type MfaStatus } from "./mfa";
import { adminFromEnvironment, setupAdmin } from "./setup";
import { SignIn } from "./sign-in";
import { SsoIdentities } from "./sso-identities";
import type { SsoClaims, SsoPolicy } from "./sso-accounts";
import { Visitors, type VisitorSession } from "./visitors";
import { VisitorAccess } from "./visitor-access";

export class DirectoryObject extends DurableObject<Env> {
  // Built in this order as fields (after super(): ctx and env are set); each module takes the ones before it.
  private readonly transaction = <T>(fn: () => T): T => this.ctx.storage.transactionSync(fn);
  private readonly db = openDb(this.ctx.storage, schema);
  private readonly localRooms = () => localRoomIds(this.db, this.env.NODE_NAME);
  private readonly audit = new DirectoryAudit(this.ctx, this.env, this.db);
  private readonly accounts = new Accounts(this.db, this.env.NODE_NAME, this.transaction);
  private readonly invites = new Invites(this.db, this.transaction);
  private readonly changes = new AccountChanges(this.env, this.accounts, this.invites, this.audit);
  private readonly rooms = new RoomsDirectory(this.db, this.ctx.storage);
  private readonly mfa = new Mfa(this.db, this.transaction);
  private readonly sso = new SsoIdentities(this.db);
  private readonly signIn = new SignIn(this.db, this.accounts, this.changes, this.mfa, this.sso, this.audit);
  /** retention default and legal holds (compliance.ts) */
  private readonly compliance = new Compliance(this.db, this.transaction);
  private readonly complianceAdmin = new ComplianceAdmin(this.env, this.compliance, this.accounts, this.rooms, this.audit, this.localRooms);
  private readonly erasures = new Erasures(this.db, this.env, this.accounts, this.compliance, this.transaction, this.localRooms, (at) => this.armAlarmBy(at), (entry) => this.audit.recordWithin(entry));
  /** erasures of other nodes' people from this node's rooms, asked by their homes */
  private readonly foreignErasures = new ForeignErasures(this.db, this.env, this.compliance, this.localRooms, (at) => this.armAlarmBy(at));
  private readonly visitors = new Visitors(this.db, this.transaction);
  private readonly visitorAccess = new VisitorAccess(this.db, this.env, this.accounts, this.visitors);

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      await ensureSchema(this.db, migrations);
      // GET /metrics shows the signed checkpoint's age from the directory's first wake on.
      reportAuditCheckpoint(this.audit.copy.checkpoint()?.at);
      this.foldOlderNames();
      await adminFromEnvironment(env, this.accounts, this.changes);
      // After the migrations, so the tables are there: backups stamped and a new configuration.
      await this.audit.recordAtStart();
    });
  }

  /** Older rooms' names folded for search, once (rooms-directory.ts; test/workers/quotas.test.ts runs it again). */
  private foldOlderNames(): void {
    this.rooms.foldOlderNames();
  }

  // ------------------------------------------------- audit (directory-audit.ts)
  /** Where the directory's copy of `object`'s chain ends (AuditFeed resumes after it). */
  async auditHeadOf(object: string): Promise<number> {
    return this.audit.headOf(object);
  }
  /** Records an object shipped (shared/audit.ts AuditFeed); the head now held. */
  async auditIngest(object: string, name: string, rows: AuditRow[]): Promise<number> {
    return this.audit.ingest(object, name, rows);
  }
  /** One page of the node-wide trail (GET /api/v1/admin/audit); backups stamped since the last look are recorded first. */
  async auditPage(q: AuditQueryInput): Promise<AuditPage> {
    return this.audit.page(q);
  }
  /** Record the ops tools' new stamps (directory/ops-stamps.ts); returns how many. */
  async takeOpsStamps(): Promise<number> {
    return this.audit.takeOpsStamps();
  }
  /** The signed checkpoint as stored (tests; the verify tool reads the file). */
  async auditCheckpoint(): Promise<Checkpoint | null> {
    return this.audit.checkpoint();
  }

  // ---------------------------------------------------------------- setup
  async setupNeeded(): Promise<boolean> {
    return !this.accounts.hasAdmin();
  }
  /** Create the first admin with the one-time token `npm start` printed (setup.ts). */
  async setup(token: string, input: { username: string; passwordHash: string; displayName: string }): Promise<User> {
    return setupAdmin(this.env, this.accounts, this.changes, token, input);
  }

  // ------------------------------------------------------------- accounts
  async createUser(input: NewAccount, actor = "system"): Promise<User> {
    return this.changes.insertUser(input, actor);
  }
  /** Which of `ids` are registered rooms or users of this node (known-ids.ts: checked before any object is touched). */
  async existingIds(ids: string[]): Promise<string[]> {
    return knownIds(this.accounts, this.rooms, ids);
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
    return this.changes.updateUser(id, change, actor);
  }
  /** Set or remove (null) an account's avatar (worker/avatars.ts stores the bytes first). */
  async setAvatar(id: string, avatar: string | null): Promise<{ user: User; previous: string | null }> {
    return this.accounts.setAvatar(id, avatar);
  }
  /** A new one-time invite link for an account of this node (older ones end). */
  async issueInvite(userId: string, createdBy: string): Promise<{ token: string; expiresAt: number }> {
    return this.changes.issueInvite(userId, createdBy);
  }

  /** Whose invite `token` is, or `invite_invalid` / `invite_used` / `invite_expired`. */
  async checkInvite(token: string): Promise<{ user: User; expiresAt: number }> {
    const { user, expiresAt } = await this.invites.check(token);
    return { user, expiresAt };
  }

  /** Use an invite: its account gets `passwordHash`, the link is used up. */
  async acceptInvite(token: string, passwordHash: string): Promise<User> {
    return this.changes.acceptInvite(token, passwordHash);
  }
  async deactivate(id: string, actor = "system"): Promise<User> {
    return this.changes.deactivate(id, actor);
  }
  async reactivate(id: string, actor = "system"): Promise<User> {
    return this.changes.reactivate(id, actor);
  }
  /** A password set (by its owner or an administrator): open invite links of the account end. */
  async setPasswordHash(id: string, passwordHash: string, actor = "system"): Promise<void> {
    this.changes.setPasswordHash(id, passwordHash, actor);
  }

  // ------------------------------------------------------- sign-in (sign-in.ts)
  /** Look up a login: `retryAfter` when it may not be tried now, else the account and the known device's id. */
  async loginLookup(username: string, address: string, deviceToken: string | null = null): Promise<{ retryAfter: number } | { user: User | null; passwordHash: string | null; deviceId: string | null }> {
    return this.signIn.loginLookup(username, address, deviceToken);
  }
  /** Count a failed login: against its known device (`deviceId` from loginLookup), else its username and address. */
  async loginFailed(username: string, address: string, deviceId: string | null = null): Promise<void> {
    this.signIn.loginFailed(username, address, deviceId);
  }
  /** A login succeeded: clear the failures it was judged by; the device token to hand back. */
  async loginSucceeded(username: string, deviceId: string | null = null): Promise<string | null> {
    return this.signIn.loginSucceeded(username, deviceId);
  }
  /** A device token for a fresh sign-in that did not go through login (first-run setup). */
  async issueDeviceToken(userId: string): Promise<string> {
    return this.signIn.issueDeviceToken(userId);
  }

  // ------------------------------------------- two-factor sign-in (mfa.ts)
  async mfaStatus(userId: string): Promise<MfaStatus> {
    return this.mfa.status(userId);
  }
  async mfaBegin(userId: string): Promise<string> {
    return this.mfa.begin(userId, Date.now());
  }

  async mfaConfirm(userId: string, code: string): Promise<string[]> {
    const codes = await this.mfa.confirm(userId, code, Date.now(), () => this.audit.recordOwn({ actor: userId, action: "mfa.enrolled", userId }));
    this.audit.signLater();
    return codes;
  }

  /** `actor`: the person themselves, or the administrator who reset their second factor. */
  async mfaDisable(userId: string, actor: string): Promise<void> {
    this.mfa.disable(userId, () => this.audit.recordOwn({ actor, action: "mfa.removed", userId, detail: { by: actor === userId ? "self" : "admin" } }));
    this.audit.signLater();
  }

  /** After a right password: the second step's challenge when the account has 2FA on, else null. */
  async mfaChallengeFor(user: { id: string; username: string }, deviceId: string | null): Promise<{ challenge: string; expiresAt: number } | null> {
    return this.signIn.mfaChallengeFor(user, deviceId);
  }
  /** The second step: a code (or recovery code) for a challenge; right, the sign-in succeeds. */
  async completeMfaLogin(challenge: string, code: string, address: string): Promise<{ user: User; deviceToken: string | null }> {
    return this.signIn.completeMfaLogin(challenge, code, address);
  }
  /** Check a second factor outside sign-in (turning 2FA off with a code instead of the password). */
  async mfaVerify(userId: string, code: string): Promise<boolean> {
    return this.mfa.verify(userId, code, Date.now());
  }

  // ------------------------------------------- single sign-on (sso-identities.ts, sign-in.ts)
  async ssoSaveState(state: string, nonce: string, verifier: string): Promise<void> {
    await this.sso.saveState(state, nonce, verifier, Date.now());
  }
  async ssoTakeState(state: string): Promise<{ nonce: string; verifier: string } | null> {
    return this.sso.takeState(state, Date.now());
  }
  /** The account a verified ID token's subject signs in to: linked, linked now, created, or refused (sso-accounts.ts). */
  async ssoSignIn(claims: SsoClaims, policy: SsoPolicy): Promise<{ user: User; created: boolean }> {
    return this.signIn.ssoSignIn(claims, policy);
  }
  /** A single sign-on the node refused (audited like a failed password sign-in; `code` is the AppError code). */
  async ssoRefused(issuer: string, code: string): Promise<void> {
    this.signIn.ssoRefused(issuer, code);
  }

  // ---------------------------------------------------------------- rooms
  /** Record a new group room, within its creator's room quota (room-quota.ts; `quotaExempt` for admins). */
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
  /** One page of every room homed here (admin-rooms.ts; GET /api/v1/admin/rooms). Reads only. */
  async adminRooms(query: { q?: string; limit: number; cursor?: string }): Promise<AdminRoomPage> {
    return pageAdminRooms(this.db, this.accounts, this.env.NODE_NAME, query);
  }
  async renameRoom(id: string, name: string): Promise<void> {
    this.rooms.rename(id, name);
  }
  /** What the public directory shows of a room besides its name: its member count and its topic. */
  async describeRoom(id: string, info: { memberCount?: number; topic?: string }): Promise<void> {
    this.rooms.describe(id, info);
  }
  /** A room of another node now has a mirror here (its home pushed to us); a DM takes its pair's place. */
  async registerMirror(roomId: string, dm: { members: string[]; createdBy: string; createdAt: number } | null): Promise<void> {
    this.rooms.registerMirror(roomId, dm);
  }

  // ------------------------------------ retention, legal holds, erasure (compliance-admin.ts)
  async retentionDefault(): Promise<RetentionDays> {
    return this.compliance.defaultDays();
  }
  /** The node's default retention; every room of the node is told. */
  async setRetentionDefault(days: RetentionDays, by: string): Promise<RetentionDays> {
    return this.complianceAdmin.setRetentionDefault(days, by);
  }
  /** What a room's retention run obeys: the default and the holds now (room/retention.ts). */
  async retentionInputs(roomId: string): Promise<RetentionInputs> {
    return this.compliance.inputsFor(roomId);
  }
  /** Is a message of `senderId` in `roomId` under a legal hold now (asked at each recall)? */
  async isHeld(roomId: string, senderId: string): Promise<boolean> {
    return this.compliance.isRoomHeld(roomId) || this.compliance.isUserHeld(senderId);
  }
  /** Every hold, each with its target's name as of now (null: the room or person is no longer known here). */
  async holds(): Promise<LegalHold[]> {
    return namedHolds(this.accounts, this.rooms, this.compliance.holds());
  }
  /** A hold on a room of this node or on any person known here (their messages in this node's rooms). */
  async placeHold(target: { roomId: string } | { userId: string }, reason: string, by: string): Promise<LegalHold> {
    return namedHolds(this.accounts, this.rooms, [this.complianceAdmin.placeHold(target, reason, by)])[0];
  }
  async releaseHold(id: string, by: string): Promise<LegalHold> {
    return namedHolds(this.accounts, this.rooms, [this.complianceAdmin.releaseHold(id, by)])[0];
  }
  /**
   * Names for ids an administrator's screen shows (admin-names.ts); rooms of
   * other nodes are listed for the caller to ask their mirrors. Reads only.
   */
  async namesOf(ids: string[]): Promise<DirectoryNames> {
    return namesOf(this.accounts, this.rooms, ids);
  }
  /** Record a compliance export before it streams; a failed record refuses the export before any byte leaves. */
  async recordExport(actor: string, target: { roomId: string } | { userId: string }, format: string): Promise<void> {
    this.complianceAdmin.recordExport(actor, target, format);
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

  // ------------------------------------------ visitors: people of other nodes signed in here (visitor-access.ts)
  /** The account of another node a sign-in here names (`username` or `username@node`), or null. */
  async visitorAccount(login: string): Promise<User | null> {
    return this.visitorAccess.account(login);
  }
  async addVisitorSession(row: Omit<VisitorSession, "rooms" | "checkedAt">): Promise<void> {
    this.visitors.add(row);
  }
  /** A live visitor session by its secret's hash (the account still active as replicated), or null. */
  async visitorSession(secretHash: string): Promise<VisitorSession | null> {
    return this.visitorAccess.session(secretHash);
  }
  async visitorChecked(secretHash: string): Promise<void> {
    this.visitors.checked(secretHash);
  }
  async visitorRoom(secretHash: string, roomId: string): Promise<void> {
    this.visitors.addRoom(secretHash, roomId);
  }
  /** End visitor sessions here and close their sockets in this node's rooms and mirrors. */
  async endVisitorSessions(which: { secretHash?: string; userIds?: string[]; sessionId?: string }, reason: string): Promise<number> {
    return this.visitorAccess.end(which, reason);
  }
}
