/**
 * The presence of another node's people, as this node knows it: kept by this
 * node's LinkObject for that node (one per peer), fed by the peer's reports
 * (`POST /link/v1/presence`, see presence-out.ts on the peer), and passed on to
 * this node's people who watch them — the same `presence` frames, through the
 * watcher's own user object, as for a colleague of their own branch.
 *
 * Memory only, on purpose: what we heard is true only while the link is up.
 * When the link is counted down everyone of that node shows offline (a dot
 * that stays green while the branch is unreachable would lie), and the next
 * heartbeat answer after the link returns asks the peer for a full report
 * (`presenceWanted`, read by the peer's heartbeat). A restart of this node
 * loses nothing that a full report does not bring back within a heartbeat.
 *
 * The watchers (who on this node wants frames for whom) are kept in the link
 * object's SQLite file, like a user object keeps its own watchers: a device
 * watches once, when it connects, and must not miss changes after a restart.
 * A watcher whose devices no longer watch is dropped at the next change.
 */
import type { Presence } from "../../protocol/device";
import type { LinkPresenceItem, LinkPresenceReport } from "../../protocol/cluster";
import type { Env } from "../shared/env";
import { storedUser } from "../shared/objects";

export class RemotePresence {
  /** the peer's people as last reported (offline ones too: their lastSeen) */
  private readonly known = new Map<string, Presence>();
  /** a full report arrived since the link was last counted down (or since this object started) */
  private synced = false;
  private last: { epoch: string; seq: number } | null = null;

  constructor(
    private readonly sql: SqlStorage,
    private readonly env: Env,
  ) {
    sql.exec("CREATE TABLE IF NOT EXISTS presence_watchers (user_id TEXT NOT NULL, watcher_id TEXT NOT NULL, PRIMARY KEY (user_id, watcher_id)) WITHOUT ROWID");
  }

  /** Should the peer send everything (asked in our answer to its heartbeat)? Not while we count the link down: we would refuse it. */
  wanted(linkDown: boolean): boolean {
    return !this.synced && !linkDown;
  }

  /**
   * Apply a report (its user ids already checked: homed on the peer, known to
   * our directory). Refused while we count the link down: the peer tries again
   * when our heartbeats get through and we ask for it.
   */
  async apply(report: LinkPresenceReport, linkDown: boolean): Promise<{ accepted: boolean; applied: number }> {
    if (linkDown) return { accepted: false, applied: 0 };
    // A report that arrives after a newer one of the same sender (a slow request overtaken by its retry) says nothing new.
    if (this.last && this.last.epoch === report.epoch && report.seq <= this.last.seq) return { accepted: true, applied: 0 };
    this.last = { epoch: report.epoch, seq: report.seq };
    const now = Date.now();
    const changed: Presence[] = [];
    const set = (p: Presence) => {
      const before = this.known.get(p.userId)?.status ?? "offline";
      this.known.set(p.userId, p);
      if (before !== p.status) changed.push(p);
    };
    const listed = new Set<string>();
    for (const item of report.items) {
      listed.add(item.userId);
      set(toPresence(item));
    }
    if (report.full) {
      for (const p of this.known.values()) if (!listed.has(p.userId) && p.status !== "offline") set({ userId: p.userId, status: "offline", lastSeen: now });
      this.synced = true;
    }
    await this.notify(changed);
    return { accepted: true, applied: report.items.length };
  }

  /** The link was counted down (failures since `since`): everyone of the peer shows offline until it reports again. */
  async linkDown(since: number): Promise<void> {
    this.synced = false;
    this.last = null;
    const changed: Presence[] = [];
    for (const p of this.known.values()) {
      if (p.status === "offline") continue;
      const off: Presence = { userId: p.userId, status: "offline", lastSeen: since };
      this.known.set(p.userId, off);
      changed.push(off);
    }
    await this.notify(changed);
  }

  /** These people's presence (ids already checked: the peer's, known, visible to the asker). */
  get(ids: string[], linkDown: boolean): Presence[] {
    const now = Date.now();
    return ids.map((userId) => {
      const p = this.known.get(userId);
      if (!p) return { userId, status: "offline", lastSeen: null };
      if (p.status === "offline") return p;
      if (linkDown) return { userId, status: "offline", lastSeen: p.lastSeen };
      // Online or away: "seen" is now, as for local people (user/presence.ts).
      return { ...p, lastSeen: now };
    });
  }

  /** `watcherId` (a user of this node) wants frames for `ids`; returns their presence now. */
  watch(watcherId: string, ids: string[], linkDown: boolean): Presence[] {
    for (const id of ids) this.sql.exec("INSERT OR IGNORE INTO presence_watchers (user_id, watcher_id) VALUES (?, ?)", id, watcherId);
    return this.get(ids, linkDown);
  }

  /** Tell each watcher's user object; a watcher none of whose devices watches any more is dropped. */
  private async notify(changed: Presence[]): Promise<void> {
    for (const p of changed) {
      const watchers = this.sql.exec<{ watcher_id: string }>("SELECT watcher_id FROM presence_watchers WHERE user_id = ?", p.userId).toArray();
      if (watchers.length === 0) continue;
      const frame = p.status === "offline" ? p : { ...p, lastSeen: Date.now() };
      const results = await Promise.allSettled(watchers.map((w) => storedUser(this.env, w.watcher_id).presenceChanged(frame)));
      results.forEach((r, i) => {
        if (r.status === "fulfilled" && r.value === false) this.sql.exec("DELETE FROM presence_watchers WHERE user_id = ? AND watcher_id = ?", p.userId, watchers[i].watcher_id);
      });
    }
  }
}

function toPresence(item: LinkPresenceItem): Presence {
  return { userId: item.userId, status: item.status, lastSeen: item.lastSeen };
}
