/**
 * Presence: derived from the user's device sockets (online if any device is
 * active, away if all are idle, offline if none is connected), stored, and
 * pushed to the inboxes that watch this user. A watcher that no longer cares
 * says so and is dropped, so the watcher list cleans itself. Presence is for
 * the people one shares a room with; to anyone else the user looks like they
 * do not exist.
 *
 * In a cluster, every recompute also goes to this node's link objects, which
 * tell the other nodes what changed; people of other nodes are watched
 * through the link object of their home (shared/presence-delivery.ts).
 */
import { eq } from "drizzle-orm";
import type { Presence, PresenceStatus } from "../../protocol/device";
import type { Env } from "../shared/env";
import { existingUsers, storedUser } from "../shared/objects";
import { publishPresence, watchRemotePresence } from "../shared/presence-delivery";
import type { DeviceState, DeviceSockets } from "./device-socket";
import type { Inbox } from "./inbox";
import * as schema from "./schema";
import { readProfileRow, writeProfileRow, type UserDb, type UserState } from "./user-state";

export class UserPresence {
  constructor(
    private readonly state: UserState,
    private readonly db: UserDb,
    private readonly devices: DeviceSockets,
    private readonly inbox: Inbox,
    private readonly env: Env,
  ) {}

  /**
   * This user's presence, for someone who shares a room with them (`askerRooms`
   * are the asker's rooms; null = the user themselves or the node itself).
   */
  get(askerRooms: string[] | null = null): Presence | null {
    const p = this.state.profile;
    if (!p) return null;
    if (askerRooms !== null) {
      const mine = new Set(this.state.ready ? this.inbox.store.roomIds() : []);
      if (!askerRooms.some((r) => mine.has(r))) return null;
    }
    const presence = readProfileRow(this.db, "presence") ?? { userId: p.userId, status: "offline" as PresenceStatus, lastSeen: null };
    return presence.status === "offline" ? presence : { ...presence, lastSeen: Date.now() };
  }

  /** Another user's inbox wants my presence changes. Returns my presence now (null: they may not see it). */
  addWatcher(watcherId: string, watcherRooms: string[]): Presence | null {
    if (!this.state.profile) return null;
    const presence = this.get(watcherRooms);
    if (!presence) return null;
    this.db.insert(schema.watchers).values({ userId: watcherId }).onConflictDoNothing().run();
    return presence;
  }

  /** A watched user's presence changed. Returns false when no device here watches them any more. */
  watchedChanged(presence: Presence): boolean {
    return this.devices.sendToWatchersOf(presence.userId, { type: "presence", presence });
  }

  /**
   * A device asks for these people's presence (ids from the client: only
   * registered users' objects are asked, see shared/objects.ts). It gets a
   * `presence` frame for each who shares a room with this user now, and later
   * ones as they change.
   */
  async watch(ws: WebSocket, device: DeviceState, userIds: string[]): Promise<void> {
    const me = this.state.profile!.userId;
    const ids = (await existingUsers(this.env, userIds)).filter((id) => id !== me);
    // People of other nodes (ids of this node were taken above; the rest are checked there).
    const others = userIds.filter((id) => id !== me && !ids.includes(id));
    this.devices.setState(ws, { ...device, watching: [...ids, ...others] });
    const myRooms = this.inbox.store.roomIds();
    const found = await Promise.allSettled(ids.map((id) => storedUser(this.env, id).addWatcher(me, myRooms)));
    for (const r of found) if (r.status === "fulfilled" && r.value) this.devices.send(ws, { type: "presence", presence: r.value });
    if (others.length) for (const presence of await watchRemotePresence(this.env, me, this.inbox.store.rooms(), others)) this.devices.send(ws, { type: "presence", presence });
  }

  /** Recompute from the devices (`closing`: one going away now); store and push a change to the watchers. */
  async update(closing?: WebSocket): Promise<void> {
    const p = this.state.profile;
    if (!p || !this.state.ready) return;
    const devices = this.devices.open(closing);
    const status: PresenceStatus = devices.length === 0 ? "offline" : devices.some((ws) => this.devices.stateOf(ws)?.status === "online") ? "online" : "away";
    const before = this.get(null);
    if (before && before.status === status) {
      // Unchanged here, but told to the links all the same: a link object that never heard of
      // this person (a node added to the cluster) learns it now; one that knows ignores it.
      await publishPresence(this.env, readProfileRow(this.db, "presence") ?? { ...before, lastSeen: null });
      return;
    }
    const presence: Presence = { userId: p.userId, status, lastSeen: Date.now() };
    writeProfileRow(this.db, "presence", presence);
    const watchers = this.db.select().from(schema.watchers).all();
    const results = await Promise.allSettled(watchers.map((w) => storedUser(this.env, w.userId).presenceChanged(presence)));
    results.forEach((r, i) => {
      if (r.status === "fulfilled" && r.value === false) this.db.delete(schema.watchers).where(eq(schema.watchers.userId, watchers[i].userId)).run();
    });
    await publishPresence(this.env, presence);
  }
}
