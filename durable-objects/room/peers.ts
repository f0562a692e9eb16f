/**
 * The room and the other nodes of its cluster: the stream to each node where
 * it has members (peer-push.ts), and what a member homed elsewhere may be told
 * (residency). A node alone has no peers: every call here is then a no-op.
 */
import type { Env } from "../shared/env";
import { homeNode } from "../../protocol/ids";
import type { LastMessage } from "../../protocol/device";
import type { Member } from "../../protocol/models";
import type { InboxUpdate, RoomActivity } from "../user/inbox-update";
import { PeerPush, type PeerCursor } from "./peer-push";
import type { Caller } from "../shared/identity";
import type { LinkSendItem, LinkSendResult } from "../../protocol/cluster";
import { decideSend, notYours } from "../link/send-decision";
import type { SendInput, SendResult } from "./messages";
import type { RoomState } from "./room-state";
import type { RoomStore } from "./store/room-store";

export type Residency = "everywhere" | "home";

export class RoomPeers {
  private readonly push: PeerPush;
  private residencyCache: Residency | null = null;
  /** the member list's fingerprint, and the list's change count it was worked out at */
  private rev = { at: -1, value: 0 };

  constructor(
    private readonly env: Env,
    private readonly state: RoomState,
    private readonly store: RoomStore,
    /** the room's own send (room-object.ts): a member's send from another node is decided as anyone's */
    private readonly send: (caller: Caller, input: SendInput) => Promise<SendResult>,
  ) {
    this.push = new PeerPush({
      env,
      roomId: () => state.meta!.id,
      room: () => ({ ...state.meta!, residency: this.residency() }),
      members: () => [...state.members.values()],
      membersRev: () => this.membersRev(),
      lastSeq: () => state.lastSeq,
      version: () => state.version,
      changedSince: (version, limit) => {
        // The usual case under load: the one message just stored, not read back (room-state.ts).
        const last = state.lastStored;
        if (last && last.version === state.version && version === last.version - 1) return [last];
        return store.messages.toMessages(state.meta!.id, store.messages.changedByVersion(version, limit));
      },
      readsRev: () => state.reads.changes + state.members.changes,
      reads: () => [...state.reads].filter(([u, r]) => r.sendReceipts && state.members.has(u)).map(([userId, r]) => ({ userId, seq: r.lastReadSeq })),
      retention: () => {
        const raw = store.meta.getText("retention_marker");
        return raw ? { keptSenders: [], ...(JSON.parse(raw) as { beforeSeq: number; before: number; keptSenders?: string[] }) } : undefined;
      },
      loadCursors: () => JSON.parse(store.meta.getText("peer_cursors") ?? "{}") as Record<string, PeerCursor>,
      saveCursors: (c) => store.meta.putText("peer_cursors", JSON.stringify(c)),
      retryBy: (at) => state.setAlarmBy(at),
      receiveSend: (node, item) => this.receiveSend(node, item),
    });
  }

  /** The member list's fingerprint: asked a few times per message, worked out once per change of the list. */
  private membersRev(): number {
    if (this.rev.at !== this.state.members.changes) this.rev = { at: this.state.members.changes, value: membersFingerprint(this.state.members) };
    return this.rev.value;
  }

  /** "home": this room's messages never leave this node. */
  residency(): Residency {
    this.residencyCache ??= this.store.meta.getText("residency") === "home" ? "home" : "everywhere";
    return this.residencyCache;
  }

  /** Something changed: every node with members hears of it (one push in flight per node). */
  changed(): void {
    if (this.state.meta && this.env.CLUSTER) this.push.schedule();
  }

  /** The link to `node` is back (told by its LinkObject after a push here failed): push now. */
  linkUp(node: string): void {
    if (this.state.meta && this.env.CLUSTER) this.push.linkUp(node);
  }

  typed(userId: string): void {
    if (this.state.meta && this.env.CLUSTER) this.push.typed(userId);
  }

  /**
   * A send of a member of `node`, come on that node's channel: decided as
   * `POST /link/v1/sends` decides one (worker/routes/link.ts). A node sends
   * only for its own people here: a visitor's sends (people of this node
   * signed in there) go by the link's queue, where their session is checked.
   */
  private async receiveSend(node: string, item: LinkSendItem): Promise<LinkSendResult | { stopped: string }> {
    if (homeNode(item.userId) !== node || item.roomId !== this.state.meta?.id) return notYours(item);
    return decideSend(this.send, item);
  }

  /** True when some node has not confirmed everything (after a wake: push again). */
  behind(): boolean {
    return !!this.state.meta && !!this.env.CLUSTER && this.push.behind();
  }

  /**
   * What a member's inbox may be told. A home-only room's text never leaves
   * this node: members of other nodes get counts and positions, not previews.
   */
  redact<T extends InboxUpdate | RoomActivity>(userId: string, x: T): T {
    if (homeNode(userId) === this.env.NODE_NAME || this.residency() !== "home") return x;
    const hide = (m: LastMessage | null) => (m ? { ...m, preview: "" } : m);
    if ("type" in x) return x.type === "room.added" ? ({ ...x, room: { ...x.room, lastMessage: hide(x.room.lastMessage) } } as T) : x;
    return { ...x, lastMessage: hide(x.lastMessage), notifications: x.notifications.map((n) => ({ ...n, preview: "" })) } as T;
  }
}

/**
 * A fingerprint of the member list (FNV-1a over who is in it, with roles and
 * names): other nodes get the list again when it changes. Equality is all it
 * is used for.
 */
function membersFingerprint(members: ReadonlyMap<string, Member>): number {
  let h = 0x811c9dc5;
  const text = [...members.values()]
    .map((m) => `${m.userId}|${m.role}|${m.username}|${m.displayName}`)
    .sort()
    .join("\n");
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
