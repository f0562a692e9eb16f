/**
 * The room's WebSockets: accepting one (hello, and a resume with
 * `?afterSeq=`), reading a frame off one (size, sender, parse), sending typed
 * frames to one or to all (through fanout.ts: serialised once, batched under
 * load), `sync` (resume), and closing a person's or a session's sockets.
 *
 * A socket's owner is kept in its attachment (tags `u:<user>` and
 * `s:<session>` let removal and revocation find sockets without a scan), so
 * it survives hibernation; the attachment is read once per wake and then
 * remembered, so the message path does not deserialise one per frame.
 */
import { socketOpened } from "../shared/socket-events";
import { CLOSE } from "../../protocol/errors";
import { parseClientRoomFrame, type ClientRoomFrame, type ServerRoomFrame } from "../../protocol/frames";
import type { Caller } from "../shared/identity";
import { closeIfOversized, parseOrAnswer, safeClose, safeSend } from "../shared/sockets";
import { BATCHED, Fanout, PLAIN } from "./fanout";
import type { RoomState } from "./room-state";
import { roomAsSeenBy } from "./room-view";
import type { MessageStore } from "./store/messages";

/** open room sockets one user may hold in one room (tabs, devices) */
export const MAX_SOCKETS_PER_USER = 10;
/** How many missed messages one `sync` frame carries before the client is told to page instead. */
export const SYNC_LIMIT = 500;

/** A socket's owner, kept in its attachment so it survives hibernation. */
export interface SocketOwner {
  userId: string;
  sessionId: string;
}

const userTag = (userId: string) => `u:${userId}`;
const sessionTag = (sessionId: string) => `s:${sessionId}`;

export class RoomSockets {
  private readonly watchers: ((event: { kind: "change" } | { kind: "typing"; userId: string }) => void)[] = [];
  private readonly fanout: Fanout;
  private owners = new WeakMap<WebSocket, SocketOwner>();

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly state: RoomState,
    private readonly messages: MessageStore,
  ) {
    this.fanout = new Fanout(ctx);
  }

  /**
   * Accept a member's socket: `hello` first, then what they missed when they
   * said where they were (`?afterSeq=N`). `?batch=1` asks for batched frames
   * (fanout.ts). Returns the client's end.
   */
  accept(caller: Caller, params: URLSearchParams): WebSocket {
    // Bounded sockets per person: a runaway or hostile client cannot pile up
    // sockets (memory) in one room; the oldest makes way for the newest tab.
    const mine = this.ctx.getWebSockets(userTag(caller.userId));
    for (let i = 0; i <= mine.length - MAX_SOCKETS_PER_USER; i++) safeClose(mine[i], CLOSE.policy, "too many connections: replaced by a newer one");
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.changed();
    const batch = params.get("batch") === "1";
    this.ctx.acceptWebSocket(server, [userTag(caller.userId), sessionTag(caller.sessionId), batch ? BATCHED : PLAIN]);
    socketOpened("room", this.ctx, caller.userId);
    const owner: SocketOwner = { userId: caller.userId, sessionId: caller.sessionId };
    server.serializeAttachment(owner);
    this.owners.set(server, owner);
    // Straight to the new socket: nothing queued for others may go before it.
    safeSend(server, frameText({ type: "hello", room: roomAsSeenBy(this.state, caller.userId), userId: caller.userId, lastSeq: this.state.lastSeq, version: this.state.version }));
    const after = params.get("afterSeq");
    if (after !== null && /^\d{1,15}$/.test(after)) this.sync(server, Number(after), undefined);
    return client;
  }

  /**
   * A frame from a socket, with who sent it: null when it was handled here —
   * too big (closed, 1009), not from a member now (closed, 1008), or not a
   * valid frame (answered with `error`).
   */
  receive(ws: WebSocket, raw: string | ArrayBuffer, maxBytes: number): { caller: Caller; frame: ClientRoomFrame } | null {
    if (closeIfOversized(ws, raw, maxBytes)) return null;
    const owner = this.ownerOf(ws);
    const member = owner && this.state.members.get(owner.userId);
    if (!owner || !member || !this.state.meta) {
      safeClose(ws, CLOSE.policy, "not a member of this room");
      return null;
    }
    const frame = parseOrAnswer(parseClientRoomFrame(raw), (f) => this.send(ws, f));
    if (!frame) return null;
    return { caller: { userId: owner.userId, sessionId: owner.sessionId, username: member.username, displayName: member.displayName, isAdmin: false }, frame };
  }

  /** A socket's owner: from memory, or (after a wake from hibernation) from its attachment. */
  ownerOf(ws: WebSocket): SocketOwner | null {
    let owner = this.owners.get(ws);
    if (!owner) {
      owner = (ws.deserializeAttachment() as SocketOwner | null) ?? undefined;
      if (owner) this.owners.set(ws, owner);
    }
    return owner ?? null;
  }

  /** A frame for one socket, after anything already queued for it (order is kept). */
  send(ws: WebSocket, frame: ServerRoomFrame): void {
    this.fanout.sendTo(ws, frameText(frame));
  }

  /**
   * One frame, serialised once, to every open socket of the room. With
   * `reply`, the frame also answers one socket's request (a message's ack to
   * its sender): a plain socket gets the reply first, a batched one both in
   * one frame (fanout.ts).
   */
  broadcast(frame: ServerRoomFrame, reply?: { ws: WebSocket; frame: ServerRoomFrame }): void {
    this.fanout.broadcast(frameText(frame), reply && { ws: reply.ws, data: frameText(reply.frame) });
    this.tell({ kind: "change" });
  }

  /**
   * Who else must hear what this room's sockets hear: the other nodes where it
   * has members (peers.ts) learn of every change a broadcast announces, and of typing.
   */
  watch(fn: (event: { kind: "change" } | { kind: "typing"; userId: string }) => void): void {
    this.watchers.push(fn);
  }

  private tell(event: { kind: "change" } | { kind: "typing"; userId: string }): void {
    for (const fn of this.watchers) fn(event);
  }

  /** One frame, serialised once, to every socket but `except` and those of `userId` (typing; `except` null: typed on another node). */
  sendToOthers(frame: ServerRoomFrame, userId: string, except: WebSocket | null): void {
    if (frame.type === "typing") this.tell({ kind: "typing", userId });
    const data = frameText(frame);
    const { plain, batched } = this.fanout.sockets();
    for (const list of [plain, batched]) {
      for (const other of list) {
        const owner = this.ownerOf(other);
        if (other !== except && owner && owner.userId !== userId) this.fanout.sendTo(other, data);
      }
    }
  }

  /** A frame made for each member's own sockets (what differs per person, e.g. their role in `room.updated`). */
  sendToEachMember(frameFor: (userId: string) => ServerRoomFrame): void {
    this.tell({ kind: "change" });
    for (const ws of this.ctx.getWebSockets()) {
      const owner = this.ownerOf(ws);
      if (owner && this.state.members.has(owner.userId)) this.send(ws, frameFor(owner.userId));
    }
  }

  /**
   * Resume: everything after `afterSeq` (and, with `afterVersion`, older
   * messages changed since), in seq order. Past SYNC_LIMIT the client is told
   * to page through REST history instead of being flooded.
   */
  sync(ws: WebSocket, afterSeq: number, afterVersion: number | undefined, reqId?: string): void {
    const { meta, lastSeq, version } = this.state;
    const base = { type: "sync", lastSeq, version, ...(reqId ? { replyTo: reqId } : {}) } as const;
    if (afterSeq > lastSeq) afterSeq = lastSeq; // garbage positions are clamped
    const rows =
      afterVersion !== undefined && afterVersion <= version
        ? this.messages.changedSince(afterVersion, SYNC_LIMIT)
        : this.messages.page({ after: afterSeq, limit: SYNC_LIMIT + 1 }).rows;
    if (rows.length > SYNC_LIMIT) this.send(ws, { ...base, messages: [], tooFarBehind: true });
    else this.send(ws, { ...base, messages: this.messages.toMessages(meta!.id, rows), tooFarBehind: false });
  }

  /** Close a person's sockets (removed from the room, or left it). */
  closeUser(userId: string, reason: string): void {
    for (const ws of this.ctx.getWebSockets(userTag(userId))) safeClose(ws, CLOSE.policy, reason);
    this.changed();
  }

  /** Close the sockets of revoked sessions; returns how many were open. */
  closeSessions(sessionIds: string[], reason: string): number {
    let n = 0;
    for (const id of sessionIds) for (const ws of this.ctx.getWebSockets(sessionTag(id))) n += safeClose(ws, CLOSE.policy, reason);
    this.changed();
    return n;
  }

  /** A socket opened or closed: the fan-out lists are rebuilt on next use. */
  changed(): void {
    this.fanout.invalidate();
  }
}

/** The one place a room frame becomes text. */
const frameText = (frame: ServerRoomFrame): string => JSON.stringify(frame);
