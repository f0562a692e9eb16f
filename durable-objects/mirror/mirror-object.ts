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
 * Writes go home: a send joins the link's ordered queue (durable, delivered
 * exactly once even across a cut or a `kill -9`), other actions are forwarded
 * and fail with `room_unreachable` while the link is down. Reads answer from
 * the copy at once, link or no link; `syncedAt` says how fresh it is.
 *
 * A room created with residency "home" leaves nothing of its messages here:
 * the mirror passes the pushed frames on to its viewers and stores none,
 * and history and search are asked of the home (unreachable during a cut).
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../shared/env";
import * as schema from "./schema";
import migrations from "./migrations/migrations.js";
import { ensureSchema, hasSchema, openDb } from "../shared/database";
import { callerFromHeaders, type Caller } from "../shared/identity";
import { AppError, notFound } from "../shared/app-error";
import { answerPingsWhileAsleep, closeBack, closeOnError, frameBytes, refuseUnlessUpgrade, safeClose } from "../shared/sockets";
import { limitsOf } from "../shared/env";
import { linkStub } from "../shared/objects";
import { Fanout, BATCHED, PLAIN } from "../room/fanout";
import { compileQuery, snippet } from "../room/search-tokens";
import { MirrorStore, type MirrorState } from "./mirror-store";
import { callHome } from "./forward";
import { CLOSE } from "../../protocol/errors";
import { homeNode } from "../../protocol/ids";
import { parseClientRoomFrame, type ClientRoomFrame, type ServerRoomFrame } from "../../protocol/frames";
import type { LinkSendItem, LinkSendResult, RoomPush, RoomPushAnswer } from "../../protocol/cluster";
import type { Member, Message, Room, SearchHit } from "../../protocol/models";

/** How long a REST send waits for the home's answer before it is answered 202 (queued). */
const SEND_WAIT_MS = 3000;
const SYNC_LIMIT = 500;
const SEARCH_WINDOW = 2000;

interface SendInput {
  clientId: string;
  text: string;
  replyTo?: string;
  attachments?: string[];
}

type SendOutcome = { message: Message; duplicate: boolean } | { queued: true; clientId: string };

export class MirrorObject extends DurableObject<Env> {
  private readonly store: MirrorStore;
  private readonly fanout: Fanout;
  private state: MirrorState | null = null;
  private members = new Map<string, Member>();
  /** REST sends waiting for the home's answer, by idempotency key */
  private waiting = new Map<string, (r: LinkSendResult) => void>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new MirrorStore(openDb(ctx.storage, schema), ctx.storage);
    this.fanout = new Fanout(ctx);
    answerPingsWhileAsleep(ctx);
    void ctx.blockConcurrencyWhile(async () => {
      // A mirror exists once its home pushed to it; until then it has no tables (and no file is written).
      if (hasSchema(ctx.storage, "meta")) {
        await ensureSchema(openDb(ctx.storage, schema), migrations);
        this.loadState();
      }
    });
  }

  private loadState(): void {
    this.state = this.store.load();
    this.members = new Map(this.state.members.map((m) => [m.userId, m]));
  }

  private get roomId(): string {
    return this.state!.room!.id;
  }

  private get homeOnly(): boolean {
    return this.state?.room?.residency === "home";
  }

  // ------------------------------------------------------------ from the home

  /** Apply what the home pushed; answer with the positions now held. Idempotent. */
  async applyPush(push: RoomPush): Promise<RoomPushAnswer> {
    if (!this.state) {
      await ensureSchema(openDb(this.ctx.storage, schema), migrations);
      this.loadState();
    }
    const before = this.state!;
    const homeOnly = push.room.residency === "home";
    const frames: ServerRoomFrame[] = [];
    const now = Date.now();
    let newMembers: Member[] | null = null;
    this.store.transaction(() => {
      this.store.saveRoom(push.room);
      if (push.members && push.membersRev !== before.membersRev) {
        newMembers = push.members as Member[];
        this.store.saveMembers(newMembers, push.membersRev);
      }
      // Everything changed after `after`; a repeat (the home did not hear our last answer) changes nothing.
      for (const m of push.messages as Message[]) {
        if (homeOnly) {
          if (m.seq > before.lastSeq) frames.push({ type: "msg.new", message: m });
          else if (m.version > before.version) frames.push({ type: "msg.updated", message: m });
          continue;
        }
        const put = this.store.putMessage(m, true);
        if (put === "new") frames.push({ type: "msg.new", message: m });
        else if (put === "updated") frames.push({ type: "msg.updated", message: m });
      }
      if (homeOnly && before.room?.residency !== "home") this.store.dropMessages();
      this.store.setReads(push.reads);
      this.store.savePositions(Math.max(before.lastSeq, push.lastSeq), Math.max(before.version, push.version), now);
    });
    const oldMembers = this.members;
    this.loadState();
    if (newMembers) this.announceMembers(oldMembers, newMembers);
    if (before.room && before.room.name !== push.room.name) {
      for (const ws of this.ctx.getWebSockets()) {
        const userId = this.userOf(ws);
        if (userId && this.members.has(userId)) this.sendTo(ws, { type: "room.updated", room: this.view(userId) });
      }
    }
    for (const f of frames) this.broadcast(f);
    for (const r of push.reads) if (this.members.has(r.userId)) this.broadcast({ type: "receipt", userId: r.userId, seq: r.seq });
    for (const userId of push.typing ?? []) this.typing(userId);
    return { version: this.state!.version, lastSeq: this.state!.lastSeq, membersRev: this.state!.membersRev };
  }

  /** Membership changed at the home: removed members' sockets close before anyone hears of it. */
  private announceMembers(before: Map<string, Member>, after: Member[]): void {
    const now = new Map(after.map((m) => [m.userId, m]));
    for (const [userId] of before) {
      if (now.has(userId)) continue;
      for (const ws of this.ctx.getWebSockets(`u:${userId}`)) safeClose(ws, CLOSE.policy, "removed from the room");
    }
    this.fanout.invalidate();
    for (const [userId] of before) if (!now.has(userId)) this.broadcast({ type: "member.left", userId, removedBy: null });
    for (const m of after) {
      const old = before.get(m.userId);
      if (!old) this.broadcast({ type: "member.joined", member: m });
      else if (old.role !== m.role || old.displayName !== m.displayName) this.broadcast({ type: "member.updated", member: m });
    }
  }

  private typing(userId: string): void {
    const data = JSON.stringify({ type: "typing", userId, expiresInMs: 6000 } satisfies ServerRoomFrame);
    const { plain, batched } = this.fanout.sockets();
    for (const ws of [...plain, ...batched]) if (this.userOf(ws) !== userId) this.fanout.sendTo(ws, data);
  }

  /** The link's queue delivered (or the home refused) sends of this room. */
  async sendResults(results: LinkSendResult[]): Promise<void> {
    if (!this.state) return;
    this.store.transaction(() => {
      for (const r of results) {
        this.ctx.storage.sql.exec("UPDATE sends SET state = ?, result = ?, at = ? WHERE client_key = ?", r.ok ? "stored" : "refused", JSON.stringify(r), Date.now(), `${r.userId}|${r.sessionId}|${r.clientId}`);
      }
    });
    for (const r of results) {
      const key = `${r.userId}|${r.sessionId}|${r.clientId}`;
      const wake = this.waiting.get(key);
      if (wake) {
        this.waiting.delete(key);
        wake(r);
      }
      for (const ws of this.ctx.getWebSockets(`s:${r.sessionId}`)) if (this.userOf(ws) === r.userId) this.sendTo(ws, this.answerFrame(r));
    }
  }

  private answerFrame(r: LinkSendResult): ServerRoomFrame {
    return r.ok
      ? { type: "msg.ack", clientId: r.clientId, id: r.message.id, seq: r.message.seq, duplicate: r.duplicate }
      : { type: "error", code: r.code, message: r.message, replyTo: r.clientId };
  }

  // ------------------------------------------------------ the room's RPCs

  private requireMember(userId: string): void {
    if (!this.state?.room || !this.members.has(userId)) throw notFound();
  }

  private view(userId: string): Room {
    const { residency: _r, ...room } = this.state!.room!;
    return { ...room, lastSeq: this.state!.lastSeq, memberCount: this.members.size, role: this.members.get(userId)?.role ?? null };
  }

  async info(caller: Caller): Promise<{ room: Room; members: Member[] }> {
    this.requireMember(caller.userId);
    return { room: this.view(caller.userId), members: [...this.members.values()] };
  }

  /** When this copy last heard from the home (for "last synced at …"). */
  async syncedAt(): Promise<number> {
    return this.state?.syncedAt ?? 0;
  }

  async history(caller: Caller, q: { before?: number; after?: number; limit?: number }): Promise<{ messages: Message[]; hasMore: boolean; lastSeq: number }> {
    this.requireMember(caller.userId);
    if (this.homeOnly) return callHome(this.env, this.roomId, "history", caller, [q]);
    const page = this.store.page({ before: q.before, after: q.after, limit: Math.min(Math.max(q.limit ?? 50, 1), 100) });
    return { ...page, lastSeq: this.state!.lastSeq };
  }

  async getMessage(caller: Caller, id: string): Promise<Message> {
    this.requireMember(caller.userId);
    if (this.homeOnly) return callHome(this.env, this.roomId, "getMessage", caller, [id]);
    const m = this.store.byId(id);
    if (!m) throw notFound("message");
    return m;
  }

  async search(caller: Caller, q: { q: string; from?: string; before?: number; after?: number; hasFile?: boolean; limit: number }): Promise<SearchHit[]> {
    this.requireMember(caller.userId);
    if (this.homeOnly) return callHome(this.env, this.roomId, "search", caller, [q]);
    const compiled = compileQuery(q.q);
    if (!compiled) return [];
    const hits = this.store.search(compiled.match, SEARCH_WINDOW);
    const bySeq = this.store.bySeq(hits.map((h) => h.seq));
    const out: SearchHit[] = [];
    for (const h of hits.sort((a, b) => a.score - b.score || b.seq - a.seq)) {
      const m = bySeq.get(h.seq);
      if (!m || m.deletedAt !== null) continue;
      if (q.from !== undefined && m.senderId !== q.from) continue;
      if (q.before !== undefined && !(m.createdAt < q.before)) continue;
      if (q.after !== undefined && !(m.createdAt > q.after)) continue;
      if (q.hasFile && m.attachments.length === 0) continue;
      out.push({ message: m, snippet: snippet(m.text, compiled.terms), score: h.score });
      if (out.length >= Math.min(Math.max(q.limit, 1), 200)) break;
    }
    return out;
  }

  async receipts(caller: Caller): Promise<{ userId: string; seq: number }[]> {
    this.requireMember(caller.userId);
    return this.store.reads().filter((r) => this.members.has(r.userId));
  }

  /**
   * A send by a member of this node. It joins the link's queue (durable) and
   * goes home in order; the answer is the stored message when the home answers
   * within SEND_WAIT_MS, else `{queued}` — the message will be delivered once,
   * in order, when it can, and a refusal comes back to the sender.
   */
  async send(caller: Caller, input: SendInput): Promise<SendOutcome> {
    const submitted = await this.submit(caller, input);
    if (submitted.kind === "answered") return this.outcomeOf(submitted.result);
    if (submitted.kind === "queued-down") return { queued: true, clientId: input.clientId };
    const result = await new Promise<LinkSendResult | null>((resolve) => {
      this.waiting.set(submitted.key, resolve);
      setTimeout(() => resolve(null), SEND_WAIT_MS);
    });
    this.waiting.delete(submitted.key);
    return result ? this.outcomeOf(result) : { queued: true, clientId: input.clientId };
  }

  private outcomeOf(r: LinkSendResult): SendOutcome {
    if (r.ok) return { message: r.message, duplicate: r.duplicate };
    throw new AppError((r.code as "invalid_request") ?? "invalid_request", r.message);
  }

  private async submit(caller: Caller, input: SendInput): Promise<{ kind: "answered"; result: LinkSendResult } | { kind: "queued-up" | "queued-down"; key: string }> {
    this.requireMember(caller.userId);
    const key = `${caller.userId}|${caller.sessionId}|${input.clientId}`;
    const known = this.ctx.storage.sql.exec<{ state: string; result: string | null }>("SELECT state, result FROM sends WHERE client_key = ?", key).toArray()[0];
    if (known?.result) return { kind: "answered", result: JSON.parse(known.result) as LinkSendResult };
    const home = homeNode(this.roomId)!;
    const link = linkStub(this.env, home);
    if (known) {
      // Already queued: not again. Whether the link is up decides what to tell the client.
      const status = await link.getStatus(home);
      return { kind: status.state === "up" ? "queued-up" : "queued-down", key };
    }
    if (typeof input.text !== "string" || new TextEncoder().encode(input.text).length > limitsOf(this.env).maxTextBytes) {
      throw new AppError("too_large", `messages are limited to ${limitsOf(this.env).maxTextBytes} bytes`);
    }
    const item: LinkSendItem = { roomId: this.roomId, userId: caller.userId, sessionId: caller.sessionId, clientId: input.clientId, text: input.text, ...(input.replyTo ? { replyTo: input.replyTo } : {}), ...(input.attachments ? { attachments: input.attachments } : {}) };
    this.ctx.storage.sql.exec("INSERT INTO sends (client_key, state, result, at) VALUES (?, 'queued', NULL, ?) ON CONFLICT (client_key) DO NOTHING", key, Date.now());
    const state = await link.enqueueSends(home, [item]);
    return { kind: state === "up" ? "queued-up" : "queued-down", key };
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

  async checkMember(caller: Caller): Promise<void> {
    this.requireMember(caller.userId);
    throw new AppError("invalid_request", `files are shared in a room on its home node (${homeNode(this.roomId)}); this node cannot take uploads for it yet`);
  }

  async fileForDownload(): Promise<null> {
    // Files stay on the room's home node; downloading them through the link is not built yet.
    return null;
  }

  async closeSessions(sessionIds: string[], reason = "session revoked"): Promise<number> {
    let n = 0;
    for (const id of sessionIds) for (const ws of this.ctx.getWebSockets(`s:${id}`)) n += safeClose(ws, CLOSE.policy, reason);
    this.fanout.invalidate();
    return n;
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
    const caller = callerFromHeaders(request.headers);
    if (!caller) return Response.json({ error: { code: "unauthorized", message: "not signed in" } }, { status: 401 });
    if (!this.state?.room || !this.members.has(caller.userId)) return Response.json({ error: { code: "not_found", message: "no such room, or you may not see it" } }, { status: 404 });
    const pair = new WebSocketPair();
    const server = pair[1];
    const params = new URL(request.url).searchParams;
    this.ctx.acceptWebSocket(server, [`u:${caller.userId}`, `s:${caller.sessionId}`, params.get("batch") === "1" ? BATCHED : PLAIN]);
    server.serializeAttachment({ userId: caller.userId, sessionId: caller.sessionId, username: caller.username, displayName: caller.displayName });
    this.fanout.invalidate();
    this.sendTo(server, { type: "hello", room: this.view(caller.userId), userId: caller.userId, lastSeq: this.state.lastSeq, version: this.state.version });
    const after = params.get("afterSeq");
    if (after !== null && /^\d{1,15}$/.test(after)) await this.sendSync(server, caller, Number(after), undefined);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  private userOf(ws: WebSocket): string | null {
    return (ws.deserializeAttachment() as { userId?: string } | null)?.userId ?? null;
  }

  private callerOf(ws: WebSocket): Caller | null {
    const a = ws.deserializeAttachment() as { userId: string; sessionId: string; username: string; displayName: string } | null;
    return a ? { ...a, isAdmin: false } : null;
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const limit = limitsOf(this.env).maxFrameBytes;
    if (frameBytes(raw, limit) > limit) {
      safeClose(ws, CLOSE.too_big, `frames are limited to ${limit} bytes`);
      return;
    }
    const caller = this.callerOf(ws);
    if (!caller || !this.members.has(caller.userId)) {
      safeClose(ws, CLOSE.policy, "not a member of this room");
      return;
    }
    const parsed = parseClientRoomFrame(raw);
    if (!parsed.ok) {
      this.sendTo(ws, { type: "error", code: parsed.code, message: parsed.message, ...(parsed.replyTo ? { replyTo: parsed.replyTo } : {}) });
      return;
    }
    const frame = parsed.frame;
    try {
      await this.handleFrame(ws, caller, frame);
    } catch (err) {
      const code = (err as AppError).code ?? "internal";
      const replyTo = frame.type === "msg.send" ? frame.clientId : frame.reqId;
      this.sendTo(ws, { type: "error", code, message: (err as AppError).detail ?? "internal error", ...(replyTo ? { replyTo } : {}) });
    }
  }

  private async handleFrame(ws: WebSocket, caller: Caller, frame: ClientRoomFrame): Promise<void> {
    switch (frame.type) {
      case "msg.send": {
        const submitted = await this.submit(caller, frame);
        if (submitted.kind === "answered") this.sendTo(ws, this.answerFrame(submitted.result));
        else if (submitted.kind === "queued-down") this.sendTo(ws, { type: "msg.queued", clientId: frame.clientId });
        // queued-up: the ack comes when the home answers (sendResults).
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
        this.sendTo(ws, { type: "pong" });
        return;
      case "typing":
        void callHome(this.env, this.roomId, "typing", caller, []).catch(() => {});
        return;
      case "read":
        await this.markRead(caller, frame.seq);
        break;
    }
    if (frame.reqId) this.sendTo(ws, { type: "ok", replyTo: frame.reqId });
  }

  private async sendSync(ws: WebSocket, caller: Caller, afterSeq: number, afterVersion: number | undefined, reqId?: string): Promise<void> {
    const s = this.state!;
    const base = { type: "sync" as const, lastSeq: s.lastSeq, version: s.version, ...(reqId ? { replyTo: reqId } : {}) };
    let messages: Message[];
    if (this.homeOnly) {
      const page = await this.history(caller, { after: Math.min(afterSeq, s.lastSeq), limit: 100 });
      if (page.hasMore) return this.sendTo(ws, { ...base, messages: [], tooFarBehind: true });
      messages = page.messages;
    } else if (afterVersion !== undefined && afterVersion <= s.version) {
      messages = this.store.changedSince(afterVersion, SYNC_LIMIT + 1);
    } else {
      const page = this.store.page({ after: Math.min(afterSeq, s.lastSeq), limit: SYNC_LIMIT });
      if (page.hasMore) return this.sendTo(ws, { ...base, messages: [], tooFarBehind: true });
      messages = page.messages;
    }
    if (messages.length > SYNC_LIMIT) return this.sendTo(ws, { ...base, messages: [], tooFarBehind: true });
    this.sendTo(ws, { ...base, messages, tooFarBehind: false });
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    this.fanout.invalidate();
    closeBack(ws, code);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.fanout.invalidate();
    closeOnError(ws);
  }

  private broadcast(frame: ServerRoomFrame): void {
    this.fanout.broadcast(JSON.stringify(frame));
  }

  private sendTo(ws: WebSocket, frame: ServerRoomFrame): void {
    this.fanout.sendTo(ws, JSON.stringify(frame));
  }
}
