/**
 * The inbox: the user's rooms with counts and previews, kept up to date by
 * the rooms (membership through their outboxes, activity coalesced), pushed
 * to the user's devices, and refreshed from the rooms when someone starts
 * looking after nobody was.
 *
 * Whether anyone is looking (a device socket open, or the room list read over
 * REST in the last minute) is answered to every summary a room sends: while
 * nobody is, rooms send plain summaries at most every
 * AWAY_SUMMARY_INTERVAL_MS, and the inbox asks the rooms it heard from lately
 * for fresh ones the moment someone looks again.
 */
import type { InboxRoom, ServerDeviceFrame } from "../../protocol/device";
import type { Env } from "../shared/env";
import { storedRoom } from "../shared/objects";
import { notFound } from "../shared/app-error";
import type { DeviceSockets } from "./device-socket";
import { ACTIVITY_WRITE_DELAY_MS, InboxStore } from "./inbox-store";
import { AWAY_SUMMARY_INTERVAL_MS, type InboxUpdate, type RoomActivity } from "./inbox-update";
import type { UserDb, UserState } from "./user-state";

/** a room list read over REST counts as someone looking for this long (see someoneLooking) */
const LOOKING_AFTER_READ_MS = 60_000;
/** rooms asked at once when the inbox refreshes */
const REFRESH_SLICE = 16;

export class Inbox {
  readonly store: InboxStore;
  /** when the room list was last read over REST (memory only: after a wake nobody counts as looking) */
  private lookedAt = 0;
  /** rooms whose summary was answered "nobody looking", and when (they may hold the next ones back) */
  private heardWhileAway = new Map<string, number>();

  constructor(
    private readonly state: UserState,
    db: UserDb,
    storage: DurableObjectStorage,
    private readonly devices: DeviceSockets,
    private readonly env: Env,
  ) {
    this.store = new InboxStore(db, storage, () => {
      // Write coalesced activity a little later, in one commit (see InboxStore.pending).
      // Jittered: a busy room reaches all its members' inboxes at once, and their
      // commits (one fsync each, on the node's one thread) must not land together.
      setTimeout(() => this.store.flushPending(), ACTIVITY_WRITE_DELAY_MS * (1 + Math.random()));
    });
  }

  /** Membership news from a room's outbox (in order, at least once). */
  applyUpdate(update: InboxUpdate): void {
    switch (update.type) {
      case "room.added":
        this.push(this.store.added(update.room));
        break;
      case "room.removed": {
        const pos = this.store.removed(update.roomId);
        if (pos !== null) this.devices.broadcast({ type: "inbox.removed", roomId: update.roomId, pos });
        break;
      }
      case "room.changed":
        this.push(this.store.changed(update.roomId, { name: update.name, role: update.role }));
        break;
      case "notes.forget":
        this.store.forgetNotifications(update);
        break;
    }
  }

  /** The user's own mute switch for a room (not found: a room the user is not in). */
  setMuted(roomId: string, muted: boolean): InboxRoom {
    const room = this.store.changed(roomId, { muted });
    if (!room) throw notFound();
    this.push(room);
    return room;
  }

  /**
   * A room's coalesced activity (new messages, counts, read sync). Ignored for
   * rooms the user is not in. The answer tells the room whether anyone is
   * looking at this inbox.
   */
  applyActivity(activity: RoomActivity): { live: boolean } {
    this.apply(activity);
    const live = this.someoneLooking();
    if (!live) this.heardWhileAway.set(activity.roomId, Date.now());
    return { live };
  }

  /** The room list as its reader sees it: fresh from the rooms when nobody was looking. */
  async rooms(opts: { looking?: boolean } = {}): Promise<InboxRoom[]> {
    if (opts.looking) {
      const wasLive = this.someoneLooking();
      this.lookedAt = Date.now();
      if (!wasLive) await this.refresh();
    }
    return this.store.rooms();
  }

  /** Someone is looking: a device socket is open, or the room list was read over REST lately. */
  someoneLooking(): boolean {
    if (Date.now() - this.lookedAt < LOOKING_AFTER_READ_MS) return true;
    return this.devices.anyOpen();
  }

  /**
   * Ask the rooms that may be holding a summary back for this user's current
   * one. A room holds back only within AWAY_SUMMARY_INTERVAL_MS of its last
   * summary here (then its alarm delivers), so only rooms heard from lately
   * are asked: those this object remembers answering "nobody looking" to, and
   * (it may have been evicted since) those whose last message is that recent.
   * Rooms quiet for longer are not woken.
   */
  async refresh(): Promise<void> {
    const me = this.state.profile?.userId;
    if (!me) return;
    const since = Date.now() - 2 * AWAY_SUMMARY_INTERVAL_MS;
    const ids = this.store
      .rooms()
      .filter((r) => (this.heardWhileAway.get(r.roomId) ?? 0) >= since || (r.lastMessage?.createdAt ?? 0) >= since)
      .map((r) => r.roomId);
    this.heardWhileAway.clear();
    for (let i = 0; i < ids.length; i += REFRESH_SLICE) {
      const results = await Promise.allSettled(ids.slice(i, i + REFRESH_SLICE).map((roomId) => storedRoom(this.env, roomId).inboxSummary(me)));
      for (const r of results) if (r.status === "fulfilled" && r.value) this.apply(r.value);
    }
  }

  /** The whole inbox: a device's first frame, or its answer to a position it cannot resume from. */
  hello(sessionId: string): ServerDeviceFrame {
    return { type: "inbox.hello", userId: this.state.profile!.userId, sessionId, pos: this.store.pos, rooms: this.store.rooms(), unreadNotifications: this.store.unreadNotifications() };
  }

  /**
   * What changed since `pos`, or the whole inbox for a position from the
   * future (garbage, or another node's). `replyTo` answers a `sync` frame.
   */
  since(pos: number, sessionId: string, replyTo?: string): ServerDeviceFrame {
    if (pos > this.store.pos) return this.hello(sessionId);
    return { type: "inbox.sync", pos: this.store.pos, ...this.store.changedSince(pos), ...(replyTo ? { replyTo } : {}) };
  }

  private apply(activity: RoomActivity): void {
    const result = this.store.activity(activity);
    if (!result) return;
    this.push(result.room);
    for (const notification of result.notifications) this.devices.broadcast({ type: "notification.new", notification });
    if (result.notifications.length) this.store.trimNotifications();
  }

  private push(room: InboxRoom | null): void {
    if (room) this.devices.broadcast({ type: "inbox.room", room });
  }
}
