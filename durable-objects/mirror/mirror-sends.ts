/**
 * Sends of this node's members into a room homed elsewhere. Each joins the
 * link's ordered queue to the home (link/send-queue.ts) and is remembered here
 * by its idempotency key (sender + session + clientId), so a client repeating
 * it hears the same outcome and nothing is queued twice: `queued` until the
 * home answers, then `stored` (the message) or `refused` (the reason).
 */
import type { Env } from "../shared/env";
import { AppError } from "../shared/app-error";
import { limitsOf } from "../shared/env";
import { linkStub } from "../shared/objects";
import { sendKey } from "../link/send-queue";
import { refuseSend, sendWaitMs, spendSend } from "../room/send-budget";
import type { Caller } from "../shared/identity";
import type { ServerRoomFrame } from "../../protocol/frames";
import type { LinkSendItem, LinkSendResult } from "../../protocol/cluster";
import type { Message } from "../../protocol/models";
import { homeNode } from "../../protocol/ids";
import type { MirrorSockets } from "./mirror-sockets";

/**
 * How long a send waits for the home's answer before its sender is told it is
 * queued: REST answers 202, a socket gets `msg.queued` (the ack follows when
 * the link returns). A send made in the first seconds of a cut, before the
 * link counts as down, would otherwise hear nothing until the heal.
 */
const SEND_WAIT_MS = 3000;

export interface SendInput {
  clientId: string;
  text: string;
  replyTo?: string;
  attachments?: string[];
}

export type SendOutcome = { message: Message; duplicate: boolean } | { queued: true; clientId: string };
export type Submitted = { kind: "answered"; result: LinkSendResult } | { kind: "queued-up" | "queued-down"; key: string };

export class MirrorSends {
  /** REST sends waiting for the home's answer, by idempotency key */
  private waiting = new Map<string, (r: LinkSendResult) => void>();
  /** socket sends waiting for the home's answer, by idempotency key: the timer that says `msg.queued` */
  private socketWaits = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(
    private readonly env: Env,
    private readonly sql: SqlStorage,
    private readonly transaction: <T>(fn: () => T) => T,
    private readonly sockets: MirrorSockets,
  ) {}

  /**
   * A REST send: the stored message when the home answers within
   * SEND_WAIT_MS, else `{queued}` — delivered once, in order, when it can; a
   * refusal then comes back to the sender's sockets and to a repeat.
   */
  async send(roomId: string, caller: Caller, input: SendInput): Promise<SendOutcome> {
    const submitted = await this.submit(roomId, caller, input);
    if (submitted.kind === "answered") return outcomeOf(submitted.result);
    if (submitted.kind === "queued-down") return { queued: true, clientId: input.clientId };
    const result = await new Promise<LinkSendResult | null>((resolve) => {
      this.waiting.set(submitted.key, resolve);
      setTimeout(() => resolve(null), SEND_WAIT_MS);
    });
    this.waiting.delete(submitted.key);
    return result ? outcomeOf(result) : { queued: true, clientId: input.clientId };
  }

  /**
   * A socket send was queued while the link counted as up: if the home has not
   * answered within SEND_WAIT_MS, `tell` the sender it is queued (as REST
   * answers 202). Its ack or refusal still comes when the home answers.
   */
  queuedOnSocket(key: string, tell: () => void): void {
    if (this.socketWaits.has(key)) return;
    this.socketWaits.set(
      key,
      setTimeout(() => {
        this.socketWaits.delete(key);
        tell();
      }, SEND_WAIT_MS),
    );
  }

  /**
   * Queue a send (durable before this returns), or answer a repeat with what is known.
   *
   * The mirror's `sends` row and the link's queue are two objects, two SQLite
   * files, two commits. A node killed between them can keep the row and lose
   * the queued item (the client never heard an answer, so it repeats). The row
   * therefore proves nothing about delivery: until the home's answer is in it,
   * every repeat hands the send to the link again, which queues it only if it
   * is not waiting there already (link-object.ts `enqueueSends`). Before, a
   * repeat trusted the row and answered "queued" for a send nothing would ever
   * deliver (test/cluster/send-crash.test.ts).
   */
  async submit(roomId: string, caller: Caller, input: SendInput): Promise<Submitted> {
    const key = sendKey({ userId: caller.userId, sessionId: caller.sessionId, clientId: input.clientId });
    const known = this.sql.exec<{ state: string; result: string | null }>("SELECT state, result FROM sends WHERE client_key = ?", key).toArray()[0];
    if (known?.result) return { kind: "answered", result: JSON.parse(known.result) as LinkSendResult };
    const home = homeNode(roomId)!;
    const link = linkStub(this.env, home);
    const limits = limitsOf(this.env);
    const max = limits.maxTextBytes;
    if (typeof input.text !== "string" || new TextEncoder().encode(input.text).length > max) throw new AppError("too_large", `messages are limited to ${max} bytes`);
    if (!known) {
      // The sender's message budget is this node's to keep (its own people): the home
      // does not count queued messages again when they arrive in a burst after a cut.
      // A repeat is the same message: it is not charged again.
      const wait = sendWaitMs(caller.userId, limits, Date.now());
      if (wait > 0) refuseSend(limits, wait);
      this.sql.exec("INSERT INTO sends (client_key, state, result, at) VALUES (?, 'queued', NULL, ?) ON CONFLICT (client_key) DO NOTHING", key, Date.now());
      spendSend(caller.userId, limits, Date.now());
    }
    const item: LinkSendItem = { roomId, userId: caller.userId, sessionId: caller.sessionId, clientId: input.clientId, text: input.text, ...(input.replyTo ? { replyTo: input.replyTo } : {}), ...(input.attachments ? { attachments: input.attachments } : {}) };
    const state = await link.enqueueSends(home, [item]);
    return { kind: state === "up" ? "queued-up" : "queued-down", key };
  }

  /** Forget `userId`'s sends (they are being erased): the home's answers kept here carry their text. */
  forget(userId: string): void {
    const prefix = `${userId}|`;
    this.sql.exec("DELETE FROM sends WHERE substr(client_key, 1, ?) = ?", prefix.length, prefix);
  }

  /** The link's queue delivered (or the home refused) these sends: remember, and tell the senders. */
  results(results: LinkSendResult[]): void {
    this.transaction(() => {
      for (const r of results) this.sql.exec("UPDATE sends SET state = ?, result = ?, at = ? WHERE client_key = ?", r.ok ? "stored" : "refused", JSON.stringify(r), Date.now(), `${r.userId}|${r.sessionId}|${r.clientId}`);
    });
    for (const r of results) {
      const key = sendKey(r);
      const timer = this.socketWaits.get(key);
      if (timer !== undefined) clearTimeout(timer);
      this.socketWaits.delete(key);
      const wake = this.waiting.get(key);
      if (wake) {
        this.waiting.delete(key);
        wake(r);
      }
      this.sockets.sendToSession(r.userId, r.sessionId, answerFrame(r));
    }
  }
}

export function answerFrame(r: LinkSendResult): ServerRoomFrame {
  return r.ok ? { type: "msg.ack", clientId: r.clientId, id: r.message.id, seq: r.message.seq, duplicate: r.duplicate } : { type: "error", code: r.code, message: r.message, replyTo: r.clientId };
}

function outcomeOf(r: LinkSendResult): SendOutcome {
  if (r.ok) return { message: r.message as Message, duplicate: r.duplicate };
  throw new AppError((r.code as "invalid_request") ?? "invalid_request", r.message);
}
