/**
 * The per-user message budget: a token bucket per user (refilled at
 * `messagesPerSecondPerUser`, holding at most `messageBurstPerUser`), across all
 * of the user's rooms and both send paths (REST and the room socket).
 *
 * Where it lives: in module state, shared by every RoomObject of the isolate.
 * Sends go straight from sockets to room objects (the Worker never sees a
 * frame), and asking one central object per message would put an RPC on the
 * hottest path of the node. Self-hosted workerd runs the Worker and all its
 * Durable Objects in one isolate, so on an Outpost node this is one budget per
 * user for the whole node (test/e2e/quotas.test.ts checks it on a real
 * `workerd serve`: two rooms, one user, one budget). Under Cloudflare's network
 * objects are spread over many isolates and machines: there the budget would
 * be per isolate — approximate, a user could get up to (isolates × limit) —
 * which still bounds every single room.
 *
 * Cost per message: one Map lookup and a few arithmetic operations, no I/O,
 * no allocation (a record is created only for a user's first message after
 * their bucket was dropped). Nothing is persisted: a restart refills everyone,
 * which is harmless. JavaScript runs one event at a time in an isolate, so a
 * check and the spend that follows it in the same synchronous run cannot
 * interleave with another room's.
 *
 * @example
 *   const wait = sendWaitMs(userId, limits, now); // 0: may send now
 *   if (wait > 0) throw rateLimited("…", wait);
 *   // … store the message …
 *   spendSend(userId, limits, now);               // only for a message really stored
 */
import { rateLimited } from "../shared/app-error";

export interface SendLimits {
  /** tokens added per second; 0 turns the budget off */
  messagesPerSecondPerUser: number;
  /** the bucket's size; 0 turns the budget off (an unbounded bucket never runs dry) */
  messageBurstPerUser: number;
}

interface Bucket {
  tokens: number;
  /** when `tokens` was last brought up to date (ms) */
  at: number;
}

const buckets = new Map<string, Bucket>();
/** Idle users' buckets are full and carry no information: dropped when the map grows past this. */
const PRUNE_FLOOR = 10_000;
let pruneAt = PRUNE_FLOOR;

const off = (l: SendLimits) => l.messagesPerSecondPerUser <= 0 || l.messageBurstPerUser <= 0;

function refill(b: Bucket, l: SendLimits, now: number): void {
  if (now <= b.at) return; // the clock never runs backwards for a bucket
  b.tokens = Math.min(l.messageBurstPerUser, b.tokens + ((now - b.at) * l.messagesPerSecondPerUser) / 1000);
  b.at = now;
}

/** 0 when `userId` may send a message now; otherwise how many ms until one more is allowed. Takes nothing. */
export function sendWaitMs(userId: string, l: SendLimits, now: number): number {
  if (off(l)) return 0;
  const b = buckets.get(userId);
  if (b === undefined) return 0; // a fresh (or dropped, hence full) bucket
  refill(b, l, now);
  return b.tokens >= 1 ? 0 : Math.ceil(((1 - b.tokens) * 1000) / l.messagesPerSecondPerUser);
}

/** Count one stored message against `userId` (after `sendWaitMs` said 0, in the same synchronous run). */
export function spendSend(userId: string, l: SendLimits, now: number): void {
  if (off(l)) return;
  const b = buckets.get(userId);
  if (b !== undefined) {
    refill(b, l, now);
    b.tokens -= 1;
    return;
  }
  if (buckets.size >= pruneAt) prune(l, now);
  buckets.set(userId, { tokens: l.messageBurstPerUser - 1, at: now });
}

/**
 * Give back the one message `spendSend` took for a send that was not stored
 * after all (a home-only room's send that its home refused or answered as a
 * duplicate, or could not be asked: mirror/live-sends.ts). Never above the bucket's size.
 */
export function refundSend(userId: string, l: SendLimits, now: number): void {
  if (off(l)) return;
  const b = buckets.get(userId);
  if (b === undefined) return; // dropped, hence full
  refill(b, l, now);
  b.tokens = Math.min(l.messageBurstPerUser, b.tokens + 1);
}

/** A send refused by the budget: REST answers 429 + Retry-After, the room socket an `error` frame with `retryAfterMs`. */
export function refuseSend(l: SendLimits, waitMs: number): never {
  throw rateLimited(
    `sending too fast: at most ${l.messagesPerSecondPerUser} messages a second (${l.messageBurstPerUser} at once); send it again in ${Math.ceil(waitMs)} ms`,
    waitMs,
  );
}

/**
 * Drop the buckets that have refilled (their users count as fresh again).
 * The next sweep waits until the map has doubled, so a node with many
 * active senders does not sweep on every new one (amortised O(1)).
 */
function prune(l: SendLimits, now: number): void {
  for (const [userId, b] of buckets) {
    refill(b, l, now);
    if (b.tokens >= l.messageBurstPerUser) buckets.delete(userId);
  }
  pruneAt = Math.max(PRUNE_FLOOR, buckets.size * 2);
}
