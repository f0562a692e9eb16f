/**
 * The user's sessions and socket tickets. A token's secret is stored only as
 * its SHA-256 (shared/session-tokens.ts). Ending sessions — logout, admin
 * revocation, the per-user cap, a password change, deactivation — deletes the
 * rows first and then closes exactly the affected sockets: the user's devices
 * here and the room sockets in every room of the user.
 */
import { asc, eq, lt } from "drizzle-orm";
import { randomKey } from "../../protocol/ids";
import { AppError } from "../shared/app-error";
import { sha256hex } from "../shared/bytes";
import type { Env, Limits } from "../shared/env";
import type { Caller } from "../shared/identity";
import { storedRoom } from "../shared/objects";
import { makeToken } from "../shared/session-tokens";
import type { DeviceSockets } from "./device-socket";
import type { Inbox } from "./inbox";
import type { UserPresence } from "./presence";
import * as schema from "./schema";
import type { UserDb, UserState } from "./user-state";
import { recordAudit, type AuditFeed } from "../shared/audit";
import type { AuditAction } from "../../protocol/audit";

/** Who ended sessions, for the audit record (the user, an admin, or "system" for the session cap). */
export interface EndedBy {
  actor: string;
  action: Extract<AuditAction, "auth.signout" | "session.revoked">;
}

export interface SessionInfo {
  id: string;
  createdAt: number;
  lastUsedAt: number;
  expiresAt: number;
  userAgent: string;
}

const TICKET_TTL_MS = 30_000;
/** lastUsedAt is refreshed at most this often, so a busy client does not write on every request */
const TOUCH_INTERVAL_MS = 60_000;

export class Sessions {
  constructor(
    private readonly state: UserState,
    private readonly db: UserDb,
    private readonly storage: DurableObjectStorage,
    private readonly limits: Limits,
    private readonly devices: DeviceSockets,
    private readonly inbox: Inbox,
    private readonly presence: UserPresence,
    private readonly env: Env,
    private readonly audit: AuditFeed,
  ) {}

  async create(userAgent: string): Promise<{ token: string; session: SessionInfo }> {
    const p = this.state.profile;
    if (!p || !p.active) throw new AppError("unauthorized", "account is not active");
    const now = Date.now();
    const { token, secret } = makeToken("session", p.userId);
    const session: SessionInfo = { id: randomKey(), createdAt: now, lastUsedAt: now, expiresAt: now + this.limits.sessionTtlSeconds * 1000, userAgent: userAgent.slice(0, 200) };
    const secretHash = await sha256hex(secret);
    // The session and its audit record commit together, or neither (fail closed: no sign-in unrecorded).
    this.storage.transactionSync(() => {
      this.db.insert(schema.sessions).values({ ...session, secretHash }).run();
      recordAudit(this.storage.sql, { actor: p.userId, action: "auth.signin", userId: p.userId, detail: { session: session.id, userAgent: session.userAgent } });
    });
    void this.audit.ship();
    // Per-user session cap: the least recently used sessions beyond it are ended.
    const all = this.db.select().from(schema.sessions).orderBy(asc(schema.sessions.lastUsedAt)).all();
    const excess = all.length - this.limits.maxSessionsPerUser;
    if (excess > 0) await this.end(all.slice(0, excess).map((s) => s.id), "too many sessions: the oldest was signed out", { actor: "system", action: "session.revoked" });
    return { token, session };
  }

  /** The caller behind a token secret, or null (unknown, expired, revoked, deactivated). */
  async authenticate(secret: string): Promise<Caller | null> {
    const p = this.state.profile;
    if (!p || !p.active) return null;
    const hash = await sha256hex(secret);
    const row = this.db.select().from(schema.sessions).where(eq(schema.sessions.secretHash, hash)).get();
    const now = Date.now();
    if (!row) return null;
    if (row.expiresAt <= now) {
      this.db.delete(schema.sessions).where(eq(schema.sessions.id, row.id)).run();
      return null;
    }
    if (now - row.lastUsedAt > TOUCH_INTERVAL_MS) this.db.update(schema.sessions).set({ lastUsedAt: now }).where(eq(schema.sessions.id, row.id)).run();
    return this.callerFor(row.id);
  }

  callerFor(sessionId: string): Caller {
    const p = this.state.profile!;
    return { userId: p.userId, sessionId, username: p.username, displayName: p.displayName, isAdmin: p.isAdmin, sendReceipts: p.sendReceipts !== false };
  }

  exists(sessionId: string): boolean {
    return !!this.db.select({ id: schema.sessions.id }).from(schema.sessions).where(eq(schema.sessions.id, sessionId)).get();
  }

  list(): SessionInfo[] {
    return this.db
      .select({ id: schema.sessions.id, createdAt: schema.sessions.createdAt, lastUsedAt: schema.sessions.lastUsedAt, expiresAt: schema.sessions.expiresAt, userAgent: schema.sessions.userAgent })
      .from(schema.sessions)
      .orderBy(asc(schema.sessions.createdAt))
      .all();
  }

  /** A short-lived, single-use ticket for a WebSocket from a client that cannot set headers. */
  async createTicket(sessionId: string): Promise<{ ticket: string; expiresAt: number }> {
    const p = this.state.profile;
    if (!p) throw new AppError("unauthorized", "not signed in");
    const now = Date.now();
    this.db.delete(schema.tickets).where(lt(schema.tickets.expiresAt, now)).run();
    const { token, secret } = makeToken("ticket", p.userId);
    const expiresAt = now + TICKET_TTL_MS;
    this.db.insert(schema.tickets).values({ secretHash: await sha256hex(secret), sessionId, expiresAt }).run();
    return { ticket: token, expiresAt };
  }

  async redeemTicket(secret: string): Promise<Caller | null> {
    const p = this.state.profile;
    if (!p || !p.active) return null;
    const hash = await sha256hex(secret);
    const row = this.db.select().from(schema.tickets).where(eq(schema.tickets.secretHash, hash)).get();
    if (!row) return null;
    this.db.delete(schema.tickets).where(eq(schema.tickets.secretHash, hash)).run();
    if (row.expiresAt <= Date.now()) return null;
    const session = this.db.select().from(schema.sessions).where(eq(schema.sessions.id, row.sessionId)).get();
    if (!session || session.expiresAt <= Date.now()) return null;
    return this.callerFor(session.id);
  }

  /** End one session (logout, or revoked by the user or an admin) and close its sockets. */
  async revoke(sessionId: string, by: EndedBy = { actor: "system", action: "session.revoked" }): Promise<boolean> {
    if (!this.exists(sessionId)) return false;
    await this.end([sessionId], "session revoked", by);
    return true;
  }

  /** End every session (password change, deactivation), optionally keeping one. */
  async revokeAll(reason: string, keep?: string, actor = "system"): Promise<number> {
    if (!this.state.ready) return 0;
    const ids = this.db.select({ id: schema.sessions.id }).from(schema.sessions).all().map((r) => r.id).filter((id) => id !== keep);
    await this.end(ids, reason, { actor, action: "session.revoked" });
    return ids.length;
  }

  private async end(ids: string[], reason: string, by: EndedBy): Promise<void> {
    if (ids.length === 0) return;
    const userId = this.state.profile?.userId ?? null;
    this.storage.transactionSync(() => {
      for (const id of ids) {
        this.db.delete(schema.sessions).where(eq(schema.sessions.id, id)).run();
        this.db.delete(schema.tickets).where(eq(schema.tickets.sessionId, id)).run();
      }
      // One record for the whole set: a revoke-all is one action (the ids say which sessions).
      recordAudit(this.storage.sql, { actor: by.actor, action: by.action, userId, detail: { sessions: ids.slice(0, 20).join(" "), count: ids.length, reason } });
    });
    void this.audit.ship();
    // The session is gone from the database before any socket closes, so a
    // reconnect racing the close is already refused.
    this.devices.closeSessions(ids, reason);
    await Promise.allSettled(this.inbox.store.roomIds().map((roomId) => storedRoom(this.env, roomId).closeSessions(ids, reason)));
    await this.presence.update();
  }
}
