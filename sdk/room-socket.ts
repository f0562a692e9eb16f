/**
 * The room socket (`/api/v1/rooms/{id}/socket`), open while a room is on
 * screen: live messages, edits, reactions, typing, receipts. It remembers the
 * last `seq` and room `version` it saw; every reconnect asks with `?afterSeq=`
 * for the messages it missed and, with a `sync` frame, for older messages that
 * changed meanwhile (edits, recalls, reactions), so nothing is lost and the
 * caller can apply frames idempotently (keep the copy with the higher version).
 *
 * @example
 *   const room = new RoomSocket(api, roomId).start();
 *   room.onFrame((f) => { if (f.type === "msg.new") show(f.message); });
 *   room.typing();
 */
import { ServerRoomFrame } from "../protocol/frames";
import type { Message } from "../protocol/models";
import { ReconnectingSocket, type SocketOptions, type SocketState } from "./socket";
import type { OutpostClient } from "./rest";
import { PermanentSendError, RateLimitedError, type QueuedAtNode, type QueuedMessage, type SendAck } from "./send-queue";

/** A room socket sends at most one `read` per this many ms (see RoomSocket.read). */
export const READ_EVERY_MS = 1000;

/** Error codes after which resending the same message cannot succeed. */
const PERMANENT_CODES = new Set(["invalid_request", "bad_json", "forbidden", "not_found", "too_large"]);

export class RoomSocket {
  lastSeq: number | null = null;
  version: number | null = null;
  readonly socket: ReconnectingSocket<ServerRoomFrame>;
  private reqCounter = 0;
  /** reads: the highest seq sent, when, and one waiting for the end of the pause */
  private readSent = 0;
  private readAt = 0;
  private readWanted = 0;
  private readTimer: ReturnType<typeof setTimeout> | null = null;
  /** who this socket is signed in as (from `hello`), to recognise the echo of its own sends */
  private userId: string | null = null;
  private readonly acks = new Map<string, { resolve: (a: SendAck | QueuedAtNode) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  private readonly outcomes = new Set<(clientId: string, outcome: SendAck | Error) => void>();

  constructor(
    api: OutpostClient,
    readonly roomId: string,
    options: SocketOptions & { afterSeq?: number } = {},
  ) {
    this.lastSeq = options.afterSeq ?? null;
    this.socket = new ReconnectingSocket(
      // batch=1: under load the room groups events into one frame (see parseFrames).
      () => api.socketUrl(`/rooms/${encodeURIComponent(roomId)}/socket?batch=1` + (this.lastSeq === null ? "" : `&afterSeq=${this.lastSeq}`)),
      ServerRoomFrame,
      { token: api.token, ...options },
    );
    this.socket.onFrame((f) => this.track(f));
    this.socket.onState((s) => {
      if (s !== "open") this.failPendingAcks();
      // A read sent on a connection that dropped may not have arrived: send again when asked.
      else this.readSent = 0;
    });
  }

  start(): this {
    this.socket.start();
    return this;
  }
  close(): void {
    if (this.readTimer) clearTimeout(this.readTimer);
    this.readTimer = null;
    // A read waiting out its pause goes now: closing the room is the moment it must not be lost.
    if (this.readWanted > this.readSent) this.socket.send({ type: "read", seq: this.readWanted });
    this.socket.close();
    this.failPendingAcks();
  }
  get state(): SocketState {
    return this.socket.state;
  }
  /** Frames from the node this SDK could not use and dropped (see ReconnectingSocket.ignoredFrames). */
  get ignoredFrames(): number {
    return this.socket.ignoredFrames;
  }
  onFrame(fn: (f: ServerRoomFrame) => void): () => void {
    return this.socket.onFrame(fn);
  }
  onState(fn: (s: SocketState, detail?: { code: number; reason: string }) => void): () => void {
    return this.socket.onState(fn);
  }

  /**
   * Send one queued message and wait for its `msg.ack`. Rejects with a
   * `PermanentSendError` when the node refuses it, with a `RateLimitedError`
   * when the sender is over their message budget (the queue waits as told and
   * sends it again), with a plain Error when the socket is not open or drops
   * first (the queue then retries, same clientId).
   */
  /**
   * Outcomes of sends nobody waits for any more: messages the node had queued
   * for another node (`msg.queued`) whose ack, or refusal, arrives later. Hand
   * them to the send queue: `socket.onOutcome((id, r) => r instanceof Error ? queue.refuse(id, r) : queue.settle(id, r))`.
   */
  onOutcome(fn: (clientId: string, outcome: SendAck | Error) => void): () => void {
    this.outcomes.add(fn);
    return () => this.outcomes.delete(fn);
  }

  sendMessage(m: QueuedMessage, timeoutMs = 10_000): Promise<SendAck | QueuedAtNode> {
    return new Promise((resolve, reject) => {
      const frame = { type: "msg.send", clientId: m.clientId, text: m.text, ...(m.replyTo ? { replyTo: m.replyTo } : {}), ...(m.attachments?.length ? { attachments: m.attachments } : {}) };
      if (!this.socket.send(frame)) {
        reject(new Error("room socket not open"));
        return;
      }
      const timer = setTimeout(() => {
        this.acks.delete(m.clientId);
        reject(new Error("no ack in time"));
      }, timeoutMs);
      this.acks.set(m.clientId, { resolve, reject, timer });
    });
  }

  edit(id: string, text: string): boolean {
    return this.socket.send({ type: "msg.edit", id, text, reqId: this.reqId() });
  }
  recall(id: string): boolean {
    return this.socket.send({ type: "msg.delete", id, reqId: this.reqId() });
  }
  react(id: string, emoji: string): boolean {
    return this.socket.send({ type: "msg.react", id, emoji, reqId: this.reqId() });
  }
  /** Tell the others the user is typing; call on input, the node passes on at most one per 2 s. */
  typing(): boolean {
    return this.socket.send({ type: "typing" });
  }
  /**
   * Mark the room read up to `seq`. A reader looking at a busy room calls this
   * for every message; each read costs the room a write, a receipt to everyone
   * and an update of the reader's inbox, so reads are sent at most once per
   * READ_EVERY_MS (the newest seq goes out at the end of the pause) and never
   * for a position already sent. False when the socket is down (the caller may
   * fall back to REST).
   */
  read(seq: number): boolean {
    if (this.socket.state !== "open") return false;
    if (seq <= this.readSent) return true;
    const wait = this.readAt + READ_EVERY_MS - Date.now();
    if (wait > 0) {
      this.readWanted = Math.max(this.readWanted, seq);
      this.readTimer ??= setTimeout(() => {
        this.readTimer = null;
        if (this.readWanted > this.readSent) this.read(this.readWanted);
      }, wait);
      return true;
    }
    if (!this.socket.send({ type: "read", seq })) return false;
    this.readSent = seq;
    this.readAt = Date.now();
    return true;
  }

  private reqId(): string {
    return `r${++this.reqCounter}`;
  }

  /** Keep the resume position and settle acks; runs before other listeners see the frame. */
  private track(f: ServerRoomFrame): void {
    switch (f.type) {
      case "hello": {
        // A reconnect after changes we did not see: ask for older messages that changed.
        if (this.version !== null && this.lastSeq !== null && f.version > this.version) {
          this.socket.send({ type: "sync", afterSeq: this.lastSeq, afterVersion: this.version });
        }
        if (this.lastSeq === null) this.lastSeq = f.lastSeq;
        if (this.version === null) this.version = f.version;
        this.userId = f.userId;
        break;
      }
      case "msg.new":
        this.see(f.message);
        // Under load the node batches a message's echo ahead of its ack: the echo
        // (our own clientId, stored with its id and seq) settles the send as the ack would.
        if (f.message.senderId === this.userId) this.settle(f.message.clientId, { id: f.message.id, seq: f.message.seq });
        break;
      case "msg.updated":
        this.see(f.message);
        break;
      case "sync":
        for (const m of f.messages) this.see(m);
        if (!f.tooFarBehind) {
          this.lastSeq = Math.max(this.lastSeq ?? 0, f.lastSeq);
          this.version = Math.max(this.version ?? 0, f.version);
        }
        break;
      case "msg.ack":
        this.settle(f.clientId, { id: f.id, seq: f.seq });
        break;
      case "msg.queued": {
        // The node keeps it for a room homed on a node it cannot reach now; the ack follows later.
        const w = this.acks.get(f.clientId);
        if (w) {
          clearTimeout(w.timer);
          this.acks.delete(f.clientId);
          w.resolve({ queued: true });
        }
        break;
      }
      case "error": {
        if (f.replyTo && !this.acks.has(f.replyTo) && PERMANENT_CODES.has(f.code)) {
          // A send the node had queued, refused by the room's home when it arrived.
          for (const fn of this.outcomes) fn(f.replyTo, new PermanentSendError(f.code, f.message));
        }
        const w = f.replyTo ? this.acks.get(f.replyTo) : undefined;
        if (w && f.replyTo) {
          clearTimeout(w.timer);
          this.acks.delete(f.replyTo);
          w.reject(
            PERMANENT_CODES.has(f.code)
              ? new PermanentSendError(f.code, f.message)
              : f.code === "rate_limited" && f.retryAfterMs !== undefined
                ? new RateLimitedError(f.retryAfterMs, f.message)
                : new Error(f.message),
          );
        }
        break;
      }
    }
  }

  private settle(clientId: string, ack: SendAck): void {
    const w = this.acks.get(clientId);
    if (!w) {
      // Nobody waits: perhaps a send the node had queued (SendQueue.settle).
      for (const fn of this.outcomes) fn(clientId, ack);
      return;
    }
    clearTimeout(w.timer);
    this.acks.delete(clientId);
    w.resolve(ack);
  }

  private see(m: Message): void {
    // Frames arrive in seq order on one socket, and a reconnect's sync comes before any new message.
    this.lastSeq = Math.max(this.lastSeq ?? 0, m.seq);
    this.version = Math.max(this.version ?? 0, m.version);
  }

  private failPendingAcks(): void {
    for (const [id, w] of this.acks) {
      clearTimeout(w.timer);
      w.reject(new Error("room socket closed before the ack"));
      this.acks.delete(id);
    }
  }
}
