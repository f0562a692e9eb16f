/**
 * Messages: sending (one path for REST and the room socket), history, edits,
 * recalls and reactions.
 *
 * The rule for every change: validate, write (one transaction), move the
 * room's counters, broadcast, then the side effects (inbox activity, the
 * search index behind, the outbox). An ack leaves only after the write is
 * committed: workerd's output gate holds every outgoing frame and RPC result
 * until SQLite has the data on disk.
 */
import type { Mentions, Message } from "../../protocol/models";
import { homeNode, newMessageId } from "../../protocol/ids";
import { AppError, notFound } from "../shared/app-error";
import type { Limits } from "../shared/env";
import type { Caller } from "../shared/identity";
import { storageFailure } from "../shared/storage-faults";
import type { RoomFiles } from "./files";
import type { InboxActivity } from "./inbox-activity";
import { parseMentions } from "./mentions";
import type { Outbox } from "./outbox";
import type { RoomSockets } from "./room-socket";
import type { RoomState } from "./room-state";
import type { SearchIndex } from "./search-index";
import { refuseSend, sendWaitMs, spendSend } from "./send-budget";
import type { RoomMeta } from "./store/meta";
import { toMessage, type MessageRow } from "./store/messages";
import type { RoomStore } from "./store/room-store";
import { checkEmoji, checkText } from "./validate";

export interface SendInput {
  clientId: string;
  text: string;
  replyTo?: string;
  attachments?: string[];
}

export interface SendResult {
  message: Message;
  /** true when this clientId had already been stored: nothing new was written or broadcast */
  duplicate: boolean;
}

const MAX_DISTINCT_REACTIONS = 50;

export class Messages {
  constructor(
    private readonly state: RoomState,
    private readonly store: RoomStore,
    private readonly sockets: RoomSockets,
    private readonly files: RoomFiles,
    private readonly activity: InboxActivity,
    private readonly index: SearchIndex,
    private readonly outbox: Outbox,
    private readonly limits: Limits,
    /**
     * Is a message of `senderId` here under a legal hold now (the room, or the
     * sender)? Asked at each recall (retention.ts: the directory keeps holds).
     */
    private readonly underHold: (senderId: string) => Promise<boolean> = async () => false,
  ) {}

  /**
   * Send a message: store it, then `msg.new` to the room. From a room socket
   * (`from`), the sender's `msg.ack` rides with it: a plain socket gets the
   * ack first, a batched one both in one frame (fanout.ts); a retry of a
   * stored message is acked again and broadcast to nobody. Over REST the
   * answer is the result itself.
   */
  send(caller: Caller, input: SendInput, from?: WebSocket): SendResult {
    const result = this.commit(caller, input);
    const created = !result.duplicate && ({ type: "msg.new", message: result.message } as const);
    if (!from) {
      if (created) this.sockets.broadcast(created);
      return result;
    }
    const ack = { type: "msg.ack", clientId: input.clientId, id: result.message.id, seq: result.message.seq, duplicate: result.duplicate } as const;
    if (created) this.sockets.broadcast(created, { ws: from, frame: ack });
    else this.sockets.send(from, ack);
    return result;
  }

  /**
   * Store a message, or find the one this client already sent under the same
   * id (the idempotency key is sender + session + clientId, as Matrix scopes
   * transaction ids: the same id from another session is a new message).
   */
  private commit(caller: Caller, input: SendInput): SendResult {
    const meta = this.state.requireMember(caller.userId);
    const clientKey = `${caller.userId}|${caller.sessionId}|${input.clientId}`;
    const fileIds = [...new Set(input.attachments ?? [])];
    // A retry must be answered with the stored message. Without files the
    // insert itself tells (ON CONFLICT DO NOTHING); with files the stored one is
    // looked up first, because its files are attached by now and would fail the check.
    if (fileIds.length) {
      const existing = this.duplicateOf(meta, clientKey);
      if (existing) return existing;
    }
    // The sender's budget (send-budget.ts). Refused: nothing stored, no seq used,
    // so the same clientId later is a new message. A retry of a stored message is
    // answered as usual, even on an empty budget, and never costs any.
    // A member homed on another node was held to the budget by their own node (the
    // budget is each node's, for its own people: mirror/mirror-sends.ts) before the
    // message was queued; their queued messages arrive in bursts after a cut.
    // So the budget is charged where the person sends: here unless the send came over a link —
    // a visitor signed in here (worker/visitors/) is charged here like anyone sending here.
    const chargeHere = !caller.viaLink;
    const wait = chargeHere ? sendWaitMs(caller.userId, this.limits, Date.now()) : 0;
    if (wait > 0) return this.duplicateOf(meta, clientKey) ?? refuseSend(this.limits, wait);
    let row: MessageRow;
    let mentions: Mentions;
    try {
      const text = fileIds.length && input.text === "" ? "" : checkText(input.text, this.limits.maxTextBytes);
      const attachments = fileIds.map((id) => this.files.claimUpload(caller.userId, id));
      if (input.replyTo !== undefined && !this.store.messages.findById(input.replyTo)) {
        throw new AppError("invalid_request", "replyTo names no message in this room");
      }
      mentions = parseMentions(text, this.state.usernames);
      row = {
        seq: this.state.lastSeq + 1,
        id: newMessageId(),
        clientKey,
        clientId: input.clientId,
        senderId: caller.userId,
        text,
        replyTo: input.replyTo ?? null,
        mentions: JSON.stringify(mentions),
        createdAt: Date.now(),
        editedAt: null,
        deletedAt: null,
        deletedBy: null,
        version: this.state.version + 1,
        attachments: attachments.length ? JSON.stringify(attachments) : null,
      };
    } catch (err) {
      // A retry of a message stored under older limits is still a duplicate, not an error.
      const existing = this.duplicateOf(meta, clientKey);
      if (existing) return existing;
      throw err;
    }
    let inserted: boolean;
    try {
      inserted = this.store.insertMessage(row, mentions, fileIds);
    } catch (err) {
      throw storageFailure(err);
    }
    if (!inserted) return this.duplicateOf(meta, clientKey)!;
    if (chargeHere) spendSend(caller.userId, this.limits, row.createdAt);
    // Counters move only after the insert succeeded: a failed write leaves no gap.
    this.state.lastSeq = row.seq;
    this.state.version = row.version;
    const message = toMessage(meta.id, row, []);
    this.state.lastStored = message;
    this.activity.changed();
    this.index.messageStored();
    return { message, duplicate: false };
  }

  private duplicateOf(meta: RoomMeta, clientKey: string): { message: Message; duplicate: true } | null {
    const existing = this.store.messages.findByClientKey(clientKey);
    return existing ? { message: this.store.messages.toMessages(meta.id, [existing])[0], duplicate: true } : null;
  }

  history(caller: Caller, q: { before?: number; after?: number; limit?: number }): { messages: Message[]; hasMore: boolean; lastSeq: number } {
    const meta = this.state.requireMember(caller.userId);
    const { rows, hasMore } = this.store.messages.page({ before: q.before, after: q.after, limit: Math.min(Math.max(q.limit ?? 50, 1), 100) });
    return { messages: this.store.messages.toMessages(meta.id, rows), hasMore, lastSeq: this.state.lastSeq };
  }

  get(caller: Caller, id: string): Message {
    const meta = this.state.requireMember(caller.userId);
    const row = this.store.messages.findById(id);
    if (!row) throw notFound("message");
    return this.store.messages.toMessages(meta.id, [row])[0];
  }

  edit(caller: Caller, id: string, text: string): Message {
    const meta = this.state.requireMember(caller.userId);
    const row = this.store.messages.findById(id);
    if (!row) throw notFound("message");
    if (row.senderId !== caller.userId) throw new AppError("forbidden", "only the author can edit a message");
    if (row.deletedAt !== null) throw new AppError("conflict", "the message was recalled");
    const checked = checkText(text, this.limits.maxTextBytes);
    const version = this.state.version + 1;
    const mentions = parseMentions(checked, this.state.usernames);
    const set = { text: checked, mentions: JSON.stringify(mentions), editedAt: Date.now(), version };
    this.store.transaction(() => {
      this.store.messages.update(row.seq, set);
      this.store.messages.replaceMentions(row.seq, mentions);
      this.store.search.reindexText(row.seq, checked);
    });
    this.state.version = version;
    this.activity.countsChanged(); // mention counts may change
    return this.publishUpdate(meta.id, { ...row, ...set });
  }

  /** Recall: the author within the window, room admins and the owner at any time. Leaves a tombstone. */
  async recall(caller: Caller, id: string): Promise<Message> {
    const meta = this.state.requireMember(caller.userId);
    const row = this.store.messages.findById(id);
    if (!row) throw notFound("message");
    if (row.deletedAt !== null) return this.store.messages.toMessages(meta.id, [row])[0];
    const role = this.state.members.get(caller.userId)!.role;
    const isAuthor = row.senderId === caller.userId;
    const inWindow = Date.now() - row.createdAt <= this.limits.recallWindowSeconds * 1000;
    if (role === "member" || meta.kind === "dm") {
      if (!isAuthor) throw new AppError("forbidden", "only the author or a room admin can recall a message");
      if (!inWindow) throw new AppError("recall_window_passed", `messages can be recalled within ${this.limits.recallWindowSeconds} seconds`);
    }
    // Under a legal hold the message is hidden from members exactly as any
    // recall, but its content (and its files' bytes) is copied aside for the
    // hold: a recall must not become a way to destroy evidence. Asked before
    // the write; the answer cannot be cached (a hold can start at any time).
    const held = await this.underHold(row.senderId);
    const current = this.store.messages.findById(id);
    if (!current || current.deletedAt !== null) return this.store.messages.toMessages(meta.id, [current ?? row])[0];
    const version = this.state.version + 1;
    const set = { text: "", mentions: JSON.stringify({ users: [], all: false }), deletedAt: Date.now(), deletedBy: caller.userId, version, attachments: null };
    const now = Date.now();
    this.store.transaction(() => {
      if (held) this.keepForHold(current, now);
      this.store.messages.update(row.seq, set);
      this.store.clearDerived(row.seq);
      // A file belongs to its message: recalling the message removes the file (under a hold, only from view).
      this.files.deleteWithMessage(row.seq, now, held);
      // An author taking back their own message is conversation; someone else's is moderation, and audited.
      if (!isAuthor) this.store.audit.record({ actor: caller.userId, action: "message.recalled_by_admin", roomId: meta.id, userId: row.senderId, detail: { message: row.id, seq: row.seq, role, ...(held ? { keptForHold: true } : {}) } });
    });
    this.state.version = version;
    this.activity.countsChanged(); // a recalled message is no longer unread
    const message = this.publishUpdate(meta.id, { ...row, ...set });
    if (row.attachments) await this.outbox.flush();
    return message;
  }

  /** The copy a legal hold keeps of a recalled message (store/retention.ts `held_messages`). */
  private keepForHold(row: MessageRow, now: number): void {
    this.store.held.keepCopy(row, this.store.files.ofMessage(row.seq), "recall", now);
  }

  react(caller: Caller, id: string, emoji: string): Message {
    const meta = this.state.requireMember(caller.userId);
    const row = this.store.messages.findById(id);
    if (!row) throw notFound("message");
    if (row.deletedAt !== null) throw new AppError("conflict", "the message was recalled");
    checkEmoji(emoji);
    const version = this.state.version + 1;
    this.store.transaction(() => {
      const added = this.store.messages.toggleReaction(row.seq, emoji, caller.userId, Date.now());
      if (added && this.store.messages.distinctEmojiCount(row.seq) > MAX_DISTINCT_REACTIONS) {
        throw new AppError("too_large", `a message can carry at most ${MAX_DISTINCT_REACTIONS} different reactions`);
      }
      this.store.messages.update(row.seq, { version });
    });
    this.state.version = version;
    return this.publishUpdate(meta.id, { ...row, version });
  }

  private publishUpdate(roomId: string, row: MessageRow): Message {
    const message = this.store.messages.toMessages(roomId, [row])[0];
    this.sockets.broadcast({ type: "msg.updated", message });
    return message;
  }
}
