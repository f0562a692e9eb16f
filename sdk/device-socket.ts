/**
 * The device socket (`/api/v1/socket`): one per signed-in device, carrying the
 * summary of every room the user is in (unread and mention counts, last
 * messages), notifications and presence. Keeps the inbox as state and resumes
 * with `?pos=` so a reconnect only transfers what changed.
 *
 * @example
 *   const inbox = new DeviceSocket(api).start();
 *   inbox.onChange(() => render(inbox.sortedRooms()));
 */
import { ServerDeviceFrame, type InboxRoom, type Notification, type Presence } from "../protocol/device";
import { ReconnectingSocket, type SocketOptions, type SocketState } from "./socket";
import type { OutpostClient } from "./rest";

export class DeviceSocket {
  readonly rooms = new Map<string, InboxRoom>();
  readonly presence = new Map<string, Presence>();
  pos: number | null = null;
  userId: string | null = null;
  unreadNotifications = 0;
  /** true once the first hello/sync arrived */
  ready = false;
  readonly socket: ReconnectingSocket<ServerDeviceFrame>;
  private watching: string[] = [];
  private readonly changeListeners = new Set<() => void>();
  private readonly notificationListeners = new Set<(n: Notification) => void>();

  constructor(api: OutpostClient, options: SocketOptions = {}) {
    this.socket = new ReconnectingSocket(
      () => api.socketUrl("/socket" + (this.pos === null ? "" : `?pos=${this.pos}`)),
      ServerDeviceFrame,
      { token: api.token, ...options },
    );
    this.socket.onFrame((f) => this.apply(f));
    this.socket.onState((s) => {
      // Watches belong to the connection: say them again after every reconnect.
      if (s === "open" && this.watching.length) this.socket.send({ type: "presence.watch", userIds: this.watching });
      this.emit();
    });
  }

  start(): this {
    this.socket.start();
    return this;
  }
  close(): void {
    this.socket.close();
  }
  get state(): SocketState {
    return this.socket.state;
  }
  /** Frames from the node this SDK could not use and dropped (see ReconnectingSocket.ignoredFrames). */
  get ignoredFrames(): number {
    return this.socket.ignoredFrames;
  }

  onChange(fn: () => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }
  onNotification(fn: (n: Notification) => void): () => void {
    this.notificationListeners.add(fn);
    return () => this.notificationListeners.delete(fn);
  }

  /** Rooms, most recent activity first. */
  sortedRooms(): InboxRoom[] {
    return [...this.rooms.values()].sort((a, b) => (b.lastMessage?.createdAt ?? b.joinedAt) - (a.lastMessage?.createdAt ?? a.joinedAt));
  }

  /** Mark a room read up to `seq` (every device of the user gets the new counts). */
  read(roomId: string, seq: number): boolean {
    return this.socket.send({ type: "read", roomId, seq });
  }
  setPresence(status: "online" | "away"): boolean {
    return this.socket.send({ type: "presence.set", status });
  }
  /** Follow these people's presence (replaces the previous list; at most 200). */
  watchPresence(userIds: string[]): void {
    this.watching = [...new Set(userIds)].slice(0, 200);
    this.socket.send({ type: "presence.watch", userIds: this.watching });
  }

  /** Apply one frame to the state (public so tests can drive it without a socket). */
  apply(f: ServerDeviceFrame): void {
    switch (f.type) {
      case "inbox.hello":
        this.rooms.clear();
        for (const r of f.rooms) this.rooms.set(r.roomId, r);
        this.pos = f.pos;
        this.userId = f.userId;
        this.unreadNotifications = f.unreadNotifications;
        this.ready = true;
        break;
      case "inbox.sync":
        for (const r of f.rooms) this.rooms.set(r.roomId, r);
        for (const id of f.removed) this.rooms.delete(id);
        this.pos = Math.max(this.pos ?? 0, f.pos);
        this.ready = true;
        break;
      case "inbox.room": {
        // Entries carry their own position: an older copy never replaces a newer one.
        const old = this.rooms.get(f.room.roomId);
        if (!old || old.pos <= f.room.pos) this.rooms.set(f.room.roomId, f.room);
        this.pos = Math.max(this.pos ?? 0, f.room.pos);
        break;
      }
      case "inbox.removed":
        this.rooms.delete(f.roomId);
        this.pos = Math.max(this.pos ?? 0, f.pos);
        break;
      case "notification.new":
        this.unreadNotifications += 1;
        for (const fn of this.notificationListeners) fn(f.notification);
        break;
      case "presence":
        this.presence.set(f.presence.userId, f.presence);
        break;
      default:
        return; // ok, pong, error: nothing to keep
    }
    this.emit();
  }

  private emit(): void {
    for (const fn of this.changeListeners) fn();
  }
}
