/**
 * RoomObject: one per chat room. It owns the room's SQLite file (members,
 * messages, reactions, files, search index, outbox) and the WebSockets of the
 * people who have the room open (hibernation API: an idle room is evicted
 * from memory while its sockets stay connected, and is rebuilt from SQLite +
 * socket attachments on the next frame).
 *
 * Lifecycle: constructor → (migrate + load inside blockConcurrencyWhile) →
 * RPC calls from the Worker / frames from sockets → alarm (read batches, the
 * outbox, the search index behind, inbox activity).
 *
 * This class is only that lifecycle and its RPC methods (the Worker and the
 * other objects call them through stubs); each RPC method and frame is handed
 * to the module named after what it does, all sharing one RoomState:
 *   room-frames.ts     a socket's frames: one case per type, failures as error frames
 *   members.ts         create/join/invite/leave/remove, roles, rename, a member's new name
 *   messages.ts        send (one path for REST and sockets), history, edit, recall, react
 *   reads.ts           read positions, receipts, typing
 *   files.ts           uploads, downloads, files of recalled messages
 *   search-index.ts    full-text search and the index kept behind
 *   inbox-activity.ts  coalesced summaries to members' inboxes (away-members.ts: who is not looking)
 *   outbox.ts          deliveries to other objects, retried until done
 *   retention.ts       retention purges and legal-hold copies (erasure.ts: a person's erasure)
 *   upload-sweep.ts    uploads no message shared within a day, removed
 *   room-socket.ts     accepting sockets, reading frames, typed sends, sync/resume
 *   room-view.ts       the room as a member or an inbox sees it, with the retention in force
 *   store/             the tables, by group
 */
import { errorText, log } from "../shared/log";
import { reportSockets, timeAck } from "../shared/node-metrics";
import { socketClosed } from "../shared/socket-events";
import { DurableObject } from "cloudflare:workers";
import type { Env, Limits } from "../shared/env";
import { limitsOf } from "../shared/env";
import * as schema from "./schema";
import migrations from "./migrations/migrations.js";
import { AppError, notFound } from "../shared/app-error";
import { ensureSchema, hasSchema, openDb } from "../shared/database";
import { callerFromHeaders, type Caller } from "../shared/identity";
import { answerPingsWhileAsleep, closeBack, closeOnError, errorResponse, refuseUnlessUpgrade } from "../shared/sockets";
import { deliverActivity, deliverInboxUpdate } from "../shared/inbox-delivery";
import { directoryStub } from "../shared/objects";
import { AuditFeed, auditObjectKey } from "../shared/audit";
import { RoomPeers } from "./peers";
import type { Attachment, Member, Message, Room, SearchHit } from "../../protocol/models";
import type { RoomActivity } from "../user/inbox-update";
import { RoomStore, type RoomDb } from "./store/room-store";
import { RoomState } from "./room-state";
import { RoomFrames } from "./room-frames";
import { roomAsSeenBy, withRetention } from "./room-view";
import { RoomSockets } from "./room-socket";
import { Outbox } from "./outbox";
import { InboxActivity } from "./inbox-activity";
import { SearchIndex, type SearchQuery } from "./search-index";
import { RoomFiles, type UploadedFile } from "./files";
import { Reads } from "./reads";
import { Members, type CreateRoomInput, type MemberInput } from "./members";
import { Messages, type SendInput, type SendResult } from "./messages";
import { Retention, type RetentionDays } from "./retention";
import { UploadSweep } from "./upload-sweep";
import { RoomErasure, type ErasePlaceholder } from "./erasure";
import type { RetentionMarker } from "./store/retention";
import { RoomExport, type ExportHead, type ExportUserPart } from "./export-rows";
import type { ExportMessage } from "../../protocol/export";

export type { CreateRoomInput, MemberInput } from "./members";
export type { SendInput } from "./messages";

export class RoomObject extends DurableObject<Env> {
  // Built in this order as fields (after super(): ctx and env are set); each module takes the ones before it.
  private readonly db: RoomDb = openDb(this.ctx.storage, schema);
  private readonly store = new RoomStore(this.db, this.ctx.storage, new AuditFeed(this.ctx.storage.sql, auditObjectKey("RoomObject", this.ctx), () => this.state.meta?.id ?? "", () => directoryStub(this.env)));
  private readonly limits: Limits = limitsOf(this.env);
  private readonly state = new RoomState((at) => void this.ctx.storage.setAlarm(at));
  private readonly sockets = new RoomSockets(this.ctx, this.state, this.store.messages);
  /** the other nodes where this room has members (peers.ts) */
  private readonly peers = new RoomPeers(this.env, this.state, this.store, (caller, input) => this.send(caller, input));
  // Members were checked when they were added: their inboxes are stored ids, on this node or another.
  private readonly outbox = new Outbox(this.state, this.store.outbox, this.env, (userId, update) => deliverInboxUpdate(this.env, userId, this.peers.redact(userId, update)));
  private readonly activity = new InboxActivity(this.state, this.store, (userId, activity) => deliverActivity(this.env, userId, this.peers.redact(userId, activity)));
  private readonly index = new SearchIndex(this.state, this.store);
  /** uploads no message shared within a day (upload-sweep.ts) */
  private readonly uploads = new UploadSweep(this.env, this.state, this.store, this.outbox);
  private readonly files = new RoomFiles(this.state, this.store, (at) => this.uploads.uploaded(at));
  private readonly reads = new Reads(this.state, this.store, this.sockets, this.activity);
  private readonly members = new Members(this.state, this.store, this.sockets, this.outbox, this.activity, (roomId, count) => this.reportMemberCount(roomId, count));
  private readonly messages = new Messages(this.state, this.store, this.sockets, this.files, this.activity, this.index, this.outbox, this.limits, (senderId) =>
    directoryStub(this.env).isHeld(this.state.meta!.id, senderId),
  );
  /** retention policy, purges and legal-hold copies (retention.ts) */
  private readonly retention = new Retention(this.state, this.store, this.env, this.activity, this.outbox, () => this.peers.changed());
  private readonly erasure = new RoomErasure(this.state, this.store, this.retention, this.sockets, this.activity, this.outbox);
  private readonly exports = new RoomExport(this.state, this.store, this.ctx.storage.sql);
  private readonly frames = new RoomFrames(this.ctx, this.state, this.sockets, this.messages, this.reads);

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Every change a broadcast announces reaches the other nodes where the room has members.
    this.sockets.watch((e) => (e.kind === "typing" ? this.peers.typed(e.userId) : this.peers.changed()));
    answerPingsWhileAsleep(ctx);
    // Sockets outlive the object while it hibernates; after a reset this corrects the gauge.
    reportSockets("room", ctx);
    void ctx.blockConcurrencyWhile(async () => {
      // A room that was never created has no tables; leave it that way (see shared/database.ts).
      if (!hasSchema(ctx.storage, "meta")) return;
      await ensureSchema(this.db, migrations);
      this.load();
      this.state.alarmIsAt(await ctx.storage.getAlarm());
      // Work left from before the wake (index backlog, re-index, held-back
      // summaries) is only armed here: the request that woke the room goes first.
      this.index.wake();
      this.activity.wake();
      this.retention.wake();
      this.uploads.wake();
      // A push to another node that did not get through before the object went away goes now.
      if (this.peers.behind()) this.state.setAlarmBy(Date.now());
      // Records committed before the last shutdown that the directory may not have yet.
      ctx.waitUntil(this.store.audit.ship());
    });
  }

  private load(): void {
    this.state.load(this.store.meta.load(), this.store.members.all(), this.store.messages.counters());
  }

  // ---------------------------------------------------------------- rooms
  async create(input: CreateRoomInput): Promise<Room> {
    const meta = this.state.meta;
    if (meta) {
      if (meta.id === input.id) return roomAsSeenBy(this.state, input.creator.userId);
      throw new AppError("conflict", "room id already in use");
    }
    await ensureSchema(this.db, migrations);
    this.index.created();
    this.members.writeNewRoom(input);
    this.retention.created();
    this.load();
    await this.outbox.flush();
    this.peers.changed();
    return roomAsSeenBy(this.state, input.creator.userId);
  }

  /** A member of another node is typing (told by their node's mirror). */
  async remoteTyping(userId: string): Promise<void> {
    if (this.state.isMember(userId)) this.reads.typing(null, userId);
  }
  /**
   * The public directory's member count, sent after the change is written: a
   * report lost to a crash leaves the count one change behind until the next.
   */
  private reportMemberCount(roomId: string, count: number): void {
    this.ctx.waitUntil(directoryStub(this.env).describeRoom(roomId, { memberCount: count }).catch((err) => log("warn", "room.member_count_not_reported", { room: roomId, error: errorText(err) })));
  }
  /** Members now, for the public directory's rooms that have not reported yet. */
  async memberCount(): Promise<number> {
    return this.state.members.size;
  }
  /** The link to `node` works again after a push from here failed (LinkObject): push without waiting for the back-off. */
  async peerUp(node: string): Promise<void> {
    this.peers.linkUp(node);
  }

  async info(caller: Caller): Promise<{ room: Room; members: Member[] }> {
    const info = this.members.info(caller);
    // The retention in force, for the room settings dialog (GET /rooms/{id} only).
    return { ...info, room: withRetention(info.room, this.retention) };
  }

  async join(user: MemberInput): Promise<Room> {
    return this.members.join(user);
  }
  async addMember(caller: Caller, user: MemberInput): Promise<Room> {
    return this.members.invite(caller, user);
  }
  async removeMember(caller: Caller, userId: string): Promise<void> {
    return this.members.remove(caller, userId);
  }
  async setRole(caller: Caller, userId: string, role: "admin" | "member"): Promise<Member> {
    return this.members.setRole(caller, userId, role);
  }
  async rename(caller: Caller, name: string): Promise<Room> {
    return this.members.rename(caller, name);
  }
  async updateRoom(caller: Caller, set: { name?: string; topic?: string }): Promise<Room> {
    return this.members.update(caller, set);
  }

  // ------------------------------------------------------------- messages
  async send(caller: Caller, input: SendInput): Promise<SendResult> {
    const arrived = Date.now();
    const result = this.messages.send(caller, input);
    if (!result.duplicate) timeAck(this.ctx.storage, arrived);
    return result;
  }

  async history(caller: Caller, q: { before?: number; after?: number; limit?: number }): Promise<{ messages: Message[]; hasMore: boolean; lastSeq: number; retention?: RetentionMarker }> {
    const page = this.messages.history(caller, q);
    // What retention removed (clients show it at the top of history): absent until a purge.
    const marker = this.retention.marker();
    return marker ? { ...page, retention: { beforeSeq: marker.beforeSeq, before: marker.before } } : page;
  }

  async getMessage(caller: Caller, id: string): Promise<Message> {
    return this.messages.get(caller, id);
  }
  async edit(caller: Caller, id: string, text: string): Promise<Message> {
    return this.messages.edit(caller, id, text);
  }
  async remove(caller: Caller, id: string): Promise<Message> {
    return this.messages.recall(caller, id);
  }
  async react(caller: Caller, id: string, emoji: string): Promise<Message> {
    return this.messages.react(caller, id, emoji);
  }
  async search(caller: Caller, q: SearchQuery): Promise<SearchHit[]> {
    return this.index.search(caller, q);
  }

  // ------------------------------------------ retention, holds, erasure
  /** A node administrator sets the room's own retention (undefined: follow the node's default). */
  async setRetention(days: RetentionDays | undefined, by: string): Promise<Room> {
    if (!this.state.meta) throw notFound();
    this.retention.setRoomPolicy(days, by);
    return withRetention(roomAsSeenBy(this.state, ""), this.retention);
  }

  /** The node's default changed (the directory tells every room). */
  async retentionDefaultChanged(days: RetentionDays): Promise<void> {
    if (this.state.meta) this.retention.defaultChanged(days);
  }

  /** One batch of a person's erasure (the directory's job drives it: directory/erasure.ts). */
  async eraseUser(userId: string, placeholder: ErasePlaceholder, roomHeld: boolean, afterSeq: number, by: string): Promise<{ done: boolean; afterSeq: number }> {
    const step = await this.erasure.batch(userId, placeholder, roomHeld, afterSeq, by);
    // The copies on other nodes get the tombstones and dropped reactions by version: a batch
    // broadcasts nothing but the member row (absent when the person left the room).
    this.peers.changed();
    return step;
  }

  // ---------------------------------------------------------------- files
  /** Is the caller a member now? (Checked before an upload streams any bytes.) */
  async checkMember(caller: Caller): Promise<void> {
    this.state.requireMember(caller.userId);
  }
  async registerFile(caller: Caller, f: UploadedFile): Promise<Attachment> {
    return this.files.register(caller, f);
  }
  async fileForDownload(caller: Caller, fileId: string): Promise<Omit<UploadedFile, "id"> | null> {
    return this.files.forDownload(caller, fileId);
  }

  // --------------------------------------------- compliance export (admins)
  async exportHead(caller: Caller): Promise<ExportHead> {
    return this.exports.head(caller);
  }
  async exportPage(caller: Caller, afterSeq: number, limit: number, senderId?: string): Promise<{ messages: ExportMessage[]; next: number | null }> {
    return this.exports.page(caller, afterSeq, limit, senderId);
  }
  async exportUserPart(caller: Caller, userId: string): Promise<ExportUserPart> {
    return this.exports.userPart(caller, userId);
  }

  // ------------------------------------------------------ reads, receipts
  async markRead(caller: Caller, seq: number): Promise<{ lastReadSeq: number }> {
    return this.reads.markRead(caller, seq);
  }
  async setSendReceipts(userId: string, sendReceipts: boolean): Promise<void> {
    this.reads.setSendReceipts(userId, sendReceipts);
  }
  /** A member renamed themselves or changed their avatar (the user object tells each of its rooms). */
  async memberProfileChanged(userId: string, displayName: string): Promise<void> {
    this.members.profileChanged(userId, displayName);
  }
  async receipts(caller: Caller): Promise<{ userId: string; seq: number }[]> {
    return this.reads.receipts(caller);
  }

  // --------------------------------------------------- inboxes, revocation
  /** A member's inbox asks for its summary now (someone started looking at it). */
  async inboxSummary(userId: string): Promise<RoomActivity | null> {
    const summary = this.activity.summaryNow(userId);
    return summary && this.peers.redact(userId, summary);
  }

  /** Close the sockets of revoked sessions (logout, admin revocation). */
  async closeSessions(sessionIds: string[], reason = "session revoked"): Promise<number> {
    return this.sockets.closeSessions(sessionIds, reason);
  }

  // ------------------------------------------------------------ WebSockets
  override async fetch(request: Request): Promise<Response> {
    const refused = refuseUnlessUpgrade(request);
    if (refused) return refused;
    const caller = callerFromHeaders(request.headers);
    if (!caller) return errorResponse(new AppError("unauthorized", "not signed in"));
    if (!this.state.isMember(caller.userId)) return errorResponse(notFound());
    return new Response(null, { status: 101, webSocket: this.sockets.accept(caller, new URL(request.url).searchParams) });
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const received = this.sockets.receive(ws, raw, this.limits.maxFrameBytes);
    if (received) await this.frames.handle(ws, received.caller, received.frame);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    socketClosed("room", this.ctx, ws, code);
    this.sockets.changed();
    closeBack(ws, code);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    socketClosed("room", this.ctx, ws, 1006);
    this.sockets.changed();
    closeOnError(ws);
  }

  // ---------------------------------------------------------------- alarm
  override async alarm(): Promise<void> {
    this.state.alarmFired();
    // Other nodes that missed a push (a cut link) get what they miss.
    this.peers.changed();
    if (this.reads.anyPending) {
      // A failure keeps the reads pending and re-arms the alarm; the rest still runs.
      await this.reads.flush().catch((err) => log("error", "room.reads_not_written", { room: this.state.meta?.id, error: errorText(err) }));
    }
    await this.outbox.flush();
    // Same turn as the activity flush's writes: one commit for both.
    this.index.due();
    // One bounded purge batch when retention is due (it re-arms the alarm while more are).
    await this.retention.due();
    await this.uploads.due();
    await this.activity.flush();
  }
}
