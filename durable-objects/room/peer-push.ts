/**
 * A room's stream to the other nodes where it has members: one stream per
 * (room, node), however many members are there, and each node gets one copy
 * of every message (docs/FEDERATION.md).
 *
 * After every change the room calls `schedule()`. For each such node at most
 * one push is in flight: it carries everything changed after the version that
 * node last confirmed (new messages, edits, recalls and reactions of older
 * ones), the member list when it changed, read positions and the room itself.
 * The node's mirror applies it (a repeat changes nothing) and answers with the
 * positions it now has; the room keeps that cursor in its own SQLite file and
 * goes on from there — so a node that was cut off, or restarted, or whose answer
 * was lost, gets exactly what it misses: no gap, no duplicate. Changes that come
 * while a push is in flight ride in the next one (under load, pushes carry
 * batches). A failed push is retried with back-off (0.5 s doubling to 10 s,
 * shared/peer-backoff.ts), never on every change: while a node is known down a
 * busy room costs nothing for it, and the heartbeat that sees it back ends the
 * wait (`linkUp`, from the LinkObject). The alarm is armed for the retry too,
 * so an eviction meanwhile does not lose it.
 *
 * The cursors are written at most once per CURSOR_SAVE_MS, not after every
 * answer: each write is a commit of the room's file (an fsync), and until it is
 * on disk the room's next broadcast and next push wait (the output gate) — at
 * 200 msg/s that was a commit per push per node on top of the messages' own.
 * A cursor lost to a crash is only older than it was: the room pushes again
 * from there and the mirror skips what it has (a repeat changes nothing).
 *
 * Read positions travel only when they changed since what that node
 * confirmed (`acked`, per node, in memory): a push after a wake carries all of
 * them once. Sending every member's position in every push cost most of the
 * link's bytes and a `receipt` event per member per push at every mirror socket.
 */
import { errorText, log } from "../shared/log";
import type { Env } from "../shared/env";
import { LinkError, linkFetch } from "../shared/cluster";
import { linkStub } from "../shared/objects";
import { Backoff } from "../shared/peer-backoff";
import { RoomPushAnswer, type RoomPush } from "../../protocol/cluster";
import { homeNode } from "../../protocol/ids";
import type { Member, Message } from "../../protocol/models";

/** messages per push; a node further behind gets several pushes in a row */
export const PEER_PUSH_LIMIT = 500;
/** how often at most the nodes' cursors are written to the room's file (see above) */
export const CURSOR_SAVE_MS = 1000;

export interface PeerCursor {
  version: number;
  membersRev: number;
}

/** What the stream needs from its room. */
export interface PeerPushHost {
  env: Env;
  roomId(): string;
  room(): RoomPush["room"];
  members(): Member[];
  membersRev(): number;
  lastSeq(): number;
  version(): number;
  /**
   * The first `limit` messages changed after `version`, in VERSION order (so
   * the last one's version is a safe cursor: everything at or below it is in).
   */
  changedSince(version: number, limit: number): Message[];
  reads(): { userId: string; seq: number }[];
  /** the retention marker, once the room purged (every push carries it) */
  retention(): RoomPush["retention"];
  loadCursors(): Record<string, PeerCursor>;
  saveCursors(cursors: Record<string, PeerCursor>): void;
  retryBy(at: number): void;
}

export class PeerPush {
  private cursors: Record<string, PeerCursor> | null = null;
  private inFlight = new Map<string, Promise<void>>();
  private again = new Set<string>();
  private typing = new Set<string>();
  private readonly backoff = new Backoff();
  private readonly retries = new Map<string, ReturnType<typeof setTimeout>>();
  /** per node: the read positions it confirmed (userId → seq) */
  private readonly acked = new Map<string, Map<string, number>>();
  private savedAt = 0;
  private saveTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly host: PeerPushHost) {}

  /** Nodes that must hear from this room: those with members, and those that still have to learn a removal. */
  private targets(): string[] {
    const self = this.host.env.NODE_NAME;
    const nodes = new Set<string>();
    for (const m of this.host.members()) {
      const home = homeNode(m.userId);
      if (home && home !== self) nodes.add(home);
    }
    const cursors = this.load();
    for (const [node, c] of Object.entries(cursors)) if (!nodes.has(node) && c.membersRev < this.host.membersRev()) nodes.add(node);
    return [...nodes].filter((n) => this.host.env.CLUSTER?.nodes.some((x) => x.name === n));
  }

  private load(): Record<string, PeerCursor> {
    this.cursors ??= this.host.loadCursors();
    return this.cursors;
  }

  /** True when some node has not confirmed everything (a wake after a crash calls schedule then). */
  behind(): boolean {
    const c = this.load();
    return this.targets().some((n) => (c[n]?.version ?? -1) < this.host.version() || (c[n]?.membersRev ?? -1) < this.host.membersRev());
  }

  /** Push to every node that has not confirmed everything; one push in flight per node. */
  schedule(): void {
    if (!this.host.env.CLUSTER) return;
    for (const node of this.targets()) this.start(node);
  }

  /** Someone is typing: tell the other nodes' viewers (not stored, not retried). */
  typed(userId: string): void {
    if (!this.host.env.CLUSTER) return;
    this.typing.add(userId);
    for (const node of this.targets()) this.start(node);
  }

  /** The link to `node` works again (its heartbeat got through): push now, not at the end of the back-off. */
  linkUp(node: string): void {
    if (!this.backoff.isFailing(node)) return;
    this.backoff.succeeded(node);
    const timer = this.retries.get(node);
    if (timer !== undefined) clearTimeout(timer);
    this.retries.delete(node);
    this.start(node);
  }

  private start(node: string): void {
    if (this.inFlight.has(node)) {
      this.again.add(node);
      return;
    }
    // Known down: the retry timer (or linkUp) pushes everything since the cursor then.
    if (this.backoff.waitMs(node, Date.now()) > 0) return;
    const run = this.push(node).finally(() => {
      this.inFlight.delete(node);
      if (this.again.delete(node)) this.start(node);
    });
    this.inFlight.set(node, run);
  }

  /** Write the cursors now, or within CURSOR_SAVE_MS of the last write (see the top of this file). */
  private saveCursors(now: boolean): void {
    const due = this.savedAt + CURSOR_SAVE_MS - Date.now();
    if (now || due <= 0) {
      if (this.saveTimer !== null) clearTimeout(this.saveTimer);
      this.saveTimer = null;
      this.savedAt = Date.now();
      this.host.saveCursors(this.load());
      return;
    }
    this.saveTimer ??= setTimeout(() => {
      this.saveTimer = null;
      this.saveCursors(true);
    }, due);
  }

  private async push(node: string): Promise<void> {
    const cursors = this.load();
    const cursor = cursors[node] ?? { version: 0, membersRev: -1 };
    const typing = [...this.typing];
    this.typing.clear();
    const changed = this.host.changedSince(cursor.version, PEER_PUSH_LIMIT);
    const membersChanged = cursor.membersRev !== this.host.membersRev();
    const known = this.acked.get(node);
    const reads = this.host.reads().filter((r) => known?.get(r.userId) !== r.seq);
    if (changed.length === 0 && !membersChanged && typing.length === 0 && reads.length === 0 && cursor.version >= this.host.version()) return;
    // A full page reaches only its last message's version (the rest follows in the next push);
    // otherwise the room's version now. The mirror gets them in seq order, as people must see them.
    const reaches = changed.length === PEER_PUSH_LIMIT ? changed[changed.length - 1].version : Math.max(this.host.version(), cursor.version);
    const payload: RoomPush = {
      room: this.host.room(),
      members: membersChanged ? this.host.members() : null,
      membersRev: this.host.membersRev(),
      lastSeq: changed.length === PEER_PUSH_LIMIT ? Math.max(...changed.map((m) => m.seq)) : this.host.lastSeq(),
      version: reaches,
      after: cursor.version,
      messages: [...changed].sort((a, b) => a.seq - b.seq),
      ...(this.host.retention() ? { retention: this.host.retention() } : {}),
      reads,
      ...(typing.length ? { typing } : {}),
    };
    let answer;
    try {
      const res = await linkFetch(this.host.env, node, "POST", `/link/v1/rooms/${encodeURIComponent(this.host.roomId())}/push`, payload);
      const parsed = RoomPushAnswer.safeParse(res.body);
      if (res.status !== 200 || !parsed.success) throw new LinkError(node, "unreachable", `push answered ${res.status}`);
      answer = parsed.data;
    } catch (err) {
      if (!(err instanceof LinkError)) log("error", "room.push_failed", { room: this.host.roomId(), peer: node, error: errorText(err) });
      // The link object counts the failure and wakes this room when its heartbeat gets through again.
      else void linkStub(this.host.env, node).noteResult(node, false, this.host.roomId()).catch(() => {});
      const at = this.backoff.failed(node, Date.now());
      const timer = this.retries.get(node);
      if (timer !== undefined) clearTimeout(timer);
      this.retries.set(
        node,
        setTimeout(() => {
          this.retries.delete(node);
          this.start(node);
        }, at - Date.now()),
      );
      this.host.retryBy(at);
      return;
    }
    this.backoff.succeeded(node);
    const confirmed = known ?? new Map<string, number>();
    for (const r of reads) confirmed.set(r.userId, r.seq);
    this.acked.set(node, confirmed);
    const members = this.host.members().some((m) => homeNode(m.userId) === node);
    if (members) {
      cursors[node] = { version: answer.version, membersRev: answer.membersRev };
      this.saveCursors(false);
    } else {
      delete cursors[node]; // it learnt the last removal: nothing more goes there
      this.acked.delete(node);
      this.saveCursors(true);
    }
    // More waiting (a long backlog, or changes while this push was out): go on.
    if (members && (answer.version < this.host.version() || answer.membersRev < this.host.membersRev())) this.again.add(node);
  }
}
