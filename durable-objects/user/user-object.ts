/**
 * UserObject: one per user, the user's "inbox". Holds their sessions (so
 * authentication is spread over users, and revocation can close exactly the
 * sockets of one session), the rooms they are in with unread and mention
 * counts (kept up to date by the rooms: membership through the rooms'
 * outboxes, activity coalesced to about once a second per room), their
 * notifications, presence, and the device sockets: one per device, carrying
 * every room's summary, so no client needs a socket per room.
 *
 * This class is the object's lifecycle (constructor, migrate, provision,
 * fetch, socket handlers); the work is in modules sharing one UserState:
 *   sessions.ts       sessions, tickets, revocation
 *   inbox.ts          the rooms and notifications, refreshed when someone looks (inbox-store.ts: its tables)
 *   presence.ts       presence from the devices, watchers
 *   device-socket.ts  accepting devices, reading frames, typed sends
 */
import { errorText, log } from "../shared/log";
import { reportSockets } from "../shared/node-metrics";
import { socketClosed } from "../shared/socket-events";
import { DurableObject } from "cloudflare:workers";
import type { Env, Limits } from "../shared/env";
import { limitsOf } from "../shared/env";
import * as schema from "./schema";
import migrations from "./migrations/migrations.js";
import { ensureSchema, hasSchema, openDb } from "../shared/database";
import { callerFromHeaders, type Caller } from "../shared/identity";
import { AppError, asAppError, notFound } from "../shared/app-error";
import { directoryStub, storedRoom } from "../shared/objects";
import { AuditFeed, auditObjectKey } from "../shared/audit";
import { callHome } from "../mirror/forward";
import { homeNode } from "../../protocol/ids";
import { answerPingsWhileAsleep, closeBack, closeOnError, errorResponse, failureFrame, okFrame, refuseUnlessUpgrade } from "../shared/sockets";
import type { ClientDeviceFrame, InboxRoom, Notification, Presence } from "../../protocol/device";
import type { Settings } from "../../protocol/responses";
import type { InboxUpdate, RoomActivity } from "./inbox-update";
import { readProfileRow, UserState, writeProfileRow, type Profile, type UserDb } from "./user-state";
import { DeviceSockets, type DeviceState } from "./device-socket";
import { Inbox } from "./inbox";
import { UserPresence } from "./presence";
import { Sessions, type EndedBy, type SessionInfo } from "./sessions";

export type { Profile } from "./user-state";
export type { SessionInfo } from "./sessions";

export class UserObject extends DurableObject<Env> {
  private readonly db: UserDb;
  private readonly limits: Limits;
  private readonly state = new UserState();
  private readonly devices: DeviceSockets;
  private readonly inbox: Inbox;
  private readonly presence: UserPresence;
  private readonly sessions: Sessions;
  private readonly auditFeed: AuditFeed;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.db = openDb(ctx.storage, schema);
    this.limits = limitsOf(env);
    this.devices = new DeviceSockets(ctx);
    this.inbox = new Inbox(this.state, this.db, ctx.storage, this.devices, env);
    this.presence = new UserPresence(this.state, this.db, this.devices, this.inbox, env);
    this.auditFeed = new AuditFeed(ctx.storage.sql, auditObjectKey("UserObject", ctx), () => this.state.profile?.userId ?? "", () => directoryStub(env));
    this.sessions = new Sessions(this.state, this.db, ctx.storage, this.limits, this.devices, this.inbox, this.presence, env, this.auditFeed);
    answerPingsWhileAsleep(ctx);
    reportSockets("device", ctx);
    void ctx.blockConcurrencyWhile(async () => {
      // A user the directory never provisioned has no tables; leave it that way (see shared/database.ts).
      if (hasSchema(ctx.storage, "profile")) await this.open();
    });
    // Records committed before the last shutdown that the directory may not have yet.
    ctx.waitUntil(this.auditFeed.ship());
  }

  private async open(): Promise<void> {
    if (!this.state.ready) {
      await ensureSchema(this.db, migrations);
      this.state.ready = true;
    }
    this.state.profile = readProfileRow(this.db, "profile");
  }

  /** The profile as loaded (null: not provisioned). */
  private get profile(): Profile | null {
    return this.state.profile;
  }

  /** Create or update this user's profile (called by the directory). */
  async provision(update: Profile): Promise<void> {
    await this.open();
    // The directory's updates carry no personal settings: keep them.
    const profile: Profile = { ...update, sendReceipts: update.sendReceipts ?? this.profile?.sendReceipts ?? true, language: update.language !== undefined ? update.language : (this.profile?.language ?? null) };
    writeProfileRow(this.db, "profile", profile);
    this.state.profile = profile;
    if (!profile.active) await this.sessions.revokeAll("account deactivated");
  }

  /**
   * Erasure (GDPR; the directory's job calls it, again after a crash): the
   * profile becomes the placeholder, every session ends, the inbox (room
   * summaries with previews, notifications) is emptied. Idempotent.
   */
  async erase(placeholder: { username: string; displayName: string }): Promise<void> {
    await this.open();
    if (!this.profile) return;
    await this.provision({ ...this.profile, username: placeholder.username, displayName: placeholder.displayName, isAdmin: false, active: false, language: null });
    await this.sessions.revokeAll("account erased");
    // Rooms homed on other nodes show the placeholder name too (the inbox still lists them here).
    await this.announceProfile();
    this.inbox.store.eraseAll();
  }

  async settings(): Promise<Settings> {
    return { sendReceipts: this.profile?.sendReceipts !== false, language: this.profile?.language ?? null };
  }

  async updateSettings(set: { sendReceipts?: boolean; language?: "zh" | "en" | null }): Promise<Settings> {
    if (!this.profile) throw new AppError("not_found", "no such user");
    const before = this.profile.sendReceipts !== false;
    await this.provision({ ...this.profile, ...set });
    const after = this.profile!.sendReceipts !== false;
    if (before !== after) {
      // Rooms keep each member's setting for reads that come over room sockets.
      const me = this.profile!.userId;
      await Promise.allSettled(this.inbox.store.roomIds().map((roomId) => storedRoom(this.env, roomId).setSendReceipts(me, after)));
    }
    return this.settings();
  }

  /**
   * The person's display name or avatar changed (the directory has it already):
   * every room they are in updates its member row and tells its viewers. A
   * room homed on another node is asked over the link directly (this node's
   * mirror of it may hold nothing yet); one that cannot be reached keeps the
   * old name until the next change.
   */
  async announceProfile(): Promise<void> {
    if (!this.profile) return;
    const { userId, username, displayName } = this.profile;
    const caller = { userId, sessionId: "", username, displayName, isAdmin: false };
    await Promise.allSettled(
      this.inbox.store.roomIds().map((roomId) =>
        homeNode(roomId) === this.env.NODE_NAME ? storedRoom(this.env, roomId).memberProfileChanged(userId, displayName) : callHome(this.env, roomId, "memberProfileChanged", caller, []),
      ),
    );
  }

  // ------------------------------------------------------------- sessions

  async createSession(userAgent: string): Promise<{ token: string; session: SessionInfo }> {
    return this.sessions.create(userAgent);
  }

  async authenticate(secret: string): Promise<Caller | null> {
    return this.sessions.authenticate(secret);
  }

  async listSessions(): Promise<SessionInfo[]> {
    return this.sessions.list();
  }

  async createTicket(sessionId: string): Promise<{ ticket: string; expiresAt: number }> {
    return this.sessions.createTicket(sessionId);
  }

  async redeemTicket(secret: string): Promise<Caller | null> {
    return this.sessions.redeemTicket(secret);
  }

  /** Is `sessionId` a live session of this user (a node acting for them as a visitor there: routes/link.ts)? */
  async hasSession(sessionId: string): Promise<boolean> {
    return this.state.ready && !!this.state.profile?.active && this.sessions.exists(sessionId);
  }

  /** End one session; `by` says who, for the audit trail (default: the node). */
  async revokeSession(sessionId: string, by?: EndedBy): Promise<boolean> {
    return this.sessions.revoke(sessionId, by);
  }

  async revokeAll(reason = "signed out everywhere", keep?: string, actor?: string): Promise<number> {
    return this.sessions.revokeAll(reason, keep, actor);
  }

  // ---------------------------------------------------------------- inbox

  async applyInboxUpdate(update: InboxUpdate): Promise<void> {
    await this.open();
    this.inbox.applyUpdate(update);
  }

  async applyActivity(activity: RoomActivity): Promise<{ live: boolean }> {
    if (!this.state.ready) return { live: true };
    return this.inbox.applyActivity(activity);
  }

  /** Mute or unmute one of the user's rooms; every device gets the changed entry. */
  async setRoomMuted(roomId: string, muted: boolean): Promise<InboxRoom> {
    if (!this.state.ready) throw notFound();
    return this.inbox.setMuted(roomId, muted);
  }

  async inboxRooms(opts: { looking?: boolean } = {}): Promise<InboxRoom[]> {
    if (!this.state.ready) return [];
    return this.inbox.rooms(opts);
  }

  async notifications(before: number | undefined, limit: number): Promise<{ notifications: Notification[]; unread: number }> {
    if (!this.state.ready) return { notifications: [], unread: 0 };
    return { notifications: this.inbox.store.notifications(before, Math.min(Math.max(limit, 1), 100)), unread: this.inbox.store.unreadNotifications() };
  }

  // ------------------------------------------------------------- presence

  async getPresence(askerRooms: string[] | null = null): Promise<Presence | null> {
    return this.presence.get(askerRooms);
  }

  async addWatcher(watcherId: string, watcherRooms: string[]): Promise<Presence | null> {
    return this.presence.addWatcher(watcherId, watcherRooms);
  }

  async presenceChanged(presence: Presence): Promise<boolean> {
    return this.presence.watchedChanged(presence);
  }

  // -------------------------------------------------------- device socket

  override async fetch(request: Request): Promise<Response> {
    const refused = refuseUnlessUpgrade(request);
    if (refused) return refused;
    const caller = callerFromHeaders(request.headers);
    const p = this.profile;
    if (!caller || !p || !p.active || caller.userId !== p.userId) return errorResponse(new AppError("unauthorized", "not signed in"));
    if (!this.sessions.exists(caller.sessionId)) return errorResponse(new AppError("unauthorized", "session revoked"));
    // Nobody was looking until now: rooms may have held summaries back; ask them first.
    if (!this.inbox.someoneLooking()) await this.inbox.refresh();
    const posParam = new URL(request.url).searchParams.get("pos");
    const pos = posParam !== null && /^\d{1,15}$/.test(posParam) ? Number(posParam) : null;
    const client = this.devices.accept(caller.userId, caller.sessionId, () => (pos === null ? this.inbox.hello(caller.sessionId) : this.inbox.since(pos, caller.sessionId)));
    await this.presence.update();
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const received = this.devices.receive(ws, raw, this.limits.maxFrameBytes, !!this.profile?.active);
    if (!received) return;
    const { device, frame } = received;
    try {
      await this.handleFrame(ws, device, frame);
    } catch (err) {
      const e = asAppError(err);
      if (!e) log("error", "device.frame_failed", { frame: frame.type, error: errorText(err) });
      this.devices.send(ws, failureFrame(e, frame.reqId));
    }
  }

  private async handleFrame(ws: WebSocket, device: DeviceState, frame: ClientDeviceFrame): Promise<void> {
    switch (frame.type) {
      case "ping":
        this.devices.send(ws, { type: "pong" });
        return;
      case "sync":
        this.devices.send(ws, this.inbox.since(frame.pos, device.sessionId, frame.reqId));
        return;
      case "read":
        // The room id comes from the client: only rooms in this inbox are reached (a
        // made-up id must not touch, let alone create, a room object).
        if (!this.inbox.store.room(frame.roomId)) throw notFound();
        await storedRoom(this.env, frame.roomId).markRead(this.sessions.callerFor(device.sessionId), frame.seq);
        break;
      case "presence.set":
        this.devices.setState(ws, { ...device, status: frame.status });
        await this.presence.update();
        break;
      case "presence.watch":
        await this.presence.watch(ws, device, frame.userIds);
        break;
    }
    if (frame.reqId) this.devices.send(ws, okFrame(frame.reqId));
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    socketClosed("device", this.ctx, ws, code, this.profile?.userId);
    closeBack(ws, code);
    await this.presence.update(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    socketClosed("device", this.ctx, ws, 1006, this.profile?.userId);
    closeOnError(ws);
    await this.presence.update(ws);
  }
}
