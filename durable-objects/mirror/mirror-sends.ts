/**
 * Sends of this node's members into a room homed elsewhere, remembered here by
 * their idempotency key (sender + session + clientId; send-records.ts keeps
 * the records), so a client repeating one hears the same outcome and nothing
 * goes twice: `queued` until the home answers, then `stored` (the message) or
 * `refused` (the reason).
 *
 * Two ways home, both in order. On the room's channel when the home takes sends
 * there (shared/link-channel.ts): one frame each way, this row the send's
 * durable record (with the send itself) until the home answers. Otherwise on
 * the link's ordered queue (link/send-queue.ts): durable there, delivered in
 * batches by signed requests, however long the link is down.
 *
 * Order across the two: a send goes on the channel only when no send of this
 * room is on the queue unanswered (or being handed to it), so it can never
 * overtake one there. While one is, a send meant for the channel is held
 * (written, not sent) and goes when the queue's last answer comes: under a
 * steady stream of sends the queue would otherwise never empty, and the room
 * would never leave it for the channel. A channel send that is not answered — the channel
 * closed, was replaced, stopped taking sends (a passing fault at the home), or
 * gave no answer within SEND_WAIT_MS (the alarm checks, and finds the rows
 * after a restart too) — is handed to the queue with every later channel send,
 * in order, in one call; later sends follow them there. The home stores each
 * send once (its key), so one that arrives both ways is stored at the first;
 * and since each way is in order and carries the same sends in the same order,
 * what is stored first is in order too.
 *
 * A channel send's record, and every answer, is written with the others of a
 * short moment (send-records.ts): the frame leaves without waiting for a
 * commit. Everything is written before a sender is told "queued". A crash in
 * that moment loses only records of sends nobody was told anything about:
 * their clients repeat them, and the home keeps each once.
 *
 * A repeat of an answered send is answered with the message as the copy has
 * it now (records keep no text); one whose message the copy does not have
 * (retention removed it, or its push is on its way) goes home again, as does
 * a repeat after its record went: the home keeps every message's key.
 */
import type { Env, Limits } from "../shared/env";
import { AppError } from "../shared/app-error";
import { limitsOf } from "../shared/env";
import { linkStub } from "../shared/objects";
import { sendKey } from "../link/send-queue";
import { refuseSend, sendWaitMs, spendSend } from "../room/send-budget";
import type { Caller } from "../shared/identity";
import type { ServerRoomFrame } from "../../protocol/frames";
import type { LinkSendItem, LinkSendResult, LinkState } from "../../protocol/cluster";
import { errorText, log } from "../shared/log";
import type { Message } from "../../protocol/models";
import { homeNode } from "../../protocol/ids";
import type { MirrorSockets } from "./mirror-sockets";
import { SendRecords } from "./send-records";

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
/** `repeat`: the client sent this clientId before (its answer, when it comes, is a duplicate's) */
export type Submitted = { kind: "answered"; result: LinkSendResult } | { kind: "queued-up" | "queued-down"; key: string; repeat: boolean };

/** The room's channel from its home, as far as sends go (link-socket.ts). */
export interface SendChannel {
  /** a channel is open whose home takes sends on it */
  canSend(): boolean;
  /** send one (numbered, MAC'd), after the ones before it */
  send(item: LinkSendItem): void;
}

export class MirrorSends {
  /** REST sends waiting for the home's answer, by idempotency key */
  private waiting = new Map<string, (r: LinkSendResult) => void>();
  /** socket sends waiting for the home's answer, by idempotency key: the timer that says `msg.queued` */
  private socketWaits = new Map<string, ReturnType<typeof setTimeout>>();
  /** hand-overs to the link's queue, one after another (each its own call: none may overtake another) */
  private handing: Promise<unknown> = Promise.resolve();
  /** hand-overs not yet done: while any, a send goes to the queue as well */
  private handingCount = 0;
  /** whether a send of this room is on the link's queue unanswered; null: look at the table */
  private onQueue: boolean | null = null;
  /** the check alarm is set (this isolate's knowledge: set again after a wake, which costs nothing wrong) */
  private checkArmed = false;
  /** channel sends written but not sent: they wait for the queue to empty (their rows say `channel`, so a check hands them over too) */
  private held: LinkSendItem[] = [];
  /**
   * When each once-held send went on the channel, by key: its SEND_WAIT_MS
   * counts from then, not from its record. A send waits for the queue while
   * held, however long that takes (a slow link, a cut); handing it to the
   * queue meanwhile would only send it twice. (Lost with the isolate: after a
   * restart the record's time counts, and the check hands it over, as it should.)
   */
  private releasedAt = new Map<string, number>();
  private readonly records: SendRecords;

  constructor(
    private readonly env: Env,
    sql: SqlStorage,
    transaction: <T>(fn: () => T) => T,
    private readonly sockets: MirrorSockets,
    private readonly channel: () => SendChannel,
    private readonly setAlarm: (at: number) => void,
    /** limits.mirrorWriteDelayMs: how long records wait to be written together (0: at once) */
    writeDelayMs: number,
    /** the copy's message, as it is now (null: the copy does not have it) */
    private readonly message: (id: string) => Message | null,
  ) {
    this.records = new SendRecords(sql, transaction, writeDelayMs);
  }

  /**
   * A REST send: the stored message when the home answers within
   * SEND_WAIT_MS, else `{queued}` — delivered once, in order, when it can; a
   * refusal then comes back to the sender's sockets and to a repeat.
   */
  async send(roomId: string, caller: Caller, input: SendInput): Promise<SendOutcome> {
    const submitted = await this.submit(roomId, caller, input);
    if (submitted.kind === "answered") return outcomeOf(submitted.result);
    if (submitted.kind === "queued-down") {
      this.records.flush();
      return { queued: true, clientId: input.clientId };
    }
    const result = await new Promise<LinkSendResult | null>((resolve) => {
      this.waiting.set(submitted.key, resolve);
      setTimeout(() => resolve(null), SEND_WAIT_MS);
    });
    this.waiting.delete(submitted.key);
    if (!result) this.records.flush(); // on disk before the sender hears "queued"
    return result ? outcomeOf(submitted.repeat ? asRepeat(result) : result) : { queued: true, clientId: input.clientId };
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
        this.records.flush(); // on disk before the sender hears "queued"
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
    let known = this.records.lookup(key);
    /** a repeat of a send the home stored, whose message the copy does not have (retention removed it, or its push is on its way): the home answers it again */
    let resent = false;
    if (known?.answer) {
      // A repeat of a send the home answered: that answer, a stored message now a duplicate (as the home says of a repeat).
      const result = known.recorded ? this.answerOf(known.answer) : known.answer;
      if (result) return { kind: "answered", result: asRepeat(result) };
      this.records.drop(key);
      known = null;
      resent = true;
    }
    // On the channel still: its answer comes, or it is handed to the queue (and then sent again from the row).
    if (known && known.answer === null && known.via === "channel") return { kind: "queued-up", key, repeat: true };
    const limits = limitsOf(this.env);
    checkText(limits, input);
    if (!known && !resent) {
      // The sender's message budget is this node's to keep (its own people): the home
      // does not count queued messages again when they arrive in a burst after a cut.
      // A repeat is the same message: it is not charged again.
      const wait = sendWaitMs(caller.userId, limits, Date.now());
      if (wait > 0) refuseSend(limits, wait);
    }
    const item = sendItem(roomId, caller, input);
    // The channel carries only this node's own people (a visitor's session is checked by the queue's endpoint).
    const viaChannel = !known && homeNode(caller.userId) === this.env.NODE_NAME && this.channel().canSend();
    if (!known) {
      if (viaChannel) this.records.addChannel(key, item);
      else this.records.addQueued(key); // before the queue has it: an answer from the queue finds its record
      if (!resent) spendSend(caller.userId, limits, Date.now());
    }
    if (viaChannel) {
      if (this.held.length || this.queueBusy()) this.held.push(item);
      else this.channel().send(item);
      this.armCheck();
      return { kind: "queued-up", key, repeat: false };
    }
    const state = await this.toQueue([item]);
    return { kind: state === "up" ? "queued-up" : "queued-down", key, repeat: !!known };
  }

  /** A recorded answer, with the message as the copy has it now; null if the copy does not have it. */
  private answerOf(r: LinkSendResult): LinkSendResult | null {
    if (!r.ok) return r;
    const message = this.message(r.message.id);
    return message ? { ...r, message } : null;
  }

  /** Is a send of this room on the link's queue, unanswered, or on its way there? */
  private queueBusy(): boolean {
    if (this.handingCount > 0) return true;
    this.onQueue ??= this.records.anyOnQueue();
    return this.onQueue;
  }

  /** Hand sends to the link's queue, after every hand-over before (durable there when this resolves). */
  private toQueue(items: LinkSendItem[]): Promise<LinkState> {
    const home = homeNode(items[0].roomId)!;
    this.handingCount++;
    this.onQueue = true;
    const done = this.handing.then(() => linkStub(this.env, home).enqueueSends(home, items));
    this.handing = done.catch(() => {});
    return done.finally(() => this.handingCount--);
  }

  /**
   * Hand every channel send not answered yet to the link's queue, in the order
   * they were made (see the top of this file for why all of them). Their rows
   * say `queue` once the queue has them; a failed hand-over leaves them for the
   * next check.
   */
  handOver(why: string): void {
    this.held = [];
    this.releasedAt.clear();
    const rows = this.records.waitingOnChannel();
    if (rows.length === 0) return;
    log("warn", "mirror.sends_handed_over", { count: rows.length, why });
    const items = rows.flatMap((r) => (r.item ? [r.item] : []));
    this.records.movedToQueue(rows.map((r) => r.key));
    if (items.length) this.toQueue(items).catch((err) => {
      // The queue is this node's own object: this is a fault, not a cut. The sends' clients hear no ack and repeat them.
      log("error", "mirror.hand_over_failed", { count: items.length, error: errorText(err) });
    });
  }

  /**
   * The alarm: channel sends unanswered SEND_WAIT_MS after they went on the
   * channel (or left by a restart) go to the queue. Held sends are not on the
   * channel yet: they wait for the queue to empty, and the alarm keeps coming
   * while they do (so that a restart meanwhile finds them).
   */
  check(): void {
    this.checkArmed = false;
    const held = new Set(this.held.map(sendKey));
    let oldest: number | null = null;
    for (const r of this.records.waitingOnChannel()) {
      if (held.has(r.key)) continue;
      const since = this.releasedAt.get(r.key) ?? r.at;
      if (oldest === null || since < oldest) oldest = since;
    }
    if (oldest !== null && Date.now() - oldest >= SEND_WAIT_MS) return this.handOver("no answer on the channel");
    if (oldest !== null) this.armCheck(oldest + SEND_WAIT_MS);
    else if (held.size) this.armCheck();
  }

  private armCheck(at = Date.now() + SEND_WAIT_MS): void {
    if (this.checkArmed) return;
    this.checkArmed = true;
    this.setAlarm(at);
  }

  /** Forget `userId`'s sends (they are being erased): the text of those still waiting, and which messages the others became. */
  forget(userId: string): void {
    this.held = this.held.filter((i) => i.userId !== userId);
    this.records.forgetUser(userId);
  }

  /**
   * The home answered these sends (by the queue, or on the channel): remember,
   * and tell the senders. A send answered both ways is told once.
   */
  results(results: LinkSendResult[], from: "queue" | "channel"): void {
    const fresh = this.records.answered(results, sendKey);
    // What the queue answered may have been the last on it: the channel carries sends again, the held ones first.
    if (from === "queue") {
      this.onQueue = null;
      if (this.held.length && !this.queueBusy()) {
        const now = Date.now();
        for (const item of this.held.splice(0)) {
          this.releasedAt.set(sendKey(item), now);
          this.channel().send(item);
        }
      }
    }
    for (const r of results) this.releasedAt.delete(sendKey(r));
    for (const r of fresh) {
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

/** A send's text within the node's limit (the home checks again). */
export function checkText(limits: Limits, input: SendInput): void {
  if (typeof input.text !== "string" || new TextEncoder().encode(input.text).length > limits.maxTextBytes) throw new AppError("too_large", `messages are limited to ${limits.maxTextBytes} bytes`);
}

/** A member's send as it goes home. */
export function sendItem(roomId: string, caller: Caller, input: SendInput): LinkSendItem {
  return { roomId, userId: caller.userId, sessionId: caller.sessionId, clientId: input.clientId, text: input.text, ...(input.replyTo ? { replyTo: input.replyTo } : {}), ...(input.attachments ? { attachments: input.attachments } : {}) };
}

function asRepeat(r: LinkSendResult): LinkSendResult {
  return r.ok ? { ...r, duplicate: true } : r;
}

export function outcomeOf(r: LinkSendResult): SendOutcome {
  if (r.ok) return { message: r.message as Message, duplicate: r.duplicate };
  throw new AppError((r.code as "invalid_request") ?? "invalid_request", r.message);
}
