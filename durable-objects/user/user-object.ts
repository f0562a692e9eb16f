/**
 * UserObject: one per user, the user's "inbox". Holds their sessions (so
 * authentication is spread over users, and revocation can close exactly the
 * sockets of one session) and the list of rooms they are in, kept up to date
 * by the rooms through their outboxes.
 */
import { DurableObject } from "cloudflare:workers";
import { asc, eq, lt, or } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { Env, Limits } from "../../worker/env";
import { limitsOf } from "../../worker/env";
import * as schema from "./schema";
import migrations from "./migrations/migrations.js";
import { ensureSchema, hasSchema, openDb } from "../shared/database";
import type { Caller } from "../shared/identity";
import { makeToken, sha256hex } from "../shared/tokens";
import { randomKey } from "../../protocol/ids";
import type { InboxUpdate, RoomSummary } from "./inbox-update";

export interface Profile {
  userId: string;
  username: string;
  displayName: string;
  isAdmin: boolean;
  active: boolean;
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

export class UserObject extends DurableObject<Env> {
  private readonly db: DrizzleSqliteDODatabase<typeof schema>;
  private readonly limits: Limits;
  private profile: Profile | null = null;
  private ready = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.db = openDb(ctx.storage, schema);
    this.limits = limitsOf(env);
    void ctx.blockConcurrencyWhile(async () => {
      if (hasSchema(ctx.storage, "profile")) await this.open();
    });
  }

  private async open(): Promise<void> {
    if (!this.ready) {
      await ensureSchema(this.db, migrations);
      this.ready = true;
    }
    const row = this.db.select().from(schema.profile).where(eq(schema.profile.key, "profile")).get();
    this.profile = row ? (JSON.parse(row.value) as Profile) : null;
  }

  /** Create or update this user's profile (called by the directory). */
  async provision(profile: Profile): Promise<void> {
    await this.open();
    const value = JSON.stringify(profile);
    this.db.insert(schema.profile).values({ key: "profile", value }).onConflictDoUpdate({ target: schema.profile.key, set: { value } }).run();
    this.profile = profile;
    if (!profile.active) await this.revokeAll("account deactivated");
  }

  // ------------------------------------------------------------- sessions

  async createSession(userAgent: string): Promise<{ token: string; session: SessionInfo }> {
    const p = this.profile;
    if (!p || !p.active) throw new Error("outpost:unauthorized::account is not active");
    const now = Date.now();
    const { token, secret } = makeToken("session", p.userId);
    const session: SessionInfo = { id: randomKey(), createdAt: now, lastUsedAt: now, expiresAt: now + this.limits.sessionTtlSeconds * 1000, userAgent: userAgent.slice(0, 200) };
    this.db.insert(schema.sessions).values({ ...session, secretHash: await sha256hex(secret) }).run();
    // Per-user session cap: the least recently used sessions beyond it are ended.
    const all = this.db.select().from(schema.sessions).orderBy(asc(schema.sessions.lastUsedAt)).all();
    const excess = all.length - this.limits.maxSessionsPerUser;
    if (excess > 0) await this.endSessions(all.slice(0, excess).map((s) => s.id), "too many sessions: the oldest was signed out");
    return { token, session };
  }

  /** The caller behind a token secret, or null (unknown, expired, revoked, deactivated). */
  async authenticate(secret: string): Promise<Caller | null> {
    const p = this.profile;
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
    return { userId: p.userId, sessionId: row.id, username: p.username, displayName: p.displayName, isAdmin: p.isAdmin };
  }

  async listSessions(): Promise<SessionInfo[]> {
    return this.db
      .select({ id: schema.sessions.id, createdAt: schema.sessions.createdAt, lastUsedAt: schema.sessions.lastUsedAt, expiresAt: schema.sessions.expiresAt, userAgent: schema.sessions.userAgent })
      .from(schema.sessions)
      .orderBy(asc(schema.sessions.createdAt))
      .all();
  }

  /** A short-lived, single-use ticket for a WebSocket from a client that cannot set headers. */
  async createTicket(sessionId: string): Promise<{ ticket: string; expiresAt: number }> {
    const p = this.profile;
    if (!p) throw new Error("outpost:unauthorized::not signed in");
    const now = Date.now();
    this.db.delete(schema.tickets).where(lt(schema.tickets.expiresAt, now)).run();
    const { token, secret } = makeToken("ticket", p.userId);
    const expiresAt = now + TICKET_TTL_MS;
    this.db.insert(schema.tickets).values({ secretHash: await sha256hex(secret), sessionId, expiresAt }).run();
    return { ticket: token, expiresAt };
  }

  async redeemTicket(secret: string): Promise<Caller | null> {
    const p = this.profile;
    if (!p || !p.active) return null;
    const hash = await sha256hex(secret);
    const row = this.db.select().from(schema.tickets).where(eq(schema.tickets.secretHash, hash)).get();
    if (!row) return null;
    this.db.delete(schema.tickets).where(eq(schema.tickets.secretHash, hash)).run();
    if (row.expiresAt <= Date.now()) return null;
    const session = this.db.select().from(schema.sessions).where(eq(schema.sessions.id, row.sessionId)).get();
    if (!session || session.expiresAt <= Date.now()) return null;
    return { userId: p.userId, sessionId: session.id, username: p.username, displayName: p.displayName, isAdmin: p.isAdmin };
  }

  /** End one session (logout, or revoked by the user or an admin) and close its sockets. */
  async revokeSession(sessionId: string): Promise<boolean> {
    const exists = this.db.select().from(schema.sessions).where(eq(schema.sessions.id, sessionId)).get();
    if (!exists) return false;
    await this.endSessions([sessionId], "session revoked");
    return true;
  }

  /** End every session (password change, deactivation), optionally keeping one. */
  async revokeAll(reason = "signed out everywhere", keep?: string): Promise<number> {
    if (!this.ready) return 0;
    const ids = this.db.select({ id: schema.sessions.id }).from(schema.sessions).all().map((r) => r.id).filter((id) => id !== keep);
    await this.endSessions(ids, reason);
    return ids.length;
  }

  private async endSessions(ids: string[], reason: string): Promise<void> {
    if (ids.length === 0) return;
    this.ctx.storage.transactionSync(() => {
      for (const id of ids) {
        this.db.delete(schema.sessions).where(eq(schema.sessions.id, id)).run();
        this.db.delete(schema.tickets).where(eq(schema.tickets.sessionId, id)).run();
      }
    });
    // The session is gone from the database before any socket closes, so a
    // reconnect racing the close is already refused.
    const rooms = this.db.select({ roomId: schema.rooms.roomId }).from(schema.rooms).all();
    await Promise.allSettled(rooms.map((r) => this.env.ROOMS.get(this.env.ROOMS.idFromName(r.roomId)).closeSessions(ids, reason)));
  }

  // ---------------------------------------------------------------- rooms

  async applyInboxUpdate(update: InboxUpdate): Promise<void> {
    await this.open();
    const r = schema.rooms;
    switch (update.type) {
      case "room.added":
        this.db.insert(r).values(update.room).onConflictDoUpdate({ target: r.roomId, set: { name: update.room.name, role: update.room.role } }).run();
        break;
      case "room.removed":
        this.db.delete(r).where(eq(r.roomId, update.roomId)).run();
        break;
      case "room.changed": {
        const set: Partial<RoomSummary> = {};
        if (update.name !== undefined) set.name = update.name;
        if (update.role !== undefined) set.role = update.role;
        if (Object.keys(set).length) this.db.update(r).set(set).where(eq(r.roomId, update.roomId)).run();
        break;
      }
    }
  }

  async listRooms(): Promise<RoomSummary[]> {
    if (!this.ready) return [];
    return this.db.select().from(schema.rooms).orderBy(asc(schema.rooms.joinedAt)).all();
  }

  async hasRoom(roomId: string): Promise<boolean> {
    if (!this.ready) return false;
    return !!this.db.select({ id: schema.rooms.roomId }).from(schema.rooms).where(or(eq(schema.rooms.roomId, roomId))).get();
  }
}
