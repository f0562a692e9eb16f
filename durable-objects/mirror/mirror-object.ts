/**
 * MirrorObject: this node's copy of a room homed on another node, one per
 * (room, node) and only where the room has members. The home room stays the
 * single writer: it decides every send, edit, membership and read, and it
 * pushes what changed to each node where it has members (`applyPush`), one
 * stream per node however many members are there. The mirror keeps what was
 * pushed in its own SQLite file (messages, members, reads, a search index) and
 * serves this node's members from it exactly as a room serves its own: the
 * same REST answers, the same socket frames, one local broadcast per event.
 *
 * Writes go home: a send goes on the room's channel, or joins the link's
 * ordered queue when the channel cannot take it (durable either way, delivered
 * exactly once and in order even across a cut or a `kill -9`: mirror-sends.ts),
 * other actions are forwarded and fail with `room_unreachable` while the link
 * is down. Reads answer from
 * the copy at once, link or no link; `syncedAt` says how fresh it is.
 *
 * A room created with residency "home" leaves nothing of its messages here:
 * the mirror passes the pushed frames on to its viewers and stores none,
 * and history and search are asked of the home (unreachable during a cut).
 */
import { reportSockets } from "../shared/node-metrics";
import { socketClosed } from "../shared/socket-events";
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../shared/env";
import * as schema from "./schema";
import migrations from "./migrations/migrations.js";
import { ensureSchema, hasSchema, openDb } from "../shared/database";
import { callerFromHeaders, type Caller } from "../shared/identity";
import { AppError, asAppError, notFound } from "../shared/app-error";
import { answerPingsWhileAsleep, closeBack, closeIfOversized, closeOnError, errorResponse, failureFrame, okFrame, parseOrAnswer, refuseUnlessUpgrade, safeClose } from "../shared/sockets";
import { limitsOf } from "../shared/env";
import { linkStub } from "../shared/objects";
import { searchCopy, type MirrorSearchQuery } from "./mirror-search";
import { MirrorStore, type MirrorState } from "./mirror-store";
import { MirrorCopy } from "./mirror-copy";
import { MirrorSockets } from "./mirror-sockets";
import { MirrorSends, answerFrame, outcomeOf, type SendInput, type SendOutcome } from "./mirror-sends";
import { LINK_CHANNEL_HEADER, LinkSockets } from "./link-socket";
import { registerMirror } from "./registration";
import { callHome } from "./forward";
import { LiveSends } from "./live-sends";
import { CLOSE } from "../../protocol/errors";
import { homeNode } from "../../protocol/ids";
import { parseClientRoomFrame, type ClientRoomFrame } from "../../protocol/frames";
import type { LinkSendResult, RoomPush, RoomPushAnswer } from "../../protocol/cluster";
import type { Member, Message, Room, SearchHit } from "../../protocol/models";

const SYNC_LIMIT = 500;

export class MirrorObject extends DurableObject<Env> {
  private readonly store: MirrorStore;
  private readonly sockets: MirrorSockets;
  private readonly sends: MirrorSends;
  /** sends in a home-only room (live-sends.ts) */
  private readonly live: LiveSends;
  /** the channel from the room's home (link-socket.ts) */
  private readonly links: LinkSockets;
  /** the room's copy: as its viewers were told, and as written (mirror-copy.ts) */
  private readonly copy: MirrorCopy;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new MirrorStore(openDb(ctx.storage, schema), ctx.storage);
    this.sockets = new MirrorSockets(ctx);
    this.copy = new MirrorCopy(ctx.storage, this.store, this.sockets);
    reportSockets("mirror", ctx);
    this.sends = new MirrorSends(env, ctx.storage.sql, (fn) => ctx.storage.transactionSync(fn), this.sockets, () => this.links, (at) => void ctx.storage.setAlarm(at), limitsOf(env).mirrorWriteDelayMs, (id) => {
      this.links.settle();
      return this.store.byId(id);
    });
    this.live = new LiveSends(env, () => this.roomId);
    this.links = new LinkSockets(ctx, {
      prepare: async (push) => {
        await registerMirror(env, push);
        await this.copy.ready();
      },
      take: (push) => this.copy.take(push),
      write: (pushes) => this.copy.write(pushes),
      sent: (result) => this.sends.results([result], "channel"),
      sendsLost: (why) => this.sends.handOver(why),
    }, limitsOf(env).mirrorWriteDelayMs);
    answerPingsWhileAsleep(ctx);
    void ctx.blockConcurrencyWhile(async () => {
      // A mirror exists once its home pushed to it; until then it has no tables (and no file is written).
      if (hasSchema(ctx.storage, "meta")) {
        await ensureSchema(openDb(ctx.storage, schema), migrations);
        this.copy.load();
      }
    });
  }

  /** the copy as this node's viewers were told */
  private get state(): MirrorState | null {
    return this.copy.state;
  }

  private get members(): Map<string, Member> {
    return this.copy.members;
  }

  private get roomId(): string {
    return this.state!.room!.id;
  }

  private get homeOnly(): boolean {
    return this.state?.room?.residency === "home";
  }

  // ------------------------------------------------------------ from the home

  /** A push as an HTTP request (a home without channels): written and answered at once. Idempotent. */
  async applyPush(push: RoomPush): Promise<RoomPushAnswer> {
    this.links.settle();
    await this.copy.ready();
    this.copy.take(push);
    return this.copy.write([push])[0];
  }

  /** The link's queue delivered (or the home refused) sends of this room. */
  async sendResults(results: LinkSendResult[]): Promise<void> {
    if (this.state) this.sends.results(results, "queue");
  }

  /** Sends on the channel not answered in time, or left by a restart, go by the link's queue (mirror-sends.ts). */
  override async alarm(): Promise<void> {
    if (this.state) this.sends.check();
  }

  // ------------------------------------------------------ the room's RPCs

  private requireMember(userId: string): void {
    if (!this.state?.room || !this.members.has(userId)) throw notFound();
  }

  private view(userId: string): Room {
    return this.copy.view(userId);
  }

  async info(caller: Caller): Promise<{ room: Room; members: Member[] }> {
    this.requireMember(caller.userId);
    return { room: this.view(caller.userId), members: [...this.members.values()] };
  }

  /**
   * The room's name as the home last pushed it, for this node's admin screens
   * (worker/admin-names.ts): no membership asked, since only the name leaves.
   * Null before the first push.
   */
  async roomName(): Promise<string | null> {
    return this.state?.room?.name || null;
  }

  /** When this copy last heard from the home (for "last synced at …"). */
  async syncedAt(): Promise<number> {
    return this.state?.syncedAt ?? 0;
  }

  /**
   * A page from the copy, at once, link or no link — flagged `stale` (with when
   * the copy last heard from the home) while the home cannot be reached.
   */
  async history(
    caller: Caller,
    q: { before?: number; after?: number; limit?: number },
  ): Promise<{ messages: Message[]; hasMore: boolean; lastSeq: number; syncedAt?: number; stale?: boolean; retention?: { beforeSeq: number; before: number } }> {
    this.requireMember(caller.userId);
    if (this.homeOnly) return callHome(this.env, this.roomId, "history", caller, [q]);
    this.links.settle();
    const page = this.store.page({ before: q.before, after: q.after, limit: Math.min(Math.max(q.limit ?? 50, 1), 100) });
    const home = homeNode(this.roomId)!;
    const link = await linkStub(this.env, home).getStatus(home);
    // The home's retention marker: also the gap marker of a copy that never received what the home removed.
    const r = this.state!.retention;
    return { ...page, lastSeq: this.state!.lastSeq, syncedAt: this.state!.syncedAt, stale: link.state !== "up", ...(r ? { retention: { beforeSeq: r.beforeSeq, before: r.before } } : {}) };
  }

  async getMessage(caller: Caller, id: string): Promise<Message> {
    this.requireMember(caller.userId);
    if (this.homeOnly) return callHome(this.env, this.roomId, "getMessage", caller, [id]);
    this.links.settle();
    const m = this.store.byId(id);
    if (!m) throw notFound("message");
    return m;
  }

  async search(caller: Caller, q: MirrorSearchQuery): Promise<SearchHit[]> {
    this.requireMember(caller.userId);
    if (this.homeOnly) return callHome(this.env, this.roomId, "search", caller, [q]);
    this.links.settle();
    return searchCopy(this.store, q);
  }

  async receipts(caller: Caller): Promise<{ userId: string; seq: number }[]> {
    this.requireMember(caller.userId);
    this.links.settle();
    return this.store.reads().filter((r) => this.members.has(r.userId));
  }

  /** A member of this node is being erased (directory/erasure-mirrors.ts): what this copy keeps of their sends goes. */
  async eraseSender(userId: string): Promise<void> {
    this.sends.forget(userId);
  }

  /** A send by a member of this node: queued for the home, answered with its outcome or `{queued}` (mirror-sends.ts); live to the home in a home-only room. */
  async send(caller: Caller, input: SendInput): Promise<SendOutcome> {
    this.requireMember(caller.userId);
    if (this.homeOnly) return outcomeOf(await this.live.send(caller, input));
    return this.sends.send(this.roomId, caller, input);
  }

  async edit(caller: Caller, id: string, text: string): Promise<Message> {
    this.requireMember(caller.userId);
    return callHome(this.env, this.roomId, "edit", caller, [id, text]);
  }

  async remove(caller: Caller, id: string): Promise<Message> {
    this.requireMember(caller.userId);
    return callHome(this.env, this.roomId, "remove", caller, [id]);
  }

  async react(caller: Caller, id: string, emoji: string): Promise<Message> {
    this.requireMember(caller.userId);
    return callHome(this.env, this.roomId, "react", caller, [id, emoji]);
  }

  async markRead(caller: Caller, seq: number): Promise<{ lastReadSeq: number }> {
    this.requireMember(caller.userId);
    return callHome(this.env, this.roomId, "markRead", caller, [seq]);
  }

  async join(user: { userId: string; username: string; displayName: string }): Promise<Room> {
    const caller: Caller = { ...user, sessionId: "", isAdmin: false };
    return callHome(this.env, this.state?.room?.id ?? "", "join", caller, []);
  }

  async addMember(caller: Caller, user: { userId: string; username: string; displayName: string }): Promise<Room> {
    this.requireMember(caller.userId);
    return callHome(this.env, this.roomId, "addMember", caller, [user]);
  }

  async removeMember(caller: Caller, userId: string): Promise<void> {
    this.requireMember(caller.userId);
    return callHome(this.env, this.roomId, "removeMember", caller, [userId]);
  }

  async setRole(caller: Caller, userId: string, role: "admin" | "member"): Promise<Member> {
    this.requireMember(caller.userId);
    return callHome(this.env, this.roomId, "setRole", caller, [userId, role]);
  }

  async rename(caller: Caller, name: string): Promise<Room> {
    this.requireMember(caller.userId);
    return callHome(this.env, this.roomId, "rename", caller, [name]);
  }

  async updateRoom(caller: Caller, set: { name?: string; topic?: string }): Promise<Room> {
    this.requireMember(caller.userId);
    return callHome(this.env, this.roomId, "updateRoom", caller, [set]);
  }

  /**
   * Is the caller a member (per this copy; the home checks again)? Asked before
   * an upload or a download of the room's files, which stay on the home node and
   * are streamed through the link by the Worker (worker/remote-files.ts).
   */
  async checkMember(caller: Caller): Promise<void> {
    this.requireMember(caller.userId);
  }

  async closeSessions(sessionIds: string[], reason = "session revoked"): Promise<number> {
    return this.sockets.closeSessions(sessionIds, reason);
  }

  async setSendReceipts(userId: string, sendReceipts: boolean): Promise<void> {
    const m = this.members.get(userId);
    if (!m || !this.state?.room) return;
    await callHome(this.env, this.roomId, "setSendReceipts", { userId, sessionId: "", username: m.username, displayName: m.displayName, isAdmin: false }, [sendReceipts]).catch(() => {});
  }

  async inboxSummary(userId: string): Promise<unknown> {
    const m = this.members.get(userId);
    if (!m || !this.state?.room) return null;
    return callHome(this.env, this.roomId, "inboxSummary", { userId, sessionId: "", username: m.username, displayName: m.displayName, isAdmin: false }, []).catch(() => null);
  }

  // ------------------------------------------------------------- sockets

  override async fetch(request: Request): Promise<Response> {
    const refused = refuseUnlessUpgrade(request);
    if (refused) return refused;
    const channel = request.headers.get(LINK_CHANNEL_HEADER);
    if (channel !== null) return this.links.accept(channel);
    const caller = callerFromHeaders(request.headers);
    if (!caller) return errorResponse(new AppError("unauthorized", "not signed in"));
    if (!this.state?.room || !this.members.has(caller.userId)) return errorResponse(notFound());
    const params = new URL(request.url).searchParams;
    const { client, server } = this.sockets.accept(caller, params.get("batch") === "1");
    this.sockets.send(server, { type: "hello", room: this.view(caller.userId), userId: caller.userId, lastSeq: this.state.lastSeq, version: this.state.version });
    const after = params.get("afterSeq");
    if (after !== null && /^\d{1,15}$/.test(after)) await this.sendSync(server, caller, Number(after), undefined);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    if (this.links.isLink(ws)) return this.links.message(ws, raw);
    if (closeIfOversized(ws, raw, limitsOf(this.env).maxFrameBytes)) return;
    const caller = this.sockets.callerOf(ws);
    if (!caller || !this.members.has(caller.userId)) {
      safeClose(ws, CLOSE.policy, "not a member of this room");
      return;
    }
    const frame = parseOrAnswer(parseClientRoomFrame(raw), (f) => this.sockets.send(ws, f));
    if (!frame) return;
    try {
      await this.handleFrame(ws, caller, frame);
    } catch (err) {
      this.sockets.send(ws, failureFrame(asAppError(err), frame.type === "msg.send" ? frame.clientId : frame.reqId));
    }
  }

  private async handleFrame(ws: WebSocket, caller: Caller, frame: ClientRoomFrame): Promise<void> {
    switch (frame.type) {
      case "msg.send": {
        if (this.homeOnly) return this.sockets.send(ws, answerFrame(await this.live.send(caller, frame)));
        const submitted = await this.sends.submit(this.roomId, caller, frame);
        if (submitted.kind === "answered") this.sockets.send(ws, answerFrame(submitted.result));
        else if (submitted.kind === "queued-down") this.sockets.send(ws, { type: "msg.queued", clientId: frame.clientId });
        // queued-up: the ack comes when the home answers (sendResults); if that takes
        // longer than REST waits, the sender hears `msg.queued` first.
        else this.sends.queuedOnSocket(submitted.key, () => this.sockets.send(ws, { type: "msg.queued", clientId: frame.clientId }));
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
        await this.sendSync(ws, caller, frame.afterSeq, frame.afterVersion, frame.reqId);
        return;
      case "ping":
        this.sockets.send(ws, { type: "pong" });
        return;
      case "typing":
        void callHome(this.env, this.roomId, "typing", caller, []).catch(() => {});
        return;
      case "read":
        await this.markRead(caller, frame.seq);
        break;
    }
    if (frame.reqId) this.sockets.send(ws, okFrame(frame.reqId));
  }

  /** Resume: what this socket missed, from the copy (a home-only room: asked of the home). */
  private async sendSync(ws: WebSocket, caller: Caller, afterSeq: number, afterVersion: number | undefined, reqId?: string): Promise<void> {
    this.links.settle(); // what the copy was told is written before it is read
    const s = this.state!;
    const base = { type: "sync" as const, lastSeq: s.lastSeq, version: s.version, ...(reqId ? { replyTo: reqId } : {}) };
    let messages: Message[];
    if (this.homeOnly) {
      const page = await this.history(caller, { after: Math.min(afterSeq, s.lastSeq), limit: 100 });
      if (page.hasMore) return this.sockets.send(ws, { ...base, messages: [], tooFarBehind: true });
      messages = page.messages;
    } else if (afterVersion !== undefined && afterVersion <= s.version) {
      messages = this.store.changedSince(afterVersion, SYNC_LIMIT + 1);
    } else {
      const page = this.store.page({ after: Math.min(afterSeq, s.lastSeq), limit: SYNC_LIMIT });
      if (page.hasMore) return this.sockets.send(ws, { ...base, messages: [], tooFarBehind: true });
      messages = page.messages;
    }
    if (messages.length > SYNC_LIMIT) return this.sockets.send(ws, { ...base, messages: [], tooFarBehind: true });
    this.sockets.send(ws, { ...base, messages, tooFarBehind: false });
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    if (this.links.isLink(ws)) {
      this.links.gone(ws);
      return closeBack(ws, code);
    }
    socketClosed("mirror", this.ctx, ws, code);
    this.sockets.changed();
    closeBack(ws, code);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    if (this.links.isLink(ws)) {
      this.links.gone(ws);
      return closeOnError(ws);
    }
    socketClosed("mirror", this.ctx, ws, 1006);
    this.sockets.changed();
    closeOnError(ws);
  }
}
