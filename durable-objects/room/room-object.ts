/**
 * RoomObject: one per chat room. It owns the room's SQLite file (members,
 * messages, reactions) and the WebSockets of the people who have the room open
 * (hibernation API: an idle room is evicted from memory while its sockets stay
 * connected, and is rebuilt from SQLite + socket attachments on the next frame).
 *
 * Lifecycle: constructor → (migrate + load inside blockConcurrencyWhile) →
 * RPC calls from the Worker / frames from sockets → alarm (outbox retries).
 *
 * The rule for every change: validate, write (one transaction), bump the
 * room's counters, answer the caller, broadcast, then tell other objects. An
 * ack leaves only after the write is committed: workerd's output gate holds
 * every outgoing frame and RPC result until SQLite has the data on disk.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env, Limits } from "../shared/env";
import { limitsOf } from "../shared/env";
import * as schema from "./schema";
import migrations from "./migrations/migrations.js";
import { RoomStore, type RoomDb } from "./store/room-store";
import { outboxItem } from "./store/outbox";
import { toMessage, type MessageRow } from "./store/messages";
import type { RoomMeta } from "./store/meta";
import { parseMentions } from "./mentions";
import { UnreadCounts, type FreshMessages } from "./unread";
import { checkEmoji, checkText } from "./validate";
import { compileQuery, snippet } from "./search-tokens";
import { REINDEX_PAUSE_MS, SearchReindex } from "./search-reindex";
import { AppError, asAppError, notFound } from "../shared/app-error";
import { ensureSchema, hasSchema, openDb } from "../shared/database";
import { callerFromHeaders, type Caller } from "../shared/identity";
import { isPermanentStorageFault, roomFaultLine, roomUnavailable } from "../shared/storage-faults";
import { frameBytes } from "../shared/frames";
import { safeClose } from "../shared/sockets";
import { storedUser } from "../shared/objects";
import { deleteStoredFile } from "../shared/file-store";
import { BATCHED, Fanout, PLAIN } from "./fanout";
import { refuseSend, sendWaitMs, spendSend } from "./send-budget";
import { AWAY_SUMMARY_INTERVAL_MS, type InboxUpdate, type RoomActivity, type RoomSummary } from "../user/inbox-update";
import type { UserObject } from "../user/user-object";
import type { LastMessage } from "../../protocol/device";
import { newMessageId } from "../../protocol/ids";
import { CLOSE } from "../../protocol/errors";
import { parseClientRoomFrame, type ClientRoomFrame } from "../../protocol/frames";
import type { Attachment, Member, Mentions, Message, Role, Room, SearchHit } from "../../protocol/models";

/** A socket's identity, kept in its attachment so it survives hibernation. */
interface SocketInfo {
  userId: string;
  sessionId: string;
}

export interface MemberInput {
  userId: string;
  username: string;
  displayName: string;
}

export interface SendInput {
  clientId: string;
  text: string;
  replyTo?: string;
  attachments?: string[];
}

export interface CreateRoomInput {
  id: string;
  name: string;
  kind: "group" | "dm";
  visibility: "public" | "private";
  creator: MemberInput;
  members: MemberInput[];
}

/** How many missed messages one `sync` frame carries before the client is told to page instead. */
const SYNC_LIMIT = 500;
const MAX_DISTINCT_REACTIONS = 50;
const RANK: Record<Role, number> = { owner: 3, admin: 2, member: 1 };
/** Members' inboxes hear about a busy room at most this often (the first message after a quiet spell goes at once). */
export const ACTIVITY_INTERVAL_MS = 1000;
/**
 * A room that stays busy stretches its interval, up to this: members
 * who are not looking only need badges and previews, and a node full of busy
 * rooms must not spend its time rewriting every inbox every second. One quiet
 * interval brings it back to ACTIVITY_INTERVAL_MS.
 */
export const ACTIVITY_INTERVAL_MAX_MS = 5000;
/** new messages in one interval above which a room counts as busy */
const BUSY_MESSAGES_PER_INTERVAL = 5;
/** new messages per second (over the last interval) at which a room is flooded */
const FLOODED_MESSAGES_PER_SECOND = 8;
/** reads within this long of the last written ones are written, announced and synced together (see markRead) */
export const READ_FLUSH_MS = 1000;
/** inbox deliveries in flight at once during an activity flush */
const ACTIVITY_SLICE = 16;
/** how long new messages wait before the alarm adds them to the search index, and how many may wait */
const FTS_DELAY_MS = 1000;
const FTS_BATCH = 256;
/** rooms with more slices than this spread them over half their interval */
const ACTIVITY_PACED_ABOVE_SLICES = 4;
/** the longest pause between two slices */
const ACTIVITY_PACE_MAX_MS = 50;
const TYPING_EXPIRES_MS = 6000;
/** open room sockets one user may hold in one room (tabs, devices) */
export const MAX_SOCKETS_PER_USER = 10;
const TYPING_MIN_INTERVAL_MS = 2000;
const PREVIEW_CHARS = 140;

export class RoomObject extends DurableObject<Env> {
  private readonly db: RoomDb;
  private readonly store: RoomStore;
  /** rebuilds the search index after a format change, from the alarm (search-reindex.ts) */
  private readonly reindex: SearchReindex;
  private readonly limits: Limits;
  private meta: RoomMeta | null = null;
  private members = new Map<string, Member>();
  /** username → user id, for mentions */
  private usernames = new Map<string, string>();
  /** read positions that moved since the last flushReads, and readers whose receipt is due */
  private readsPending = new Set<string>();
  private receiptsPending = new Set<string>();
  private lastReadFlush = 0;
  /**
   * Members whose inbox nobody looks at (no device socket, no recent room-list
   * read), with when they last got a summary; and members whose summary is held
   * back (stored with the room, so an eviction cannot lose what is owed; who
   * is away is memory only: after a wake everyone counts as looking, which is safe).
   */
  private away = new Map<string, number>();
  private heldBack = new Set<string>();
  private heldBackStored = false;
  private lastSeq = 0;
  private version = 0;
  private flushing: Promise<void> | null = null;
  private flushAgain = false;
  private readonly unread: UnreadCounts;
  private lastActivityAt = 0;
  private activityInterval = ACTIVITY_INTERVAL_MS;
  /**
   * Stretches this room's interval by up to 20%, so busy rooms that started
   * together do not all reach their members' inboxes in the same instant.
   */
  private readonly activityJitter = 1 + Math.random() * 0.2;
  /** when the oldest message not yet in the search index was stored (null: none wait) */
  private ftsPendingSince: number | null = null;
  /** the alarm time we last set (read once at wake), so scheduling needs no await */
  private alarmAt: number | null = null;
  /** when each user last had a typing frame passed on (ephemeral, lost on eviction: fine) */
  private typingAt = new Map<string, number>();
  private readonly fanout: Fanout;
  /** attachments already read, so the message path does not deserialise one per frame */
  private socketInfo = new WeakMap<WebSocket, SocketInfo>();
  /** read positions, kept apart from `members` so they never leak into member lists */
  private readState = new Map<string, { lastReadSeq: number; sendReceipts: boolean }>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.db = openDb(ctx.storage, schema);
    this.store = new RoomStore(this.db, ctx.storage);
    this.reindex = new SearchReindex(this.store);
    this.unread = new UnreadCounts(this.store.messages);
    this.limits = limitsOf(env);
    this.fanout = new Fanout(ctx);
    // Keep-alives are answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    void ctx.blockConcurrencyWhile(async () => {
      // A room that was never created has no tables; leave it that way (see shared/database.ts).
      if (hasSchema(ctx.storage, "meta")) {
        await ensureSchema(this.db, migrations);
        this.load();
        this.store.search.initPosition(this.lastSeq);
        this.alarmAt = await ctx.storage.getAlarm();
        // An index in an older format is rebuilt by the alarm, in batches: no index work
        // here, and the request that woke the room goes first.
        if (this.reindex.prepare(this.store.search.position())) this.setAlarmBy(Date.now() + REINDEX_PAUSE_MS);
        // Summaries held back before the object was evicted: the alarm delivers them.
        this.heldBack = new Set(this.store.meta.heldBack());
        this.heldBackStored = this.heldBack.size > 0;
        if (this.heldBack.size) this.setAlarmBy(Date.now() + AWAY_SUMMARY_INTERVAL_MS);
        if (this.store.search.position() < this.lastSeq) {
          // A backlog from before a restart: index it at the next alarm.
          this.ftsPendingSince = 0;
          this.setAlarmBy(Date.now() + FTS_DELAY_MS);
        }
      }
    });
  }

  private load(): void {
    this.meta = this.store.meta.load();
    const rows = this.store.members.all();
    this.members = new Map(rows.map(({ lastReadSeq: _r, sendReceipts: _s, ...m }) => [m.userId, m]));
    this.readState = new Map(rows.map((r) => [r.userId, { lastReadSeq: r.lastReadSeq, sendReceipts: r.sendReceipts }]));
    this.usernames = new Map([...this.members.values()].map((m) => [m.username, m.userId]));
    const c = this.store.messages.counters();
    this.lastSeq = c.lastSeq;
    this.version = c.version;
  }

  // ---------------------------------------------------------------- rooms

  async create(input: CreateRoomInput): Promise<Room> {
    if (this.meta) {
      if (this.meta.id === input.id) return this.view(input.creator.userId);
      throw new AppError("conflict", "room id already in use");
    }
    await ensureSchema(this.db, migrations);
    this.reindex.created();
    this.store.search.startEmpty();
    const now = Date.now();
    const meta: RoomMeta = { id: input.id, name: input.name, kind: input.kind, visibility: input.visibility, createdAt: now, createdBy: input.creator.userId };
    const people = new Map<string, Member>();
    people.set(input.creator.userId, { ...input.creator, role: input.kind === "dm" ? "member" : "owner", joinedAt: now });
    for (const m of input.members) if (!people.has(m.userId)) people.set(m.userId, { ...m, role: "member", joinedAt: now });
    this.store.transaction(() => {
      this.store.meta.save(meta);
      for (const m of people.values()) {
        this.store.members.upsert(m);
        this.store.outbox.enqueue(m.userId, { type: "room.added", room: this.summaryFor(meta, m, people) } satisfies InboxUpdate, now);
      }
    });
    this.load();
    await this.flushOutbox();
    return this.view(input.creator.userId);
  }

  async info(caller: Caller): Promise<{ room: Room; members: Member[] }> {
    this.requireMember(caller.userId);
    return { room: this.view(caller.userId), members: [...this.members.values()] };
  }

  /** Join a public room. Private rooms and DMs answer exactly like a room that does not exist. */
  async join(user: MemberInput): Promise<Room> {
    const meta = this.meta;
    if (!meta) throw notFound();
    if (this.members.has(user.userId)) return this.view(user.userId);
    if (meta.kind !== "group" || meta.visibility !== "public") throw notFound();
    this.addMemberRow(user, "member");
    await this.flushOutbox();
    return this.view(user.userId);
  }

  /** Invite someone (any member of a group room may). Idempotent. */
  async addMember(caller: Caller, user: MemberInput): Promise<Room> {
    const meta = this.requireMember(caller.userId);
    if (meta.kind === "dm") throw new AppError("invalid_request", "a direct message has exactly two people");
    if (!this.members.has(user.userId)) {
      this.addMemberRow(user, "member");
      await this.flushOutbox();
    }
    return this.view(caller.userId);
  }

  private addMemberRow(user: MemberInput, role: Role): void {
    const meta = this.meta!;
    const now = Date.now();
    const member: Member = { ...user, role, joinedAt: now };
    // Joining is not reading, but history from before you joined is not "unread" either.
    const read = { lastReadSeq: this.lastSeq, sendReceipts: true };
    this.store.transaction(() => {
      this.store.members.upsert(member);
      this.store.members.setLastRead(member.userId, read.lastReadSeq, true);
      this.store.outbox.enqueue(user.userId, { type: "room.added", room: this.summaryFor(meta, member, this.members) } satisfies InboxUpdate, now);
    });
    this.members.set(member.userId, member);
    this.readState.set(member.userId, read);
    this.usernames.set(member.username, member.userId);
    this.broadcast({ type: "member.joined", member });
  }

  /**
   * Leave (userId = caller) or remove someone. Admins remove members, the
   * owner removes anyone. An owner who leaves hands the room to the longest-
   * standing admin, else the longest-standing member.
   */
  async removeMember(caller: Caller, userId: string): Promise<void> {
    const meta = this.requireMember(caller.userId);
    const actor = this.members.get(caller.userId)!;
    const target = this.members.get(userId);
    if (!target) throw notFound("member");
    if (meta.kind === "dm") throw new AppError("invalid_request", "a direct message cannot be left");
    const self = userId === caller.userId;
    if (!self && (actor.role === "member" || RANK[actor.role] <= RANK[target.role])) {
      throw new AppError("forbidden", "only room admins can remove members, and only those below them");
    }
    const now = Date.now();
    let heir: Member | undefined;
    this.store.transaction(() => {
      this.store.members.delete(userId);
      this.store.outbox.enqueue(userId, { type: "room.removed", roomId: meta.id } satisfies InboxUpdate, now);
      if (target.role === "owner") {
        const rest = [...this.members.values()].filter((m) => m.userId !== userId);
        heir = rest.find((m) => m.role === "admin") ?? rest[0];
        if (heir) {
          this.store.members.setRole(heir.userId, "owner");
          this.store.outbox.enqueue(heir.userId, { type: "room.changed", roomId: meta.id, role: "owner" } satisfies InboxUpdate, now);
        }
      }
    });
    this.members.delete(userId);
    this.readState.delete(userId);
    this.unread.invalidate(userId);
    this.usernames.delete(target.username);
    // Close the removed person's sockets before telling the others, so not one
    // more frame about this room reaches them.
    for (const ws of this.ctx.getWebSockets(`u:${userId}`)) safeClose(ws, CLOSE.policy, self ? "left the room" : "removed from the room");
    this.fanout.invalidate();
    this.broadcast({ type: "member.left", userId, removedBy: self ? null : caller.userId });
    if (heir) {
      const updated = { ...heir, role: "owner" as const };
      this.members.set(heir.userId, updated);
      this.broadcast({ type: "member.updated", member: updated });
    }
    await this.flushOutbox();
  }

  async setRole(caller: Caller, userId: string, role: "admin" | "member"): Promise<Member> {
    const meta = this.requireMember(caller.userId);
    if (meta.kind === "dm") throw new AppError("invalid_request", "a direct message has no roles");
    if (this.members.get(caller.userId)!.role !== "owner") throw new AppError("forbidden", "only the owner can change roles");
    const target = this.members.get(userId);
    if (!target) throw notFound("member");
    if (target.role === "owner") throw new AppError("invalid_request", "the owner's role cannot be changed");
    const updated: Member = { ...target, role };
    this.store.transaction(() => {
      this.store.members.setRole(userId, role);
      this.store.outbox.enqueue(userId, { type: "room.changed", roomId: meta.id, role } satisfies InboxUpdate, Date.now());
    });
    this.members.set(userId, updated);
    this.broadcast({ type: "member.updated", member: updated });
    await this.flushOutbox();
    return updated;
  }

  async rename(caller: Caller, name: string): Promise<Room> {
    const meta = this.requireMember(caller.userId);
    if (meta.kind === "dm") throw new AppError("invalid_request", "a direct message has no name");
    if (this.members.get(caller.userId)!.role === "member") throw new AppError("forbidden", "only room admins can rename the room");
    const now = Date.now();
    this.store.transaction(() => {
      this.store.meta.save({ name });
      for (const m of this.members.values()) this.store.outbox.enqueue(m.userId, { type: "room.changed", roomId: meta.id, name } satisfies InboxUpdate, now);
    });
    meta.name = name;
    for (const ws of this.ctx.getWebSockets()) {
      const info = this.infoOf(ws);
      if (info && this.members.has(info.userId)) this.sendTo(ws, JSON.stringify({ type: "room.updated", room: this.view(info.userId) }));
    }
    await this.flushOutbox();
    return this.view(caller.userId);
  }

  // ------------------------------------------------------------- messages

  async send(caller: Caller, input: SendInput): Promise<{ message: Message; duplicate: boolean }> {
    const result = this.commitSend(caller, input);
    if (!result.duplicate) this.broadcast({ type: "msg.new", message: result.message });
    return result;
  }

  /**
   * Store a message, or find the one this client already sent under the same
   * id (the idempotency key is sender + session + clientId, as Matrix scopes
   * transaction ids: the same id from another session is a new message).
   */
  private commitSend(caller: Caller, input: SendInput): { message: Message; duplicate: boolean } {
    const meta = this.requireMember(caller.userId);
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
    const wait = sendWaitMs(caller.userId, this.limits, Date.now());
    if (wait > 0) return this.duplicateOf(meta, clientKey) ?? refuseSend(this.limits, wait);
    let row: MessageRow;
    let mentions: Mentions;
    try {
      const text = fileIds.length && input.text === "" ? "" : checkText(input.text, this.limits.maxTextBytes);
      const attachments = fileIds.map((id) => this.attachable(caller.userId, id));
      if (input.replyTo !== undefined && !this.store.messages.findById(input.replyTo)) {
        throw new AppError("invalid_request", "replyTo names no message in this room");
      }
      mentions = parseMentions(text, this.usernames);
      row = {
        seq: this.lastSeq + 1,
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
        version: this.version + 1,
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
    spendSend(caller.userId, this.limits, row.createdAt);
    // Counters move only after the insert succeeded: a failed write leaves no gap.
    this.lastSeq = row.seq;
    this.version = row.version;
    this.scheduleActivity();
    this.scheduleIndex();
    return { message: toMessage(meta.id, row, []), duplicate: false };
  }

  /**
   * True when `userId`'s inbox said nobody was looking and got a summary less
   * than AWAY_SUMMARY_INTERVAL_MS ago: the summary is held back (and the member
   * remembered, so a later alarm delivers it even if the room goes quiet).
   */
  private awayUntilLater(userId: string, now: number): boolean {
    const at = this.away.get(userId);
    if (at === undefined || now - at >= AWAY_SUMMARY_INTERVAL_MS) return false;
    this.heldBack.add(userId);
    this.setAlarmBy(at + AWAY_SUMMARY_INTERVAL_MS);
    return true;
  }

  /** What an inbox answered to a delivery: is anyone looking at it? */
  private noteLooking(userId: string, answer: { live: boolean } | undefined): void {
    this.heldBack.delete(userId);
    if (answer && answer.live === false) this.away.set(userId, Date.now());
    else this.away.delete(userId);
  }

  /** The alarm found nothing new: deliver summaries held back from away members whose interval has passed. */
  private async flushHeldBack(): Promise<void> {
    if (this.heldBack.size === 0 || !this.meta) return;
    const now = Date.now();
    const due = [...this.heldBack].filter((u) => this.members.has(u) && !this.awayUntilLater(u, now));
    for (const u of this.heldBack) if (!this.members.has(u)) this.heldBack.delete(u);
    if (due.length === 0) return;
    const last = this.lastMessage();
    // Those that failed stay held back: the alarm tries again.
    if ((await this.deliverSummaries(due.map((userId) => ({ userId, activity: this.activityFor(userId, null, [], last) })))).length) this.setAlarmBy(Date.now() + 2000);
    this.saveHeldBack();
  }

  /** Write who is owed a summary, when that changed from what is stored. */
  private saveHeldBack(): void {
    if (this.heldBack.size === 0 && !this.heldBackStored) return;
    this.store.meta.setHeldBack(this.heldBack);
    this.heldBackStored = this.heldBack.size > 0;
  }

  /** A member's inbox asks for its summary now (someone started looking at it). */
  async inboxSummary(userId: string): Promise<RoomActivity | null> {
    if (!this.meta || !this.members.has(userId)) return null;
    this.away.delete(userId);
    this.heldBack.delete(userId);
    return this.activityFor(userId, null, [], this.lastMessage());
  }

  /** A member's inbox object (members were checked when they were added). */
  private inboxOf(userId: string): DurableObjectStub<UserObject> {
    return storedUser(this.env, userId);
  }

  private duplicateOf(meta: RoomMeta, clientKey: string): { message: Message; duplicate: true } | null {
    const existing = this.store.messages.findByClientKey(clientKey);
    return existing ? { message: this.store.messages.toMessages(meta.id, [existing])[0], duplicate: true } : null;
  }

  async history(caller: Caller, q: { before?: number; after?: number; limit?: number }): Promise<{ messages: Message[]; hasMore: boolean; lastSeq: number }> {
    const meta = this.requireMember(caller.userId);
    const { rows, hasMore } = this.store.messages.page({ before: q.before, after: q.after, limit: Math.min(Math.max(q.limit ?? 50, 1), 100) });
    return { messages: this.store.messages.toMessages(meta.id, rows), hasMore, lastSeq: this.lastSeq };
  }

  async getMessage(caller: Caller, id: string): Promise<Message> {
    const meta = this.requireMember(caller.userId);
    const row = this.store.messages.findById(id);
    if (!row) throw notFound("message");
    return this.store.messages.toMessages(meta.id, [row])[0];
  }

  async edit(caller: Caller, id: string, text: string): Promise<Message> {
    const meta = this.requireMember(caller.userId);
    const row = this.store.messages.findById(id);
    if (!row) throw notFound("message");
    if (row.senderId !== caller.userId) throw new AppError("forbidden", "only the author can edit a message");
    if (row.deletedAt !== null) throw new AppError("conflict", "the message was recalled");
    const checked = checkText(text, this.limits.maxTextBytes);
    const version = this.version + 1;
    const mentions = parseMentions(checked, this.usernames);
    const set = { text: checked, mentions: JSON.stringify(mentions), editedAt: Date.now(), version };
    this.store.transaction(() => {
      this.store.messages.update(row.seq, set);
      this.store.messages.replaceMentions(row.seq, mentions);
      this.store.search.reindexText(row.seq, checked);
    });
    this.version = version;
    this.unread.invalidate(); // mention counts may change
    this.scheduleActivity();
    return this.publishUpdate(meta.id, { ...row, ...set });
  }

  /** Recall: the author within the window, room admins and the owner at any time. Leaves a tombstone. */
  async remove(caller: Caller, id: string): Promise<Message> {
    const meta = this.requireMember(caller.userId);
    const row = this.store.messages.findById(id);
    if (!row) throw notFound("message");
    if (row.deletedAt !== null) return this.store.messages.toMessages(meta.id, [row])[0];
    const role = this.members.get(caller.userId)!.role;
    const isAuthor = row.senderId === caller.userId;
    const inWindow = Date.now() - row.createdAt <= this.limits.recallWindowSeconds * 1000;
    if (role === "member" || meta.kind === "dm") {
      if (!isAuthor) throw new AppError("forbidden", "only the author or a room admin can recall a message");
      if (!inWindow) throw new AppError("recall_window_passed", `messages can be recalled within ${this.limits.recallWindowSeconds} seconds`);
    }
    const version = this.version + 1;
    const set = { text: "", mentions: JSON.stringify({ users: [], all: false }), deletedAt: Date.now(), version, attachments: null };
    const now = Date.now();
    this.store.transaction(() => {
      this.store.messages.update(row.seq, set);
      this.store.clearDerived(row.seq);
      // A file belongs to its message: recalling the message removes the file
      // (its bytes are deleted from disk through the outbox, retried until done).
      for (const f of this.store.files.ofMessage(row.seq)) {
        this.store.files.delete(f.id);
        this.store.outbox.enqueue("", { type: "file.delete", storageKey: f.storageKey }, now);
      }
    });
    this.version = version;
    this.unread.invalidate(); // a recalled message is no longer unread
    this.scheduleActivity();
    const message = this.publishUpdate(meta.id, { ...row, ...set });
    if (row.attachments) await this.flushOutbox();
    return message;
  }

  async react(caller: Caller, id: string, emoji: string): Promise<Message> {
    const meta = this.requireMember(caller.userId);
    const row = this.store.messages.findById(id);
    if (!row) throw notFound("message");
    if (row.deletedAt !== null) throw new AppError("conflict", "the message was recalled");
    checkEmoji(emoji);
    const version = this.version + 1;
    this.store.transaction(() => {
      const added = this.store.messages.toggleReaction(row.seq, emoji, caller.userId, Date.now());
      if (added && this.store.messages.distinctEmojiCount(row.seq) > MAX_DISTINCT_REACTIONS) {
        throw new AppError("too_large", `a message can carry at most ${MAX_DISTINCT_REACTIONS} different reactions`);
      }
      this.store.messages.update(row.seq, { version });
    });
    this.version = version;
    return this.publishUpdate(meta.id, { ...row, version });
  }

  private publishUpdate(roomId: string, row: MessageRow): Message {
    const message = this.store.messages.toMessages(roomId, [row])[0];
    this.broadcast({ type: "msg.updated", message });
    return message;
  }

  // --------------------------------------------------------------- search

  /** Full-text search in this room, for a current member only (checked now, not when they joined). */
  async search(caller: Caller, q: { q: string; from?: string; before?: number; after?: number; hasFile?: boolean; limit: number }): Promise<SearchHit[]> {
    const meta = this.requireMember(caller.userId);
    const compiled = compileQuery(q.q);
    if (!compiled) return [];
    // Messages not yet in the index are added first, so a search sees everything stored.
    try {
      while (this.store.search.indexBacklog(this.lastSeq)) {
        // one batch per transaction
      }
      this.ftsPendingSince = null;
      this.reindex.finishIfSmall();
    } catch (err) {
      throw storageFailure(err);
    }
    const hits = this.reindex.search(compiled, q.q, q, Math.min(Math.max(q.limit, 1), 200));
    const messages = this.store.messages.toMessages(meta.id, hits.map((h) => h.row));
    return hits.map((h, i) => ({ message: messages[i], snippet: snippet(h.row.text, compiled.terms), score: h.score }));
  }

  // ---------------------------------------------------------------- files

  /** Is the caller a member now? (Checked before an upload streams any bytes.) */
  async checkMember(caller: Caller): Promise<void> {
    this.requireMember(caller.userId);
  }

  /** Record an uploaded file (bytes already on disk). It is shared when a message names it. */
  async registerFile(caller: Caller, f: { id: string; name: string; size: number; contentType: string; sha256: string; storageKey: string }): Promise<Attachment> {
    this.requireMember(caller.userId);
    this.store.files.insert({ ...f, uploaderId: caller.userId, createdAt: Date.now(), messageSeq: null });
    return { id: f.id, name: f.name, size: f.size, contentType: f.contentType, sha256: f.sha256 };
  }

  /** A file's metadata, for a current member only; null looks like "no such file" to everyone else. */
  async fileForDownload(caller: Caller, fileId: string): Promise<{ name: string; size: number; contentType: string; sha256: string; storageKey: string } | null> {
    if (!this.meta || !this.members.has(caller.userId)) return null;
    const f = this.store.files.get(fileId);
    // Unshared uploads are visible to their uploader only.
    if (!f || (f.messageSeq === null && f.uploaderId !== caller.userId)) return null;
    return { name: f.name, size: f.size, contentType: f.contentType, sha256: f.sha256, storageKey: f.storageKey };
  }

  private attachable(userId: string, fileId: string): Attachment {
    const f = this.store.files.get(fileId);
    if (!f || f.uploaderId !== userId) throw new AppError("invalid_request", `no file ${fileId} uploaded by you in this room`);
    if (f.messageSeq !== null) throw new AppError("invalid_request", `file ${fileId} is already shared in a message`);
    return { id: f.id, name: f.name, size: f.size, contentType: f.contentType, sha256: f.sha256 };
  }

  // ------------------------------------------------- reads, receipts, typing

  /**
   * Move the caller's read position forward to `seq` (clamped to the room's
   * last seq; never backwards). Other members see a receipt unless the caller
   * turned receipts off; all the caller's devices get the new counts at once.
   */
  async markRead(caller: Caller, seq: number): Promise<{ lastReadSeq: number }> {
    this.requireMember(caller.userId);
    const state = this.readState.get(caller.userId) ?? { lastReadSeq: 0, sendReceipts: true };
    const target = Math.min(Math.max(seq, state.lastReadSeq), this.lastSeq);
    // The caller's current setting when the Worker knows it (REST); otherwise the
    // one the room was last told (setSendReceipts keeps it current).
    const sendReceipts = caller.sendReceipts ?? state.sendReceipts;
    // Nothing moved: the inbox already has (or is about to get) this position.
    if (target === state.lastReadSeq && sendReceipts === state.sendReceipts) return { lastReadSeq: target };
    this.readState.set(caller.userId, { lastReadSeq: target, sendReceipts });
    this.readsPending.add(caller.userId);
    if (sendReceipts && target > state.lastReadSeq) this.receiptsPending.add(caller.userId);
    // A read after a quiet second is written and announced at once; reads that
    // follow it within READ_FLUSH_MS (people watching a busy room) wait and go
    // together: one write for all of them, one receipt and one inbox update per reader.
    const due = this.lastReadFlush + READ_FLUSH_MS;
    if (Date.now() >= due) await this.flushReads();
    else this.setAlarmBy(due);
    return { lastReadSeq: target };
  }

  /**
   * Write the read positions that moved, tell the room (receipts) and each
   * reader's inbox. Positions live in memory first (unread counts use them at
   * once); a crash before this runs loses at most READ_FLUSH_MS of read
   * progress, which the reader's client repeats — acked messages are never at
   * stake here.
   */
  private async flushReads(): Promise<void> {
    if (this.readsPending.size === 0) return;
    this.lastReadFlush = Date.now();
    const readers = [...this.readsPending].filter((u) => this.members.has(u) && this.readState.has(u));
    const receipts = [...this.receiptsPending];
    try {
      this.store.transaction(() => {
        for (const userId of readers) {
          const r = this.readState.get(userId)!;
          this.store.members.setLastRead(userId, r.lastReadSeq, r.sendReceipts);
        }
      });
    } catch (err) {
      // Still pending: the alarm tries again (a full disk, say), and the caller hears of it.
      this.setAlarmBy(Date.now() + 2000);
      throw storageFailure(err);
    }
    this.readsPending.clear();
    this.receiptsPending.clear();
    for (const userId of receipts) {
      const r = this.readState.get(userId);
      if (r?.sendReceipts && this.members.has(userId)) this.broadcast({ type: "receipt", userId, seq: r.lastReadSeq });
    }
    const last = this.lastMessage();
    const failed = await this.deliverSummaries(readers.map((userId) => ({ userId, activity: this.activityFor(userId, null, [], last) })));
    if (failed.length) console.error(`read sync to inbox failed for ${failed.length} of ${readers.length} readers`);
  }

  /** The member changed their receipts setting (told by their inbox object). */
  async setSendReceipts(userId: string, sendReceipts: boolean): Promise<void> {
    const state = this.readState.get(userId);
    if (!state || !this.members.has(userId) || state.sendReceipts === sendReceipts) return;
    this.store.members.setLastRead(userId, state.lastReadSeq, sendReceipts);
    this.readState.set(userId, { ...state, sendReceipts });
  }

  /** Who has read up to where, for members who send receipts. */
  async receipts(caller: Caller): Promise<{ userId: string; seq: number }[]> {
    this.requireMember(caller.userId);
    const out: { userId: string; seq: number }[] = [];
    for (const [userId, r] of this.readState) if (r.sendReceipts && this.members.has(userId)) out.push({ userId, seq: r.lastReadSeq });
    return out;
  }

  private handleTyping(ws: WebSocket, userId: string): void {
    const now = Date.now();
    // Floods are clamped, not answered: at most one typing frame per user every 2 s is passed on.
    if (now - (this.typingAt.get(userId) ?? 0) < TYPING_MIN_INTERVAL_MS) return;
    this.typingAt.set(userId, now);
    const data = JSON.stringify({ type: "typing", userId, expiresInMs: TYPING_EXPIRES_MS });
    const { plain, batched } = this.fanout.sockets();
    for (const list of [plain, batched]) {
      for (const other of list) {
        const info = this.infoOf(other);
        if (other !== ws && info && info.userId !== userId) this.sendTo(other, data);
      }
    }
  }

  // ----------------------------------------------- full-text index, behind

  /**
   * After a send: the message waits for the index (RoomStore.indexBacklog).
   * The backlog is indexed by the room's alarm once its oldest message has
   * waited FTS_DELAY_MS — in a busy room that is the inbox-activity alarm,
   * so the index rides in a commit the room makes anyway — or at once when
   * FTS_BATCH messages wait. A search indexes it first.
   */
  private scheduleIndex(): void {
    this.ftsPendingSince ??= Date.now();
    if (this.lastSeq - this.store.search.position() >= FTS_BATCH) this.indexNow();
  }

  /** From the alarm: index the backlog if it is old enough, else come back when it is. */
  private indexDue(): void {
    if (this.ftsPendingSince === null) return;
    if (Date.now() - this.ftsPendingSince >= FTS_DELAY_MS) this.indexNow();
    else this.setAlarmBy(this.ftsPendingSince + FTS_DELAY_MS);
  }

  private indexNow(): void {
    try {
      if (this.store.search.indexBacklog(this.lastSeq, FTS_BATCH)) this.setAlarmBy(Date.now());
      else this.ftsPendingSince = null;
    } catch (err) {
      // The backlog stays in `messages`; the next alarm, send or search retries it.
      console.error("search index write failed", err);
      this.setAlarmBy(Date.now() + 2000);
    }
  }

  // ----------------------------------------------- coalesced inbox activity

  /**
   * After a change, make sure members' inboxes hear about it: at once if the
   * room has been quiet, otherwise at most once per ACTIVITY_INTERVAL_MS. The
   * alarm is stored with the room, so an eviction cannot lose the update.
   */
  private scheduleActivity(): void {
    const at = Math.max(Date.now(), this.lastActivityAt + Math.round(this.activityInterval * this.activityJitter));
    this.setAlarmBy(at);
  }

  /**
   * Make sure the alarm fires no later than `at`. Synchronous on purpose: the
   * alarm is written in the same implicit transaction as the message that
   * needs it, so a send costs one commit (one fsync), not two.
   */
  private setAlarmBy(at: number): void {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }

  private async flushActivity(): Promise<void> {
    const notifiedVersion = this.store.meta.number("notified_version");
    if (this.version <= notifiedVersion) return this.flushHeldBack();
    this.lastActivityAt = Date.now();
    const after = this.store.meta.number("notified_seq");
    const batch = this.store.messages.newSince(after, 1000);
    // Busy: double the interval; flooded: straight to the longest (doubling kept a
    // node of flooded rooms delivering at full rate for ~8 s). One quiet interval
    // brings it back. A burst of a few messages is neither.
    const perSecond = (batch.rows.length * 1000) / this.activityInterval;
    this.activityInterval =
      perSecond >= FLOODED_MESSAGES_PER_SECOND ? ACTIVITY_INTERVAL_MAX_MS
      : batch.rows.length > BUSY_MESSAGES_PER_INTERVAL ? Math.min(this.activityInterval * 2, ACTIVITY_INTERVAL_MAX_MS)
      : ACTIVITY_INTERVAL_MS;
    const fresh: FreshMessages = { rows: batch.rows, mentions: batch.mentions, after };
    if (batch.rows.length >= 1000) this.unread.invalidate();
    const seq = this.lastSeq;
    const version = this.version;
    const activities: { userId: string; activity: RoomActivity }[] = [];
    const last = this.lastMessage();
    const now = Date.now();
    for (const userId of this.members.keys()) {
      const notifications = this.notificationsFor(userId, batch.rows, batch.mentions);
      const activity = this.activityFor(userId, fresh, notifications, last);
      // Nobody is looking at this member's inbox: a plain summary waits (at most
      // AWAY_SUMMARY_INTERVAL_MS); notifications never wait.
      if (notifications.length === 0 && this.awayUntilLater(userId, now)) continue;
      activities.push({ userId, activity });
    }
    this.store.meta.setNumber("notified_seq", seq);
    this.store.meta.setNumber("notified_version", version);
    // Who is still owed a summary survives an eviction (written in the same commit).
    this.saveHeldBack();
    // In slices, so the room (and everything else on the node) keeps serving
    // messages between them instead of stalling behind one burst of inbox work.
    // A big room also spreads its slices over half its interval: 2,000 inboxes
    // woken back to back kept the node's one thread busy for a second at a
    // time, and every viewer on the node waited behind it.
    const slices = Math.ceil(activities.length / ACTIVITY_SLICE);
    const pace = slices > ACTIVITY_PACED_ABOVE_SLICES ? Math.min(ACTIVITY_PACE_MAX_MS, (this.activityInterval / 2) / slices) : 0;
    const failed = await this.deliverSummaries(activities, pace);
    if (failed.length) console.error(`room activity: ${failed.length} of ${activities.length} inbox deliveries failed`);
  }

  /**
   * Summaries to members' inboxes, ACTIVITY_SLICE at a time (`pace` ms between
   * slices), noting from each answer whether anyone looks at that inbox.
   * Returns the members whose delivery failed.
   */
  private async deliverSummaries(items: { userId: string; activity: RoomActivity }[], pace = 0): Promise<string[]> {
    const failed: string[] = [];
    for (let i = 0; i < items.length; i += ACTIVITY_SLICE) {
      if (pace && i > 0) await new Promise((resolve) => setTimeout(resolve, pace));
      const slice = items.slice(i, i + ACTIVITY_SLICE);
      const results = await Promise.allSettled(slice.map(({ userId, activity }) => this.inboxOf(userId).applyActivity(activity)));
      results.forEach((r, k) => (r.status === "fulfilled" ? this.noteLooking(slice[k].userId, r.value) : failed.push(slice[k].userId)));
    }
    return failed;
  }

  private activityFor(userId: string, fresh: FreshMessages | null, notifications: RoomActivity["notifications"], lastMessage: LastMessage | null): RoomActivity {
    const read = this.readState.get(userId)?.lastReadSeq ?? 0;
    const counts = this.unread.counts(userId, read, this.lastSeq, fresh);
    return { roomId: this.meta!.id, lastSeq: this.lastSeq, lastReadSeq: read, unread: counts.unread, mentions: counts.mentions, lastMessage, notifications };
  }

  private notificationsFor(userId: string, rows: { seq: number; id: string; senderId: string; text: string; createdAt: number; deletedAt: number | null }[], mentions: Map<number, string[]>): RoomActivity["notifications"] {
    const meta = this.meta!;
    const read = this.readState.get(userId)?.lastReadSeq ?? 0;
    const out: RoomActivity["notifications"] = [];
    for (const r of rows) {
      if (r.senderId === userId || r.deletedAt !== null || r.seq <= read) continue;
      const who = mentions.get(r.seq);
      const kind = meta.kind === "dm" ? "dm" : who && (who.includes(userId) || who.includes("*")) ? "mention" : null;
      if (!kind) continue;
      out.push({ kind, roomId: meta.id, messageId: r.id, seq: r.seq, senderId: r.senderId, preview: r.text.slice(0, PREVIEW_CHARS), createdAt: r.createdAt });
      if (out.length >= 20) break;
    }
    return out;
  }

  private lastMessage(): LastMessage | null {
    const row = this.store.messages.lastRow();
    if (!row) return null;
    return { id: row.id, seq: row.seq, senderId: row.senderId, preview: row.deletedAt !== null ? "" : row.text.slice(0, PREVIEW_CHARS), createdAt: row.createdAt, deleted: row.deletedAt !== null };
  }

  // ------------------------------------------------------- revocation hooks

  /** Close the sockets of revoked sessions (logout, admin revocation). */
  async closeSessions(sessionIds: string[], reason = "session revoked"): Promise<number> {
    let n = 0;
    for (const id of sessionIds) for (const ws of this.ctx.getWebSockets(`s:${id}`)) n += safeClose(ws, CLOSE.policy, reason);
    this.fanout.invalidate();
    return n;
  }

  // ------------------------------------------------------------ WebSockets

  override async fetch(request: Request): Promise<Response> {
    const caller = callerFromHeaders(request.headers);
    if (!caller) return jsonError(401, "unauthorized", "not signed in");
    if (!this.meta || !this.members.has(caller.userId)) return jsonError(404, "not_found", "no such room, or you may not see it");
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return jsonError(426, "invalid_request", "this endpoint speaks WebSocket: send an Upgrade request");
    }
    // Bounded sockets per person: a runaway or hostile client cannot pile up
    // sockets (memory) in one room; the oldest makes way for the newest tab.
    const mine = this.ctx.getWebSockets(`u:${caller.userId}`);
    for (let i = 0; i <= mine.length - MAX_SOCKETS_PER_USER; i++) safeClose(mine[i], CLOSE.policy, "too many connections: replaced by a newer one");
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.fanout.invalidate();
    // Tags let revocation and removal find a user's or a session's sockets without a scan.
    const params = new URL(request.url).searchParams;
    const batch = params.get("batch") === "1";
    this.ctx.acceptWebSocket(server, [`u:${caller.userId}`, `s:${caller.sessionId}`, batch ? BATCHED : PLAIN]);
    const info: SocketInfo = { userId: caller.userId, sessionId: caller.sessionId };
    server.serializeAttachment(info);
    this.socketInfo.set(server, info);
    server.send(JSON.stringify({ type: "hello", room: this.view(caller.userId), userId: caller.userId, lastSeq: this.lastSeq, version: this.version }));
    const after = params.get("afterSeq");
    if (after !== null && /^\d{1,15}$/.test(after)) this.sendSync(server, Number(after), undefined);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    if (frameBytes(raw, this.limits.maxFrameBytes) > this.limits.maxFrameBytes) {
      safeClose(ws, CLOSE.too_big, `frames are limited to ${this.limits.maxFrameBytes} bytes`);
      return;
    }
    const info = this.infoOf(ws);
    const member = info && this.members.get(info.userId);
    if (!info || !member || !this.meta) {
      safeClose(ws, CLOSE.policy, "not a member of this room");
      return;
    }
    const parsed = parseClientRoomFrame(raw);
    if (!parsed.ok) {
      this.sendTo(ws, JSON.stringify({ type: "error", code: parsed.code, message: parsed.message, ...(parsed.replyTo ? { replyTo: parsed.replyTo } : {}) }));
      return;
    }
    const caller: Caller = { userId: info.userId, sessionId: info.sessionId, username: member.username, displayName: member.displayName, isAdmin: false };
    const frame = parsed.frame;
    try {
      await this.handleFrame(ws, caller, frame);
    } catch (err) {
      const e = asAppError(err) ?? (isPermanentStorageFault(err) ? roomUnavailable() : null);
      if (e?.code === "room_unavailable") console.error(roomFaultLine(this.meta.id, this.ctx.id.toString(), err));
      else if (!e) console.error("room frame failed", frame.type, err);
      const replyTo = frame.type === "msg.send" ? frame.clientId : frame.reqId;
      this.sendTo(ws, JSON.stringify({ type: "error", code: e?.code ?? "internal", message: e?.detail ?? "internal error", ...(replyTo ? { replyTo } : {}) }));
    }
  }

  private async handleFrame(ws: WebSocket, caller: Caller, frame: ClientRoomFrame): Promise<void> {
    switch (frame.type) {
      case "msg.send": {
        let r;
        try {
          r = this.commitSend(caller, frame);
        } catch (err) {
          // Refused for speed: the frame also says when to send it again.
          if (!(err instanceof AppError && err.retryAfterMs !== undefined)) throw err;
          this.sendTo(ws, JSON.stringify({ type: "error", code: err.code, message: err.detail, replyTo: frame.clientId, retryAfterMs: err.retryAfterMs }));
          return;
        }
        const ack = JSON.stringify({ type: "msg.ack", clientId: frame.clientId, id: r.message.id, seq: r.message.seq, duplicate: r.duplicate });
        // A plain socket gets the ack, then the echo; a batched one both in one frame.
        if (r.duplicate) this.sendTo(ws, ack);
        else this.fanout.broadcast(JSON.stringify({ type: "msg.new", message: r.message }), { ws, data: ack });
        return;
      }
      case "msg.edit":
        await this.edit(caller, frame.id, frame.text);
        break;
      case "msg.delete":
        await this.remove(caller, frame.id);
        break;
      case "msg.react":
        await this.react(caller, frame.id, frame.emoji);
        break;
      case "sync":
        this.sendSync(ws, frame.afterSeq, frame.afterVersion, frame.reqId);
        return;
      case "ping":
        this.sendTo(ws, '{"type":"pong"}');
        return;
      case "typing":
        this.handleTyping(ws, caller.userId);
        return;
      case "read":
        await this.markRead({ ...caller, sendReceipts: undefined }, frame.seq);
        break;
    }
    if (frame.reqId) this.sendTo(ws, JSON.stringify({ type: "ok", replyTo: frame.reqId }));
  }

  /**
   * Resume: everything after `afterSeq` (and, with `afterVersion`, older
   * messages changed since), in seq order. Past SYNC_LIMIT the client is told
   * to page through REST history instead of being flooded.
   */
  private sendSync(ws: WebSocket, afterSeq: number, afterVersion: number | undefined, reqId?: string): void {
    const meta = this.meta!;
    const base = { type: "sync", lastSeq: this.lastSeq, version: this.version, ...(reqId ? { replyTo: reqId } : {}) };
    if (afterSeq > this.lastSeq) afterSeq = this.lastSeq; // garbage positions are clamped
    let rows;
    if (afterVersion !== undefined && afterVersion <= this.version) {
      rows = this.store.messages.changedSince(afterVersion, SYNC_LIMIT);
    } else {
      rows = this.store.messages.page({ after: afterSeq, limit: SYNC_LIMIT + 1 }).rows;
    }
    if (rows.length > SYNC_LIMIT) {
      this.sendTo(ws, JSON.stringify({ ...base, messages: [], tooFarBehind: true }));
      return;
    }
    this.sendTo(ws, JSON.stringify({ ...base, messages: this.store.messages.toMessages(meta.id, rows), tooFarBehind: false }));
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    this.fanout.invalidate();
    // 1005/1006 are reserved and may not be sent back.
    safeClose(ws, code === 1005 || code === 1006 ? 1000 : code, "closing");
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.fanout.invalidate();
    safeClose(ws, CLOSE.internal, "socket error");
  }

  // --------------------------------------------------------------- outbox

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    if (this.readsPending.size) {
      // A failure keeps the reads pending and re-arms the alarm; the rest still runs.
      await this.flushReads().catch((err) => console.error("writing read positions failed", err));
    }
    await this.flushOutbox();
    // Same turn as the activity flush's writes: one commit for both.
    this.indexDue();
    this.reindexDue();
    await this.flushActivity();
  }

  /** One bounded batch of a re-index per alarm run, re-armed until done (search-reindex.ts). */
  private reindexDue(): void {
    if (!this.meta || !this.reindex.active) return;
    try {
      if (this.reindex.batch()) this.setAlarmBy(Date.now() + REINDEX_PAUSE_MS);
    } catch (err) {
      // Rolled back; the stored position is where the next try starts.
      console.error("search re-index batch failed", err);
      this.setAlarmBy(Date.now() + 2000);
    }
  }

  /**
   * Deliver pending inbox updates in order. One flush at a time (a second
   * caller waits for the running one, which loops once more), so an older
   * "added" can never overtake a newer "removed".
   */
  private async flushOutbox(): Promise<void> {
    if (this.flushing) {
      this.flushAgain = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      do {
        this.flushAgain = false;
        for (const row of this.store.outbox.pending()) {
          try {
            const payload = outboxItem(row);
            if (payload.type === "file.delete") {
              await deleteStoredFile(this.env, payload.storageKey);
            } else {
              await this.inboxOf(row.userId).applyInboxUpdate(payload);
            }
            this.store.outbox.delete(row.id);
          } catch (err) {
            console.error("inbox delivery failed, retrying", err);
            this.setAlarmBy(Date.now() + 2000);
            return;
          }
        }
      } while (this.flushAgain);
    })().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  // -------------------------------------------------------------- helpers

  private requireMember(userId: string): RoomMeta {
    if (!this.meta || !this.members.has(userId)) throw notFound();
    return this.meta;
  }

  private view(userId: string): Room {
    const meta = this.meta!;
    return {
      id: meta.id,
      name: meta.name,
      kind: meta.kind,
      visibility: meta.visibility,
      createdAt: meta.createdAt,
      createdBy: meta.createdBy,
      lastSeq: this.lastSeq,
      memberCount: this.members.size,
      role: this.members.get(userId)?.role ?? null,
    };
  }

  private summaryFor(meta: RoomMeta, m: Member, people: ReadonlyMap<string, Member>): RoomSummary {
    const peer = meta.kind === "dm" ? ([...people.keys()].find((id) => id !== m.userId) ?? null) : null;
    return {
      roomId: meta.id,
      name: meta.name,
      kind: meta.kind,
      visibility: meta.visibility,
      role: m.role,
      joinedAt: m.joinedAt,
      peerId: peer,
      lastSeq: this.lastSeq,
      lastReadSeq: this.lastSeq,
      lastMessage: this.meta ? this.lastMessage() : null,
    };
  }

  /** Serialise once, send to every open socket of a current member (see fanout.ts). */
  private broadcast(frame: object): void {
    this.fanout.broadcast(JSON.stringify(frame));
  }

  /** A socket's identity: from memory, or (after a wake from hibernation) from its attachment. */
  private infoOf(ws: WebSocket): SocketInfo | null {
    let info = this.socketInfo.get(ws);
    if (!info) {
      info = (ws.deserializeAttachment() as SocketInfo | null) ?? undefined;
      if (info) this.socketInfo.set(ws, info);
    }
    return info ?? null;
  }

  /** A frame for one socket, after anything already queued for it (order is kept). */
  private sendTo(ws: WebSocket, data: string): void {
    this.fanout.sendTo(ws, data);
  }
}

/**
 * A write that SQLite refused (disk full, I/O error). workerd reports these as
 * an opaque "internal error" from sql.exec; the caller gets `storage_error`
 * (503: nothing was stored, retry later). The runtime also resets the object,
 * closing its sockets, so no ack can leave for a write that did not happen.
 * A damaged file (SQLITE_CORRUPT) is no passing fault: `room_unavailable`
 * (shared/storage-faults.ts).
 */
export function storageFailure(err: unknown): Error {
  if (asAppError(err)) return err as Error;
  console.error("room write failed", err);
  if (isPermanentStorageFault(err)) return roomUnavailable();
  return new AppError("storage_error", "the node could not store this (disk full or I/O error); nothing was saved, try again later");
}



function jsonError(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status });
}
