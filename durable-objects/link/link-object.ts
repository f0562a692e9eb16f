/**
 * LinkObject: one per other node of the cluster, on every node (named
 * `link:<peer>`). It watches the link with heartbeats, so a cut WAN link is
 * noticed within seconds and every part of the node (and every person, through
 * `GET /api/v1/cluster`) can see which branch is unreachable and since when.
 *
 * Lifecycle: the Worker calls `start()` once per isolate (at the first request,
 * and `npm start` makes one at once); from then on the object's alarm fires
 * every HEARTBEAT_MS, asks the peer `POST /link/v1/ping`, and keeps the
 * link's state in memory and in its SQLite file (so a restart shows the last
 * known state until the next heartbeat). Any other part of the node that talks
 * to the peer reports how it went (`noteResult`), so a failed send marks the
 * link down at once rather than at the next heartbeat.
 *
 * It also carries presence across the link both ways: this node's people's
 * presence to the peer (presence-out.ts) and the peer's people's presence for
 * this node's watchers (presence-in.ts).
 */
import { errorText, log } from "../shared/log";
import { reportLink } from "../shared/node-metrics";
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../shared/env";
import { LinkError, linkFetch, peerNamed } from "../shared/cluster";
import { LINK_PROTOCOL_VERSION } from "../shared/link-auth";
import { DirectoryFeedPage, LinkSendsAnswer, LinkStatusSchema, PingAnswer, type LinkPresenceAnswer, type LinkPresenceReport, type LinkSendItem, type LinkSendResult, type LinkState, type LinkStatus } from "../../protocol/cluster";
import type { Presence } from "../../protocol/device";
import { directoryStub, homeRoom, storedMirror } from "../shared/objects";
import { SendQueue } from "./send-queue";
import { PresenceOutbox } from "./presence-out";
import { RemotePresence } from "./presence-in";

/** Heartbeat period; with HEARTBEAT_TIMEOUT_MS and DOWN_AFTER_FAILURES a cut is noticed within ~8 s (≤ 10 s promised). */
export const HEARTBEAT_MS = 1500;
export const HEARTBEAT_TIMEOUT_MS = 2500;
/** consecutive failures (heartbeats or other requests) after which the link counts as down */
export const DOWN_AFTER_FAILURES = 2;

export class LinkObject extends DurableObject<Env> {
  private status: LinkStatus | null = null;
  private failures = 0;
  private firstFailureAt: number | null = null;
  private savedAt = 0;
  private readonly queue: SendQueue;
  private delivering: Promise<void> | null = null;
  private readonly presenceOut: PresenceOutbox;
  private readonly presenceIn: RemotePresence;
  /**
   * Rooms of this node whose push to the peer failed: they wait (back-off,
   * room/peer-push.ts) and are told the moment a heartbeat gets through, so a
   * healed link is caught up within a heartbeat, not at the end of a 10 s wait.
   * Memory only: a room that is not told retries on its own schedule.
   */
  private readonly waitingRooms = new Set<string>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS link_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    this.queue = new SendQueue(ctx.storage.sql);
    this.presenceOut = new PresenceOutbox(ctx.storage.sql, env, () => this.status?.node ?? null, (ok) => this.status && this.record(ok, null));
    this.presenceIn = new RemotePresence(ctx.storage.sql, env);
    const row = ctx.storage.sql.exec<{ value: string }>("SELECT value FROM link_state WHERE key = 'status'").toArray()[0];
    if (row) {
      const parsed = LinkStatusSchema.safeParse(JSON.parse(row.value));
      if (parsed.success) this.status = parsed.data;
    }
  }

  /** Arm the heartbeat (idempotent). `node` is a name from the cluster file. */
  async start(node: string): Promise<LinkStatus> {
    const status = this.ensure(node);
    status.queued = this.queue.size();
    reportLink(node, status.queued, status.state === "up");
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now());
    return status;
  }

  async getStatus(node: string): Promise<LinkStatus> {
    const s = this.ensure(node);
    s.queued = this.queue.size();
    return s;
  }

  /**
   * Queue sends of this node's members into rooms homed on `node` (durable
   * before this returns), and deliver at once if the link is up. Returns the
   * link's state, so the mirror can tell its sender "queued" when it is not up.
   *
   * A send already waiting here (same idempotency key) is not queued twice, so
   * the mirror hands a send over again on every repeat it has no answer for:
   * this queue, not the mirror's record, is what says a send will be delivered
   * (mirror/mirror-sends.ts `submit`). One that was delivered meanwhile and is
   * queued again reaches the home as a duplicate, which stores nothing new.
   */
  async enqueueSends(node: string, items: LinkSendItem[]): Promise<LinkState> {
    this.ensure(node);
    this.queue.push(items, Date.now());
    reportLink(node, this.queue.size(), this.status!.state === "up");
    if (this.status!.state !== "down") void this.deliver(node);
    return this.status!.state;
  }

  /**
   * Deliver the queue in order, a batch at a time, until it is empty or the
   * link fails. One delivery at a time: a second caller waits for the running one.
   */
  private deliver(node: string): Promise<void> {
    this.delivering ??= (async () => {
      try {
        for (let batch = this.queue.head(); batch.length; batch = this.queue.head()) {
          let answer;
          try {
            answer = await linkFetch(this.env, node, "POST", "/link/v1/sends", { items: batch.map((q) => q.item) });
          } catch (err) {
            if (!(err instanceof LinkError)) log("error", "link.delivery_failed", { peer: node, error: errorText(err) });
            this.record(false, null);
            return;
          }
          this.record(true, null);
          const parsed = LinkSendsAnswer.safeParse(answer.body);
          if (answer.status !== 200 || !parsed.success) {
            log("error", "link.sends_refused", { peer: node, status: answer.status });
            return;
          }
          const { results, stopped } = parsed.data;
          // The home answered for a prefix of the batch, in order.
          this.queue.drop(batch.slice(0, results.length).map((q) => q.id));
          await this.report(results);
          if (stopped !== null || results.length < batch.length) {
            log("warn", "link.batch_stopped", { peer: node, reason: stopped ?? "short answer" });
            return;
          }
        }
      } finally {
        this.delivering = null;
        if (this.status) {
          this.status.queued = this.queue.size();
          reportLink(this.status.node, this.status.queued, this.status.state === "up");
        }
      }
    })();
    return this.delivering;
  }

  /** Tell each room's mirror what became of its sends (it answers the senders). */
  private async report(results: LinkSendResult[]): Promise<void> {
    const byRoom = new Map<string, LinkSendResult[]>();
    for (const r of results) {
      const roomId = r.ok ? r.message.roomId : r.roomId;
      if (!roomId) continue;
      byRoom.set(roomId, [...(byRoom.get(roomId) ?? []), r]);
    }
    await Promise.allSettled([...byRoom].map(([roomId, rs]) => storedMirror(this.env, roomId).sendResults(rs)));
  }

  /**
   * Another request to this peer succeeded or failed: the same bookkeeping as a
   * heartbeat, so a cut is noticed at the first failed request.
   */
  /** A person of this node is being erased: their sends still queued for `node` are dropped (directory/erasure-mirrors.ts). */
  async dropSendsOf(node: string, userId: string): Promise<number> {
    this.ensure(node);
    const dropped = this.queue.dropSender(userId);
    this.status!.queued = this.queue.size();
    return dropped;
  }

  async noteResult(node: string, ok: boolean, roomId?: string): Promise<LinkState> {
    this.ensure(node);
    if (!ok && roomId && this.waitingRooms.size < 100_000) this.waitingRooms.add(roomId);
    this.record(ok, null);
    return this.status!.state;
  }

  // ------------------------------------------------------------- presence

  /** A person of this node is in this state now (user/presence.ts, on every recompute): tell the peer if it changed. */
  async notePresence(node: string, presence: Presence): Promise<void> {
    this.ensure(node);
    if (this.presenceOut.note(presence) && this.status!.state !== "down") this.presenceOut.schedule();
  }

  /** The peer reports its people's presence (ids checked by worker/routes/link-presence.ts). */
  async applyPresence(node: string, report: LinkPresenceReport): Promise<LinkPresenceAnswer> {
    return this.presenceIn.apply(report, this.ensure(node).state === "down");
  }

  /** For our answer to the peer's heartbeat: do we want a full report of its people? */
  async presenceWanted(node: string): Promise<boolean> {
    return this.presenceIn.wanted(this.ensure(node).state === "down");
  }

  /** The peer's people's presence (ids checked: the peer's, known, visible to the asker). */
  async remotePresence(node: string, ids: string[]): Promise<Presence[]> {
    return this.presenceIn.get(ids, this.ensure(node).state === "down");
  }

  /** `watcherId` of this node wants `presence` frames for these people of the peer; returns their presence now. */
  async watchRemotePresence(node: string, watcherId: string, ids: string[]): Promise<Presence[]> {
    return this.presenceIn.watch(watcherId, ids, this.ensure(node).state === "down");
  }

  override async alarm(): Promise<void> {
    const node = this.status?.node;
    // Re-arm first: a heartbeat that throws must not end the heartbeats.
    await this.ctx.storage.setAlarm(Date.now() + HEARTBEAT_MS);
    if (!node || !peerNamed(this.env, node)) return;
    const started = Date.now();
    try {
      const { status, body } = await linkFetch(this.env, node, "POST", "/link/v1/ping", { node: this.env.NODE_NAME, version: this.env.VERSION, protocol: LINK_PROTOCOL_VERSION }, HEARTBEAT_TIMEOUT_MS);
      if (status !== 200) throw new LinkError(node, "unreachable", `ping answered ${status}`);
      this.record(true, { rttMs: Date.now() - started, peerVersion: (body as { version?: string } | null)?.version ?? null });
      this.wakeRooms(node);
      const answer = PingAnswer.safeParse(body);
      // The link is up whatever the feed does; a failed pull is tried again at the next heartbeat.
      if (answer.success) await this.pullDirectory(node, answer.data.directoryVersion).catch((err) => log("error", "link.directory_pull_failed", { peer: node, error: errorText(err) }));
      // The peer holds nothing current of our people (it restarted, or counted the link down): all of it.
      if (answer.success && answer.data.presenceWanted) this.presenceOut.wantFull();
      if (this.presenceOut.due()) await this.presenceOut.flush();
      // The link is up: whatever waits goes now (after a cut, within one heartbeat of its return).
      if (this.queue.size() > 0) await this.deliver(node);
    } catch (err) {
      if (!(err instanceof LinkError)) log("error", "link.heartbeat_failed", { peer: node, error: errorText(err) });
      this.record(false, null);
    }
  }

  /** The peer answers again: rooms whose pushes failed push now (not awaited: one slow room must not hold the heartbeat). */
  private wakeRooms(node: string): void {
    if (this.waitingRooms.size === 0) return;
    const rooms = [...this.waitingRooms];
    this.waitingRooms.clear();
    for (const roomId of rooms) void homeRoom(this.env, roomId).peerUp(node).catch((err) => log("error", "link.room_wake_failed", { peer: node, room: roomId, error: errorText(err) }));
  }

  /**
   * The peer's accounts changed since we last read its feed: read on (a page
   * at a time) and keep them in our directory (durable-objects/directory/replication.ts).
   */
  private async pullDirectory(node: string, theirs: number): Promise<void> {
    const directory = directoryStub(this.env);
    let after = await directory.peerFeedPosition(node);
    for (let pages = 0; after < theirs && pages < 20; pages++) {
      const { status, body } = await linkFetch(this.env, node, "GET", `/link/v1/directory/users?after=${after}`);
      const page = DirectoryFeedPage.safeParse(body);
      if (status !== 200 || !page.success) throw new LinkError(node, "unreachable", `directory feed answered ${status}`);
      const deactivated = await directory.applyFeedPage(node, page.data.users, page.data.version);
      if (deactivated.length) log("info", "directory.accounts_deactivated", { peer: node, count: deactivated.length });
      if (page.data.version <= after || !page.data.more) break;
      after = page.data.version;
    }
  }

  private ensure(node: string): LinkStatus {
    if (!this.status || this.status.node !== node) {
      const peer = peerNamed(this.env, node);
      this.status = { node, url: peer?.url ?? "", state: "unknown", since: Date.now(), lastContactAt: null, rttMs: null, peerVersion: null, queued: 0 };
    }
    return this.status;
  }

  private record(ok: boolean, heartbeat: { rttMs: number; peerVersion: string | null } | null): void {
    const s = this.status!;
    const now = Date.now();
    let state: LinkState = s.state;
    if (ok) {
      this.failures = 0;
      this.firstFailureAt = null;
      state = "up";
      s.lastContactAt = now;
      if (heartbeat) {
        s.rttMs = heartbeat.rttMs;
        s.peerVersion = heartbeat.peerVersion;
      }
    } else {
      this.failures++;
      this.firstFailureAt ??= now;
      if (this.failures >= DOWN_AFTER_FAILURES) state = "down";
    }
    const changed = state !== s.state;
    if (changed) {
      // "down since" is when the failures began, not when we became sure.
      s.since = state === "down" ? (this.firstFailureAt ?? now) : now;
      s.state = state;
      log(state === "down" ? "warn" : "info", state === "down" ? "link.down" : "link.up", { peer: s.node, since: new Date(s.since).toISOString() });
      reportLink(s.node, s.queued ?? 0, state === "up");
      // Up (again): the peer may have missed changes, or hold our people from before a restart.
      if (state === "up") this.presenceOut.wantFull();
      // Down: the peer's people show offline here until it reports again.
      if (state === "down") void this.presenceIn.linkDown(s.since).catch((err) => log("error", "presence.offline_failed", { peer: s.node, error: errorText(err) }));
    }
    // Kept across restarts, but not written on every heartbeat (each write is an fsync).
    if (!changed && now - this.savedAt < 30_000) return;
    this.savedAt = now;
    this.ctx.storage.sql.exec("INSERT INTO link_state (key, value) VALUES ('status', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", JSON.stringify(s));
  }
}
