/**
 * A room's stream to the other nodes where it has members: one stream per
 * (room, node), however many members are there, and each node gets one copy
 * of every message (docs/FEDERATION.md).
 *
 * After every change the room calls `schedule()`. Each push carries everything
 * changed after what that node was last sent (new messages, edits, recalls and
 * reactions of older ones), the member list when it changed, read positions
 * and the room itself. The node's mirror applies it (a repeat changes nothing)
 * and answers with the positions it now has; the room keeps that cursor in its
 * own SQLite file — so a node that was cut off, or restarted, or whose answer
 * was lost, gets exactly what it misses from the last confirmed cursor: no gap,
 * no duplicate.
 *
 * The pushes travel over the room's channel to that node (peer-channel.ts: one
 * WebSocket per (room, node), signed upgrade, MAC'd frames), up to
 * CHANNEL_WINDOW of them unanswered at once, in order: a message goes out as
 * soon as it is committed instead of waiting for the answer to the push before
 * it. When anything fails, every unanswered push counts as lost and the stream
 * starts again from the confirmed cursor. A node that answers the upgrade
 * without a channel (a version older than channels: 404; channels off there;
 * a proxy on the way that drops upgrades) gets one HTTP request per push, one
 * in flight at a time, as before channels, and is asked again after
 * LEGACY_RETRY_MS (it may have been upgraded). A failed push is retried with
 * back-off (0.5 s doubling to 10 s,
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
import { LinkError, linkFetch, peerNamed } from "../shared/cluster";
import { CHANNEL_MAX_FRAME } from "../shared/link-channel";
import { PeerChannel } from "./peer-channel";
import { linkStub } from "../shared/objects";
import { Backoff } from "../shared/peer-backoff";
import { RoomPushAnswer, type LinkSendItem, type LinkSendResult, type RoomPush } from "../../protocol/cluster";
import { homeNode } from "../../protocol/ids";
import type { Member, Message } from "../../protocol/models";

/** messages per push; a node further behind gets several pushes in a row */
export const PEER_PUSH_LIMIT = 500;
/** how often at most the nodes' cursors are written to the room's file (see above) */
export const CURSOR_SAVE_MS = 1000;
/** pushes on a channel without an answer yet; more changes wait for an answer and ride together */
export const CHANNEL_WINDOW = 4;
/**
 * The same, to a mirror that batches its answers (shared/link-channel.ts): it
 * writes the pushes of a short moment in one commit and answers once for them,
 * so a message need not wait for an answer to go out — more than the mirror
 * ever holds unwritten (MIRROR_FLUSH_PUSHES) may be on the way.
 */
export const CHANNEL_WINDOW_BATCHED = 32;
/** how long a node that answered the channel upgrade 404 gets HTTP pushes before it is asked again */
export const LEGACY_RETRY_MS = 10 * 60_000;

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
  /** changes whenever `reads()` may have changed */
  readsRev(): number;
  /** the retention marker, once the room purged (every push carries it) */
  retention(): RoomPush["retention"];
  loadCursors(): Record<string, PeerCursor>;
  saveCursors(cursors: Record<string, PeerCursor>): void;
  retryBy(at: number): void;
  /** A send of a member homed on `node`, come on its channel (peer-channel.ts) */
  receiveSend(node: string, item: LinkSendItem): Promise<LinkSendResult | { stopped: string }>;
}

/** Where the stream to one node stands. */
interface Stream {
  channel: PeerChannel | null;
  /** the channel is being opened */
  opening: boolean;
  /** until when this node gets HTTP pushes (its version has no channel endpoint) */
  legacyUntil: number;
  /** pushes sent and not answered */
  inFlight: number;
  /** the push in flight is an HTTP request (nothing else goes meanwhile) */
  httpBusy: boolean;
  /** what was sent (≥ the confirmed cursor); null: start from the confirmed cursor */
  sent: PeerCursor | null;
  /** read positions sent (userId → seq), forgotten when a push is lost */
  reads: Map<string, number>;
  /** `readsRev` when `reads` was last brought up to date (-1: compare them all again) */
  readsAt: number;
  /** who started typing since the last push to this node */
  typing: Set<string>;
  /** bumped when the stream starts again from the confirmed cursor: answers of older pushes only move the cursor */
  epoch: number;
}

export class PeerPush {
  private cursors: Record<string, PeerCursor> | null = null;
  private readonly streams = new Map<string, Stream>();
  private readonly backoff = new Backoff();
  private readonly retries = new Map<string, ReturnType<typeof setTimeout>>();
  private savedAt = 0;
  private saveTimer: ReturnType<typeof setTimeout> | null = null;
  /**
   * The last push made, for the next node that needs the very same one in this
   * turn (same cursor, no reads or typing of its own): a message committed goes
   * to every node at once, and one query and one JSON text serve them all.
   * Forgotten at the end of the turn, before anything can change.
   */
  private made: { key: string; push: NonNullable<ReturnType<PeerPush["make"]>> } | null = null;

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

  private stream(node: string): Stream {
    let s = this.streams.get(node);
    if (!s) {
      s = { channel: null, opening: false, legacyUntil: 0, inFlight: 0, httpBusy: false, sent: null, reads: new Map(), readsAt: -1, typing: new Set(), epoch: 0 };
      this.streams.set(node, s);
    }
    return s;
  }

  /** True when some node has not confirmed everything (a wake after a crash calls schedule then). */
  behind(): boolean {
    const c = this.load();
    return this.targets().some((n) => (c[n]?.version ?? -1) < this.host.version() || (c[n]?.membersRev ?? -1) < this.host.membersRev());
  }

  /** Push to every node that has not been sent everything. */
  schedule(): void {
    if (!this.host.env.CLUSTER) return;
    for (const node of this.targets()) this.start(node);
  }

  /** Someone is typing: tell the other nodes' viewers (not stored, not retried). */
  typed(userId: string): void {
    if (!this.host.env.CLUSTER) return;
    for (const node of this.targets()) {
      this.stream(node).typing.add(userId);
      this.start(node);
    }
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

  /** Send what `node` was not sent yet, as far as the window allows. */
  private start(node: string): void {
    // Known down: the retry timer (or linkUp) pushes everything since the cursor then.
    if (this.backoff.waitMs(node, Date.now()) > 0) return;
    const s = this.stream(node);
    if (s.opening) return; // the channel's opening sends what is there when it is done
    if (!s.channel?.open && Date.now() >= s.legacyUntil && peerNamed(this.host.env, node)?.channels !== false) return this.openChannel(node, s);
    // An HTTP push goes alone: nothing may overtake it, and it overtakes nothing.
    while (!s.httpBusy && s.inFlight < (s.channel ? (s.channel.batched ? CHANNEL_WINDOW_BATCHED : CHANNEL_WINDOW) : 1)) {
      const push = this.next(node, s, !!s.channel);
      if (!push) return;
      const channel = push.fits ? s.channel : null;
      if (!channel && s.inFlight > 0) return; // after the channel's frames are answered (`answered` starts again)
      s.sent = push.sent;
      for (const r of push.payload.reads) s.reads.set(r.userId, r.seq);
      s.readsAt = push.readsAt;
      s.typing.clear();
      const epoch = s.epoch;
      s.inFlight++;
      s.httpBusy = !channel;
      const answer = channel ? channel.send(push.text) : this.httpPush(node, push.payload);
      answer.then(
        (a) => this.answered(node, s, epoch, a),
        (err) => this.failed(node, s, epoch, err),
      );
    }
  }

  private openChannel(node: string, s: Stream): void {
    s.opening = true;
    s.channel = null;
    const epoch = s.epoch;
    PeerChannel.open(
      this.host.env,
      this.host.roomId(),
      node,
      (failed) => {
        if (s.channel?.open === false) s.channel = null;
        if (failed) this.failed(node, s, epoch, failed);
      },
      (item) => this.host.receiveSend(node, item),
    ).then(
      (channel) => {
        s.opening = false;
        if ("legacy" in channel) {
          s.legacyUntil = Date.now() + LEGACY_RETRY_MS;
          log("warn", "room.channel_refused", { room: this.host.roomId(), peer: node, status: channel.legacy, retryInMs: LEGACY_RETRY_MS });
        } else s.channel = channel;
        this.start(node);
      },
      (err) => {
        s.opening = false;
        this.failed(node, s, s.epoch, err);
      },
    );
  }

  /**
   * The next push to `node`: everything changed after what it was sent (or,
   * after a loss, after what it confirmed); null when there is nothing new.
   * For a channel it is cut to fit a frame (fewer messages, the rest in the
   * next push); one that cannot fit (a member list of many thousands) `fits`
   * not and goes over HTTP.
   */
  private next(node: string, s: Stream, channel: boolean): { payload: RoomPush; text: string; sent: PeerCursor; readsAt: number; fits: boolean } | null {
    const cursor = s.sent ?? this.load()[node] ?? { version: 0, membersRev: -1 };
    const key = s.typing.size === 0 ? `${channel}|${cursor.version}|${cursor.membersRev}` : null;
    if (key !== null && this.made?.key === key && this.host.readsRev() === s.readsAt) return this.made.push;
    const push = this.make(cursor, s, channel);
    if (key !== null && push && push.payload.reads.length === 0) {
      if (!this.made) queueMicrotask(() => (this.made = null));
      this.made = { key, push };
    }
    return push;
  }

  private make(cursor: PeerCursor, s: Stream, channel: boolean): { payload: RoomPush; text: string; sent: PeerCursor; readsAt: number; fits: boolean } | null {
    const membersChanged = cursor.membersRev !== this.host.membersRev();
    // Cheap questions first: after every answer this runs again, mostly to find nothing new.
    const readsAt = this.host.readsRev();
    const reads = readsAt === s.readsAt ? [] : this.host.reads().filter((r) => s.reads.get(r.userId) !== r.seq);
    const typing = [...s.typing];
    if (!membersChanged && typing.length === 0 && reads.length === 0 && cursor.version >= this.host.version()) {
      s.readsAt = readsAt;
      return null;
    }
    let changed = cursor.version >= this.host.version() ? [] : this.host.changedSince(cursor.version, PEER_PUSH_LIMIT);
    const retention = this.host.retention();
    let halved = false;
    for (;;) {
      // A cut page reaches only its last message's version (the rest follows in the next push);
      // otherwise the room's version now. The mirror gets them in seq order, as people must see them.
      const cut = changed.length === PEER_PUSH_LIMIT || halved;
      const reaches = cut ? changed[changed.length - 1].version : Math.max(this.host.version(), cursor.version);
      const payload: RoomPush = {
        room: this.host.room(),
        members: membersChanged ? this.host.members() : null,
        membersRev: this.host.membersRev(),
        lastSeq: cut ? Math.max(...changed.map((m) => m.seq)) : this.host.lastSeq(),
        version: reaches,
        after: cursor.version,
        messages: [...changed].sort((a, b) => a.seq - b.seq),
        ...(retention ? { retention } : {}),
        reads,
        ...(typing.length ? { typing } : {}),
      };
      const text = JSON.stringify(payload);
      const fits = !channel || text.length * 3 <= CHANNEL_MAX_FRAME || new TextEncoder().encode(text).length <= CHANNEL_MAX_FRAME;
      if (!fits && changed.length > 1) {
        changed = changed.slice(0, Math.ceil(changed.length / 2));
        halved = true;
        continue;
      }
      return { payload, text, sent: { version: reaches, membersRev: payload.membersRev }, readsAt, fits };
    }
  }

  private async httpPush(node: string, payload: RoomPush): Promise<RoomPushAnswer> {
    const res = await linkFetch(this.host.env, node, "POST", `/link/v1/rooms/${encodeURIComponent(this.host.roomId())}/push`, payload);
    const parsed = RoomPushAnswer.safeParse(res.body);
    if (res.status !== 200 || !parsed.success) throw new LinkError(node, "unreachable", `push answered ${res.status}`);
    return parsed.data;
  }

  /** The node's mirror took a push: its cursor moves; what is still to send goes. */
  private answered(node: string, s: Stream, epoch: number, answer: RoomPushAnswer): void {
    if (epoch === s.epoch) {
      s.inFlight--;
      s.httpBusy = false;
    }
    this.backoff.succeeded(node);
    const cursors = this.load();
    const members = this.host.members().some((m) => homeNode(m.userId) === node);
    if (members) {
      cursors[node] = { version: answer.version, membersRev: answer.membersRev };
      this.saveCursors(false);
    } else if (answer.membersRev >= this.host.membersRev() && s.inFlight === 0) {
      delete cursors[node]; // it learnt the last removal: nothing more goes there
      this.saveCursors(true);
      s.channel?.close("no members left");
      this.streams.delete(node);
      return;
    }
    if (epoch === s.epoch) this.start(node);
  }

  /** A push was lost (or the channel broke): back off, then start again from the confirmed cursor. */
  private failed(node: string, s: Stream, epoch: number, err: unknown): void {
    if (epoch !== s.epoch) return; // this loss was already counted
    s.epoch++;
    s.inFlight = 0;
    s.httpBusy = false;
    s.sent = null;
    s.reads.clear();
    s.readsAt = -1;
    const channel = s.channel;
    s.channel = null;
    channel?.close("starting again");
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
}
