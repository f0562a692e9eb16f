/**
 * The ordered offline send queue. Messages written while the node is out of
 * reach wait here (in localStorage when there is one, so a reload keeps them)
 * and are sent one at a time, in the order they were written. Each keeps the
 * `clientId` it was given when queued, across retries, reconnects and reloads:
 * the node stores a clientId once per session, so a retry after a lost ack can
 * never create a second message.
 *
 * @example
 *   const queue = new SendQueue({ transport: (m) => api.send(m.roomId, m).then((x) => ({ id: x.id, seq: x.seq })) });
 *   const { done } = queue.enqueue(roomId, "hello");
 *   await done; // acknowledged: on the node's disk
 */
import { backoffDelay, type BackoffOptions } from "./backoff";
import { OutpostApiError } from "./errors";

export interface QueuedMessage {
  clientId: string;
  roomId: string;
  text: string;
  replyTo?: string;
  /** ids of files uploaded into the room beforehand (OutpostClient.uploadFile) */
  attachments?: string[];
  queuedAt: number;
  /**
   * The user's node has it in its durable queue for the room's home node, which
   * it cannot reach now (`msg.queued`, REST 202): it will be delivered once, in
   * order, when the link returns. Still pending here until its ack arrives
   * (settle), but it no longer holds back the messages written after it.
   */
  atNode?: boolean;
}
export interface SendAck {
  id: string;
  seq: number;
}
/** The node took the message into its link queue (a room homed on a node it cannot reach now). */
export interface QueuedAtNode {
  queued: true;
}
/** Delivers one message; resolves with the node's ack (or its `queued`). Throw `PermanentSendError` (or a non-retryable OutpostApiError) to give up on it. */
export type SendTransport = (m: QueuedMessage) => Promise<SendAck | QueuedAtNode>;

/** The node refused this message for good (too long, no longer a member…): retrying cannot help. */
export class PermanentSendError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = "PermanentSendError";
  }
}

/**
 * The node refused this message for now because its sender is over their
 * message budget: send the same message again (same clientId) after
 * `retryAfterMs`. REST says the same with an `OutpostApiError` carrying
 * `retryAfterMs`.
 */
export class RateLimitedError extends Error {
  readonly code = "rate_limited";
  constructor(readonly retryAfterMs: number, message: string) {
    super(message);
    this.name = "RateLimitedError";
  }
}

/** How long the node asked us to wait before trying again, when it said (a rate-limited send). */
function retryAfterOf(err: unknown): number | undefined {
  if (err instanceof RateLimitedError) return err.retryAfterMs;
  if (err instanceof OutpostApiError && err.status === 429) return err.retryAfterMs;
  return undefined;
}

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface SendQueueOptions {
  transport: SendTransport;
  /** default: globalThis.localStorage when present; `null` keeps the queue in memory only */
  storage?: StorageLike | null;
  storageKey?: string;
  backoff?: BackoffOptions;
  /** clientId factory (default: time + random) */
  newClientId?: () => string;
}

let counter = 0;
export function newClientId(): string {
  const rand = Math.random().toString(36).slice(2, 10);
  return `c-${Date.now().toString(36)}-${(counter++).toString(36)}-${rand}`;
}

function isPermanent(err: unknown): boolean {
  if (err instanceof PermanentSendError) return true;
  if (err instanceof OutpostApiError) return !err.retryable && err.status !== 401;
  return false;
}

export class SendQueue {
  private items: QueuedMessage[] = [];
  private readonly waiters = new Map<string, { resolve: (a: SendAck) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Set<(event: { kind: "change" } | { kind: "queued"; message: QueuedMessage } | { kind: "sent"; message: QueuedMessage; ack: SendAck } | { kind: "failed"; message: QueuedMessage; error: Error }) => void>();
  private running = false;
  private wake: (() => void) | null = null;
  private attempt = 0;
  private readonly storage: StorageLike | null;
  private readonly key: string;

  constructor(private readonly options: SendQueueOptions) {
    this.storage = options.storage === undefined ? defaultStorage() : options.storage;
    this.key = options.storageKey ?? "outpost.sendQueue.v1";
    this.items = this.load();
    // Left over from the last run (a reload while offline): send them first.
    if (this.items.length) queueMicrotask(() => void this.run());
  }

  /** Queue a message (text may be "" when it carries attachments); `done` resolves when the node acknowledged it. */
  enqueue(roomId: string, text: string, replyTo?: string, attachments?: string[]): { message: QueuedMessage; done: Promise<SendAck> } {
    const message: QueuedMessage = {
      clientId: (this.options.newClientId ?? newClientId)(),
      roomId,
      text,
      queuedAt: Date.now(),
      ...(replyTo ? { replyTo } : {}),
      ...(attachments?.length ? { attachments: [...attachments] } : {}),
    };
    this.items.push(message);
    this.save();
    const done = new Promise<SendAck>((resolve, reject) => this.waiters.set(message.clientId, { resolve, reject }));
    done.catch(() => {}); // a caller that does not await must not cause an unhandled rejection
    this.emit({ kind: "change" });
    this.run();
    return { message, done };
  }

  /** Messages not yet acknowledged, oldest first (optionally of one room). */
  pending(roomId?: string): QueuedMessage[] {
    return roomId ? this.items.filter((m) => m.roomId === roomId) : [...this.items];
  }

  /**
   * A message the node had queued for another node was delivered (its `msg.ack`,
   * or its echo, arrived on a room socket): it leaves the queue as sent.
   */
  settle(clientId: string, ack: SendAck): void {
    const m = this.items.find((x) => x.clientId === clientId && x.atNode);
    if (!m) return;
    this.finish(m);
    this.waiters.get(clientId)?.resolve(ack);
    this.waiters.delete(clientId);
    this.emit({ kind: "sent", message: m, ack });
  }

  /** The room's home refused a message the node had queued for it: it fails with the reason. */
  refuse(clientId: string, error: Error): void {
    const m = this.items.find((x) => x.clientId === clientId && x.atNode);
    if (!m) return;
    this.finish(m);
    this.waiters.get(clientId)?.reject(error);
    this.waiters.delete(clientId);
    this.emit({ kind: "failed", message: m, error });
  }

  /** Try now instead of waiting out the backoff (a socket reopened, the browser came online). */
  kick(): void {
    this.attempt = 0;
    // Ask again about messages the node had queued (same clientId: nothing is stored twice);
    // the answer is their ack if they were delivered meanwhile.
    for (const m of this.items) if (m.atNode) m.atNode = false;
    this.wake?.();
    this.run();
  }

  on(fn: (event: { kind: "change" } | { kind: "queued"; message: QueuedMessage } | { kind: "sent"; message: QueuedMessage; ack: SendAck } | { kind: "failed"; message: QueuedMessage; error: Error }) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Resolves when the queue is empty (for tests and shutdown). */
  async drained(): Promise<void> {
    while (this.items.length) await new Promise((r) => setTimeout(r, 10));
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let head = this.items.find((x) => !x.atNode); head; head = this.items.find((x) => !x.atNode)) {
        try {
          const ack = await this.options.transport(head);
          if ("queued" in ack) {
            // Durable at the node, in its order: the next message may go.
            head.atNode = true;
            this.save();
            this.attempt = 0;
            this.emit({ kind: "queued", message: head });
            continue;
          }
          this.finish(head);
          this.attempt = 0;
          this.waiters.get(head.clientId)?.resolve(ack);
          this.waiters.delete(head.clientId);
          this.emit({ kind: "sent", message: head, ack });
        } catch (err) {
          if (isPermanent(err)) {
            this.finish(head);
            const error = err as Error;
            this.waiters.get(head.clientId)?.reject(error);
            this.waiters.delete(head.clientId);
            this.emit({ kind: "failed", message: head, error });
            continue;
          }
          // Retry the same message (same clientId) later; nothing behind it may overtake it.
          // Rate-limited: exactly as long as the node said (the budget refills at a known
          // rate, so a longer backoff would only slow the queue below the allowed rate;
          // and it is no sign that the node is unwell, so the backoff does not grow).
          const delay = retryAfterOf(err) ?? backoffDelay(this.attempt++, this.options.backoff);
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, delay);
            this.wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
          this.wake = null;
        }
      }
    } finally {
      this.running = false;
    }
  }

  private finish(m: QueuedMessage): void {
    this.items = this.items.filter((x) => x.clientId !== m.clientId);
    this.save();
    this.emit({ kind: "change" });
  }

  private load(): QueuedMessage[] {
    if (!this.storage) return [];
    try {
      const raw = this.storage.getItem(this.key);
      const list: unknown = raw ? JSON.parse(raw) : [];
      return Array.isArray(list)
        ? list.filter(
            (m): m is QueuedMessage =>
              !!m && typeof m.clientId === "string" && typeof m.roomId === "string" && typeof m.text === "string" && (m.attachments === undefined || (Array.isArray(m.attachments) && m.attachments.every((a: unknown) => typeof a === "string"))),
          )
        : [];
    } catch {
      return [];
    }
  }

  private save(): void {
    try {
      this.storage?.setItem(this.key, JSON.stringify(this.items));
    } catch {
      // storage full or disabled: the queue still works in memory
    }
  }

  private emit(event: Parameters<Parameters<SendQueue["on"]>[0]>[0]): void {
    for (const fn of this.listeners) fn(event);
  }
}

function defaultStorage(): StorageLike | null {
  try {
    const s = (globalThis as { localStorage?: StorageLike }).localStorage;
    return s ?? null;
  } catch {
    return null; // access denied (e.g. storage disabled)
  }
}
