/**
 * UserObject: one per user, the user's "inbox". Holds their sessions (so
 * authentication is spread over users, and revocation can close exactly the
 * sockets of one session), the rooms they are in with unread and mention
 * counts (kept up to date by the rooms: membership through the rooms'
 * outboxes, activity coalesced to about once a second per room), their
 * notifications, and the device sockets: one per device, carrying every
 * room's summary, so no client needs a socket per room.
 *
 * Presence is derived from the device sockets (online if any device is
 * active, away if all are idle, offline if none is connected) and pushed to
 * the inboxes that watch this user; a watcher that no longer cares says so and
 * is dropped, so the watcher list cleans itself.
 */
import { DurableObject } from "cloudflare:workers";
import { asc, eq, lt, or } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { Env, Limits } from "../shared/env";
import { limitsOf } from "../shared/env";
import * as schema from "./schema";
import migrations from "./migrations/migrations.js";
import { ensureSchema, hasSchema, openDb } from "../shared/database";
import type { Caller } from "../shared/identity";
import { makeToken } from "../shared/session-tokens";
import { sha256hex } from "../shared/bytes";
import { randomKey } from "../../protocol/ids";
import { AWAY_SUMMARY_INTERVAL_MS, type InboxUpdate, type RoomActivity, type RoomSummary } from "./inbox-update";
import { ACTIVITY_WRITE_DELAY_MS, InboxStore } from "./inbox-store";
import { callerFromHeaders } from "../shared/identity";
import { CLOSE } from "../../protocol/errors";
import { ClientDeviceFrame, type Presence, type PresenceStatus } from "../../protocol/device";
import { parseClientFrame } from "../../protocol/frames";
import { asAppError, notFound } from "../shared/app-error";
import { existingUsers, storedRoom, storedUser } from "../shared/objects";
import { frameBytes } from "../shared/sockets";
import { safeClose, safeSend } from "../shared/sockets";

export interface Profile {
  userId: string;
  username: string;
  displayName: string;
  isAdmin: boolean;
  active: boolean;
  /** personal setting: may others see my read receipts? */
  sendReceipts?: boolean;
}

/** A device socket's state, in its attachment so it survives hibernation. */
interface DeviceInfo {
  sessionId: string;
  status: "online" | "away";
  watching: string[];
}

export interface SessionInfo {
  id: string;
  createdAt: number;
  lastUsedAt: number;
  expiresAt: number;
  userAgent: string;
}

const TICKET_TTL_MS = 30_000;
const MAX_DEVICE_SOCKETS_PER_SESSION = 4;
const MAX_DEVICE_SOCKETS_PER_USER = 40;
/** lastUsedAt is refreshed at most this often, so a busy client does not write on every request */
const TOUCH_INTERVAL_MS = 60_000;
/** a room list read over REST counts as someone looking for this long (see live()) */
const LOOKING_AFTER_READ_MS = 60_000;
/** rooms asked at once when the inbox refreshes */
const REFRESH_SLICE = 16;

export class UserObject extends DurableObject<Env> {
  private readonly db: DrizzleSqliteDODatabase<typeof schema>;
  private readonly limits: Limits;
  private profile: Profile | null = null;
  private ready = false;
  /** when the room list was last read over REST (memory only: after a wake nobody counts as looking) */
  private lookedAt = 0;
  /** rooms whose summary was answered "nobody looking", and when (they may hold the next ones back) */
  private heardWhileAway = new Map<string, number>();
  private readonly inbox: InboxStore;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.db = openDb(ctx.storage, schema);
    this.limits = limitsOf(env);
    this.inbox = new InboxStore(this.db, ctx.storage, () => {
      // Write coalesced activity a little later, in one commit (see InboxStore.pending).
      // Jittered: a busy room reaches all its members' inboxes at once, and their
      // commits (one fsync each, on the node's one thread) must not land together.
      setTimeout(() => this.inbox.flushPending(), ACTIVITY_WRITE_DELAY_MS * (1 + Math.random()));
    });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
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
  async provision(update: Profile): Promise<void> {
    await this.open();
    const profile: Profile = { ...update, sendReceipts: update.sendReceipts ?? this.profile?.sendReceipts ?? true };
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
    return this.callerFor(row.id);
  }

  private callerFor(sessionId: string): Caller {
    const p = this.profile!;
    return { userId: p.userId, sessionId, username: p.username, displayName: p.displayName, isAdmin: p.isAdmin, sendReceipts: p.sendReceipts !== false };
  }

  async settings(): Promise<{ sendReceipts: boolean }> {
    return { sendReceipts: this.profile?.sendReceipts !== false };
  }

  async updateSettings(set: { sendReceipts?: boolean }): Promise<{ sendReceipts: boolean }> {
    if (!this.profile) throw new Error("outpost:not_found::no such user");
    const before = this.profile.sendReceipts !== false;
    await this.provision({ ...this.profile, ...set });
    const after = this.profile!.sendReceipts !== false;
    if (before !== after) {
      // Rooms keep each member's setting for reads that come over room sockets.
      const me = this.profile!.userId;
      await Promise.allSettled(this.inbox.roomIds().map((roomId) => storedRoom(this.env, roomId).setSendReceipts(me, after)));
    }
    return this.settings();
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
    return this.callerFor(session.id);
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
    for (const id of ids) for (const ws of this.ctx.getWebSockets(`s:${id}`)) safeClose(ws, CLOSE.policy, reason);
    const rooms = this.inbox.roomIds();
    await Promise.allSettled(rooms.map((roomId) => storedRoom(this.env, roomId).closeSessions(ids, reason)));
    await this.updatePresence();
  }

  // ---------------------------------------------------------------- rooms

  /** Membership news from a room's outbox (in order, at least once). */
  async applyInboxUpdate(update: InboxUpdate): Promise<void> {
    await this.open();
    switch (update.type) {
      case "room.added":
        this.pushRoom(this.inbox.added(update.room));
        break;
      case "room.removed": {
        const pos = this.inbox.removed(update.roomId);
        if (pos !== null) this.broadcast({ type: "inbox.removed", roomId: update.roomId, pos });
        break;
      }
      case "room.changed": {
        const room = this.inbox.changed(update.roomId, { name: update.name, role: update.role });
        if (room) this.pushRoom(room);
        break;
      }
    }
  }

  /**
   * A room's coalesced activity (new messages, counts, read sync). Ignored for
   * rooms the user is not in. The answer tells the room whether anyone is
   * looking at this inbox: while nobody is, rooms send plain summaries (no
   * notification) at most every AWAY_SUMMARY_INTERVAL_MS, and the inbox asks
   * its rooms for fresh ones when someone looks again (refreshRooms).
   */
  async applyActivity(activity: RoomActivity): Promise<{ live: boolean }> {
    if (!this.ready) return { live: true };
    this.applyOne(activity);
    const live = this.live();
    if (!live) this.heardWhileAway.set(activity.roomId, Date.now());
    return { live };
  }

  private applyOne(activity: RoomActivity): void {
    const result = this.inbox.activity(activity);
    if (!result) return;
    this.pushRoom(result.room);
    for (const notification of result.notifications) this.broadcast({ type: "notification.new", notification });
    if (result.notifications.length) this.inbox.trimNotifications();
  }

  /** The room list as its reader sees it: fresh from the rooms when nobody was looking. */
  async inboxRooms(opts: { looking?: boolean } = {}) {
    if (!this.ready) return [];
    if (opts.looking) {
      const wasLive = this.live();
      this.lookedAt = Date.now();
      if (!wasLive) await this.refreshRooms();
    }
    return this.inbox.rooms();
  }

  /** Someone is looking: a device socket is open, or the room list was read over REST lately. */
  private live(): boolean {
    if (Date.now() - this.lookedAt < LOOKING_AFTER_READ_MS) return true;
    return this.ctx.getWebSockets().some((ws) => ws.readyState === WebSocket.OPEN);
  }

  /**
   * Ask the rooms that may be holding a summary back for this user's current
   * one. A room holds back only within AWAY_SUMMARY_INTERVAL_MS of its last
   * summary here (then its alarm delivers), so only rooms heard from lately
   * are asked: those this object remembers answering "nobody looking" to, and
   * (it may have been evicted since) those whose last message is that recent.
   * Rooms quiet for longer are not woken.
   */
  private async refreshRooms(): Promise<void> {
    const me = this.profile?.userId;
    if (!me) return;
    const since = Date.now() - 2 * AWAY_SUMMARY_INTERVAL_MS;
    const ids = this.inbox
      .rooms()
      .filter((r) => (this.heardWhileAway.get(r.roomId) ?? 0) >= since || (r.lastMessage?.createdAt ?? 0) >= since)
      .map((r) => r.roomId);
    this.heardWhileAway.clear();
    for (let i = 0; i < ids.length; i += REFRESH_SLICE) {
      const results = await Promise.allSettled(ids.slice(i, i + REFRESH_SLICE).map((roomId) => storedRoom(this.env, roomId).inboxSummary(me)));
      for (const r of results) if (r.status === "fulfilled" && r.value) this.applyOne(r.value);
    }
  }

  async notifications(before: number | undefined, limit: number) {
    if (!this.ready) return { notifications: [], unread: 0 };
    return { notifications: this.inbox.notifications(before, Math.min(Math.max(limit, 1), 100)), unread: this.inbox.unreadNotifications() };
  }

  private pushRoom(room: ReturnType<InboxStore["room"]>): void {
    if (room) this.broadcast({ type: "inbox.room", room });
  }

  // -------------------------------------------------------- device socket

  override async fetch(request: Request): Promise<Response> {
    const caller = callerFromHeaders(request.headers);
    const p = this.profile;
    if (!caller || !p || !p.active || caller.userId !== p.userId) return Response.json({ error: { code: "unauthorized", message: "not signed in" } }, { status: 401 });
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return Response.json({ error: { code: "invalid_request", message: "this endpoint speaks WebSocket: send an Upgrade request" } }, { status: 426 });
    }
    const session = this.db.select({ id: schema.sessions.id }).from(schema.sessions).where(eq(schema.sessions.id, caller.sessionId)).get();
    if (!session) return Response.json({ error: { code: "unauthorized", message: "session revoked" } }, { status: 401 });
    // Bounded device sockets: per session (a device) and per user overall.
    const same = this.ctx.getWebSockets(`s:${caller.sessionId}`);
    for (let i = 0; i <= same.length - MAX_DEVICE_SOCKETS_PER_SESSION; i++) safeClose(same[i], CLOSE.policy, "too many connections: replaced by a newer one");
    const all = this.ctx.getWebSockets().filter((ws) => ws.readyState === WebSocket.OPEN);
    for (let i = 0; i <= all.length - MAX_DEVICE_SOCKETS_PER_USER; i++) safeClose(all[i], CLOSE.policy, "too many connections: replaced by a newer one");
    // Nobody was looking until now: rooms may have held summaries back; ask them first.
    if (!this.live()) await this.refreshRooms();
    const pair = new WebSocketPair();
    const server = pair[1];
    this.ctx.acceptWebSocket(server, [`s:${caller.sessionId}`]);
    server.serializeAttachment({ sessionId: caller.sessionId, status: "online", watching: [] } satisfies DeviceInfo);
    const posParam = new URL(request.url).searchParams.get("pos");
    const pos = posParam !== null && /^\d{1,15}$/.test(posParam) ? Number(posParam) : null;
    if (pos !== null && pos <= this.inbox.pos) {
      server.send(JSON.stringify({ type: "inbox.sync", pos: this.inbox.pos, ...this.inbox.changedSince(pos) }));
    } else {
      // No position, or one from the future (garbage, or another node's): a full snapshot.
      server.send(JSON.stringify(this.hello(caller.sessionId)));
    }
    await this.updatePresence();
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  private hello(sessionId: string) {
    return { type: "inbox.hello", userId: this.profile!.userId, sessionId, pos: this.inbox.pos, rooms: this.inbox.rooms(), unreadNotifications: this.inbox.unreadNotifications() };
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    if (frameBytes(raw, this.limits.maxFrameBytes) > this.limits.maxFrameBytes) {
      safeClose(ws, CLOSE.too_big, `frames are limited to ${this.limits.maxFrameBytes} bytes`);
      return;
    }
    const info = ws.deserializeAttachment() as DeviceInfo | null;
    if (!info || !this.profile?.active) {
      safeClose(ws, CLOSE.policy, "not signed in");
      return;
    }
    const parsed = parseClientFrame(ClientDeviceFrame, raw);
    if (!parsed.ok) {
      safeSend(ws, JSON.stringify({ type: "error", code: parsed.code, message: parsed.message, ...(parsed.replyTo ? { replyTo: parsed.replyTo } : {}) }));
      return;
    }
    const frame = parsed.frame;
    try {
      switch (frame.type) {
        case "ping":
          safeSend(ws, JSON.stringify({ type: "pong" }));
          return;
        case "sync":
          if (frame.pos > this.inbox.pos) safeSend(ws, JSON.stringify(this.hello(info.sessionId))); // a position from the future: start over
          else safeSend(ws, JSON.stringify({ type: "inbox.sync", pos: this.inbox.pos, ...this.inbox.changedSince(frame.pos), ...(frame.reqId ? { replyTo: frame.reqId } : {}) }));
          return;
        case "read":
          // The room id comes from the client: only rooms in this inbox are reached (a
          // made-up id must not touch, let alone create, a room object).
          if (!this.inbox.room(frame.roomId)) throw notFound();
          await storedRoom(this.env, frame.roomId).markRead(this.callerFor(info.sessionId), frame.seq);
          break;
        case "presence.set":
          ws.serializeAttachment({ ...info, status: frame.status } satisfies DeviceInfo);
          await this.updatePresence();
          break;
        case "presence.watch": {
          // Ids from the client: only registered users' objects are asked (see shared/objects.ts).
          const ids = (await existingUsers(this.env, frame.userIds)).filter((id) => id !== this.profile!.userId);
          ws.serializeAttachment({ ...info, watching: ids } satisfies DeviceInfo);
          const me = this.profile!.userId;
          const myRooms = this.inbox.roomIds();
          const found = await Promise.allSettled(ids.map((id) => storedUser(this.env, id).addWatcher(me, myRooms)));
          for (const r of found) if (r.status === "fulfilled" && r.value) safeSend(ws, JSON.stringify({ type: "presence", presence: r.value }));
          break;
        }
      }
      if (frame.reqId) safeSend(ws, JSON.stringify({ type: "ok", replyTo: frame.reqId }));
    } catch (err) {
      const e = asAppError(err);
      if (!e) console.error("device frame failed", frame.type, err);
      safeSend(ws, JSON.stringify({ type: "error", code: e?.code ?? "internal", message: e?.detail ?? "internal error", ...(frame.reqId ? { replyTo: frame.reqId } : {}) }));
    }
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    safeClose(ws, code === 1005 || code === 1006 ? 1000 : code, "closing");
    await this.updatePresence(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    safeClose(ws, CLOSE.internal, "socket error");
    await this.updatePresence(ws);
  }

  private broadcast(frame: object): void {
    const data = JSON.stringify(frame);
    for (const ws of this.ctx.getWebSockets()) safeSend(ws, data);
  }

  // ------------------------------------------------------------- presence

  /**
   * This user's presence, for someone who shares a room with them (`askerRooms`
   * are the asker's rooms; null = the user themselves or the node itself).
   * Presence is for the people one shares rooms with; to anyone else this user
   * looks like they do not exist.
   */
  async getPresence(askerRooms: string[] | null = null): Promise<Presence | null> {
    const p = this.profile;
    if (!p) return null;
    if (askerRooms !== null) {
      const mine = new Set(this.ready ? this.inbox.roomIds() : []);
      if (!askerRooms.some((r) => mine.has(r))) return null;
    }
    const stored = this.db.select().from(schema.profile).where(eq(schema.profile.key, "presence")).get();
    const presence = stored ? (JSON.parse(stored.value) as Presence) : { userId: p.userId, status: "offline" as PresenceStatus, lastSeen: null };
    return presence.status === "offline" ? presence : { ...presence, lastSeen: Date.now() };
  }

  /** Another user's inbox wants my presence changes. Returns my presence now. */
  async addWatcher(watcherId: string, watcherRooms: string[]): Promise<Presence | null> {
    if (!this.profile) return null;
    const presence = await this.getPresence(watcherRooms);
    if (!presence) return null;
    this.db.insert(schema.watchers).values({ userId: watcherId, expiresAt: 0 }).onConflictDoNothing().run();
    return presence;
  }

  /** A watched user's presence changed. Returns false when no device here watches them any more. */
  async presenceChanged(presence: Presence): Promise<boolean> {
    let wanted = false;
    const data = JSON.stringify({ type: "presence", presence });
    for (const ws of this.ctx.getWebSockets()) {
      const info = ws.deserializeAttachment() as DeviceInfo | null;
      if (info?.watching.includes(presence.userId)) {
        wanted = true;
        safeSend(ws, data);
      }
    }
    return wanted;
  }

  private async updatePresence(closing?: WebSocket): Promise<void> {
    const p = this.profile;
    if (!p || !this.ready) return;
    const devices = this.ctx.getWebSockets().filter((ws) => ws !== closing && ws.readyState === WebSocket.OPEN);
    const status: PresenceStatus = devices.length === 0 ? "offline" : devices.some((ws) => (ws.deserializeAttachment() as DeviceInfo | null)?.status === "online") ? "online" : "away";
    const before = await this.getPresence(null);
    if (before && before.status === status) return;
    const presence: Presence = { userId: p.userId, status, lastSeen: Date.now() };
    const value = JSON.stringify(presence);
    this.db.insert(schema.profile).values({ key: "presence", value }).onConflictDoUpdate({ target: schema.profile.key, set: { value } }).run();
    const watchers = this.db.select().from(schema.watchers).all();
    const results = await Promise.allSettled(watchers.map((w) => storedUser(this.env, w.userId).presenceChanged(presence)));
    results.forEach((r, i) => {
      if (r.status === "fulfilled" && r.value === false) this.db.delete(schema.watchers).where(eq(schema.watchers.userId, watchers[i].userId)).run();
    });
  }
}
